package status

import (
	"context"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status/gather"
)

// Gather builds the clients of the run and reads the report (pkg/status/gather
// reads, pkg/status decides). verify's chain step calls it too.
func Gather(ctx context.Context, f *cmdutil.Factory, o GatherOptions) (*status.Report, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	kc, err := f.Kube()
	if err != nil {
		return nil, err
	}
	ns := f.Namespace()
	return gather.Gather(ctx, gather.Clients{Dynamic: dyn, Kube: kc, AWS: awsClients(f)}, gather.Options{
		Namespace: ns, ClusterName: o.ClusterName, RoleName: o.RoleName, PolicyName: o.PolicyName,
		AssumeRole: o.AssumeRole, SetupCommand: setupCommand(ns, o),
	})
}

// awsClients builds the AWS clients once the cluster's region is known: the
// factory uses it when the user's configuration names none.
func awsClients(f *cmdutil.Factory) func(context.Context, string) (*awsclient.Clients, error) {
	return func(ctx context.Context, region string) (*awsclient.Clients, error) {
		f.SetClusterRegion(region)
		cfg, err := f.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		return awsclient.New(cfg), nil
	}
}

// setupCommand is the setup command for the same namespace and names, for fixes.
func setupCommand(ns string, o GatherOptions) string {
	args := []string{"kubectl oadp-sts setup --yes"}
	if ns != cmdutil.DefaultNamespace {
		args = append(args, "-n "+ns)
	}
	if o.ClusterName != "" {
		args = append(args, "--cluster-name "+o.ClusterName)
	}
	if o.RoleName != "" {
		args = append(args, "--role-name "+o.RoleName)
	}
	if o.PolicyName != "" && o.PolicyName != iam.DefaultPolicyName {
		args = append(args, "--policy-name "+o.PolicyName)
	}
	return strings.Join(args, " ")
}

// ReportRow reads the status report of a fleet's summary row after another
// verb ran on the cluster (setup, verify, cleanup): the names setup recorded,
// nothing assumed, and no TokenRequest.
func ReportRow(ctx context.Context, f *cmdutil.Factory) (*status.Report, error) {
	return Gather(ctx, f, GatherOptions{})
}
