// Package facts resolves what a command needs to know about the cluster and
// the AWS caller: each fact from its flag when given, else discovered. When
// flags give every fact a command needs, nothing is read at all, so plans and
// documents can be produced offline.
//
// It owns the order of discovery (flags, cluster, then the AWS caller) and
// nothing else: it does not decide names (pkg/record), judge the STS chain
// (pkg/status) or build clients; it takes them as Clients.
package facts

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// Need is a set of facts a command needs.
type Need uint

const (
	ClusterName Need = 1 << iota
	ClusterID
	OIDCIssuer
	Region
	OpenShiftVersion
	AccountID
	Partition
	// ClusterChecks reads the cluster even when flags give every value, so
	// its STS configuration can be checked before anything is changed.
	ClusterChecks
)

const (
	clusterNeeds = ClusterName | ClusterID | OIDCIssuer | Region | OpenShiftVersion | ClusterChecks
	awsNeeds     = AccountID | Partition
)

// Flags override each fact.
type Flags struct {
	ClusterName      string
	ClusterID        string
	OIDCIssuer       string
	Region           string
	OpenShiftVersion string
	AccountID        string
	Partition        string
}

// AddFlags binds the fact flags.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.ClusterName, "cluster-name", f.ClusterName, "name used in IAM and bucket names (default: the cluster's infrastructure name)")
	fs.StringVar(&f.ClusterID, "cluster-id", f.ClusterID, "the cluster's ID (default: read from ClusterVersion spec.clusterID)")
	fs.StringVar(&f.OIDCIssuer, "oidc-issuer", f.OIDCIssuer, "the cluster's service-account issuer URL (default: read from Authentication spec.serviceAccountIssuer)")
	fs.StringVar(&f.Region, "region", f.Region, "the cluster's AWS region (default: read from Infrastructure status)")
	fs.StringVar(&f.OpenShiftVersion, "openshift-version", f.OpenShiftVersion, "the cluster's OpenShift version (default: read from ClusterVersion status)")
	fs.StringVar(&f.AccountID, "account-id", f.AccountID, "the AWS account ID (default: the caller's, from sts get-caller-identity)")
	fs.StringVar(&f.Partition, "partition", f.Partition, "the AWS partition: aws, aws-us-gov or aws-cn (default: the caller's, else the region's)")
}

// Facts are the resolved facts.
type Facts struct {
	Cluster  clusterfacts.Facts
	Identity awsfacts.Identity
	// ClusterRead and AWSRead say what was actually read: the STS checks can
	// only be made on a cluster that was read.
	ClusterRead bool
	AWSRead     bool
}

// Missing returns the needs the flags leave open.
func (fl *Flags) Missing(need Need) Need {
	var m Need
	has := func(n Need, v string) {
		if need&n != 0 && v == "" {
			m |= n
		}
	}
	has(ClusterName, fl.ClusterName)
	has(ClusterID, fl.ClusterID)
	has(OIDCIssuer, fl.OIDCIssuer)
	has(Region, fl.Region)
	has(OpenShiftVersion, fl.OpenShiftVersion)
	has(AccountID, fl.AccountID)
	// The partition follows from the region when the caller is not asked.
	if need&Partition != 0 && fl.Partition == "" && fl.AccountID == "" {
		m |= Partition
	}
	m |= need & ClusterChecks
	return m
}

// NotAWSError refuses AWS work on a cluster of another platform, before any
// AWS call: nothing in AWS can be that cluster's.
type NotAWSError struct{ Platform string }

func (e *NotAWSError) Error() string {
	p := e.Platform
	if p == "" {
		p = "no platform (Infrastructure cluster has no status.platformStatus.type)"
	}
	return fmt.Sprintf("this cluster is not an AWS STS cluster: it runs on %s, not AWS, so no AWS identity, OIDC provider or role is looked up; "+
		"the plugin sets up OADP for AWS STS only: use the OADP documentation for this platform, or point --context at an AWS cluster", p)
}

// Clients are what Resolve reads with. The command's Factory is one; a test
// can pass its own. Each is asked for only when a fact needs it, so a run
// whose flags give every fact builds no client at all.
type Clients interface {
	Dynamic() (dynamic.Interface, error)
	// SetClusterRegion tells the AWS side the cluster's region, for the
	// calls of the rest of the run when the user's configuration names none.
	SetClusterRegion(region string)
	AWSConfig(ctx context.Context) (aws.Config, error)
}

// Resolve returns the facts need asks for: flags first, then the cluster,
// then the AWS caller identity, each read only when a flag is missing. The
// cluster comes first because it decides the AWS side: its region is the AWS
// client's when the user's AWS configuration names none (GovCloud and China
// answer only in their own partition), and a cluster of another platform
// gets no AWS look-up at all.
func Resolve(ctx context.Context, f Clients, fl Flags, need Need) (*Facts, error) {
	missing := fl.Missing(need)
	out := &Facts{}
	if missing&clusterNeeds != 0 {
		dyn, err := f.Dynamic()
		if err != nil {
			return nil, err
		}
		cluster, err := clusterfacts.Discover(ctx, dyn, fl.ClusterName)
		if err != nil {
			return nil, err
		}
		out.Cluster = *cluster
		out.ClusterRead = true
	}
	region := fl.Region
	if region == "" {
		region = out.Cluster.Region
	}
	f.SetClusterRegion(region)
	if missing&awsNeeds != 0 {
		if out.ClusterRead && out.Cluster.Platform != "AWS" {
			return nil, &NotAWSError{Platform: out.Cluster.Platform}
		}
		cfg, err := f.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		if out.Identity, err = awsfacts.WhoAmI(ctx, awsclient.New(cfg).STS); err != nil {
			return nil, err
		}
		out.AWSRead = true
	}
	fl.apply(out)
	return out, nil
}

// apply lets each flag override its fact.
func (fl Flags) apply(out *Facts) {
	c := &out.Cluster
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Name, fl.ClusterName)
	set(&c.ID, fl.ClusterID)
	set(&c.OIDCIssuer, fl.OIDCIssuer)
	set(&c.Region, fl.Region)
	set(&c.Version, fl.OpenShiftVersion)
	set(&out.Identity.AccountID, fl.AccountID)
	set(&out.Identity.Partition, fl.Partition)
	if out.Identity.Partition == "" {
		out.Identity.Partition = iam.PartitionForRegion(c.Region)
	}
	if c.OIDCIssuer != "" && !out.ClusterRead {
		// Given by flag, the issuer is trusted to be the cluster's.
		c.STS = true
	}
}
