// Package cleanup implements `kubectl oadp-sts cleanup`.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cleanup"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	statuscmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/facts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

var (
	long = templates.LongDesc(`
		Undo what setup made, in an order that never hangs on a finalizer: the
		workload namespaces named with --workload, schedules (so none makes a
		backup meanwhile), backups (through
		DeleteBackupRequests, so their data leaves the bucket) and restores, the
		DataProtectionApplication, the CloudStorage and its bucket (emptied first,
		every version and delete marker), the operator's Subscription, CSV and
		OperatorGroup, the velero.io and oadp.openshift.io CRDs, in AWS the role
		and the policy, then the namespace (kept while the role or policy is left
		behind, as it records their names for the next run).

		The role, policy, bucket and DPA are the ones setup recorded on the
		namespace, whatever names it was given; a flag naming others is refused.
		Only what is ours is deleted: cluster objects labelled
		app.kubernetes.io/managed-by=kubectl-oadp_sts, and AWS resources tagged
		oadp-sts.openshift.io/cluster-id with this cluster's ID. Anything else is
		listed as skipped with the reason; --force deletes it anyway. The policy is
		kept while another role, user or group still uses it.

		The plan is printed first; cleanup then asks for confirmation, or with no
		terminal proceeds only with --yes. Each wait on a deletion lasts at most
		--timeout before the plugin steps in (removing a finalizer, deleting the
		bucket itself) and says so. Running cleanup twice is safe.

		--dry-run (=client) prints the plan and deletes nothing; --dry-run=server
		also sends each Kubernetes deletion of the plan with dryRun=All and says
		what the API server would refuse (AWS has no dry run).

		With --context given more than once, --all-contexts or --contexts-matching,
		cleanup runs on each cluster at once (--parallel, 4 by default): on a
		terminal every cluster's plan is shown and one question asked for all.

		Exit codes: 0 everything in the plan is gone (or nothing was there); 1
		something was left behind (listed at the end) or could not be read; 5
		only deletions still running when --timeout ran out (a namespace still
		terminating: the cluster carries on, and cleanup run again finds it gone).
		Several clusters: the worst of theirs.`)

	example = templates.Examples(`
		# See what would be deleted
		kubectl oadp-sts cleanup --dry-run

		# Delete everything, including the chapter's hello-world workload
		kubectl oadp-sts cleanup --workload hello-world --yes

		# Remove the operator but keep the backups' bucket and IAM
		kubectl oadp-sts cleanup --keep-bucket --keep-iam --yes`)
)

// Options are cleanup's inputs.
type Options struct {
	Facts      facts.Flags
	RoleName   string
	PolicyName string
	Workloads  []string

	KeepBackups, KeepBucket, KeepOperator, KeepCRDs, KeepIAM bool
	Force, Yes                                               bool
	DryRun                                                   cmdutil.DryRun
	Timeout                                                  time.Duration
	Fleet                                                    fleetrun.Flags

	isTerminal func() bool
	factory    *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns the cleanup command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams, Timeout: 3 * time.Minute}
	cmd := &cobra.Command{
		Use:     "cleanup [--workload NAMESPACE]... [--yes]",
		Short:   "Delete everything setup made, and the backups (plan first)",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if o.Fleet.Fleet(f) {
				o.complete()
				return o.runFleet(cmd, statuscmd.ReportRow)
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Facts.ClusterName, "cluster-name", "", "the name setup used (default: the one it recorded, else the cluster's infrastructure name)")
	fs.StringVar(&o.Facts.ClusterID, "cluster-id", "", "the cluster ID our AWS tags must carry (default: read from ClusterVersion)")
	fs.StringVar(&o.Facts.AccountID, "account-id", "", "the AWS account (default: the caller's)")
	fs.StringVar(&o.RoleName, "role-name", "", "the IAM role setup made (default: the one it recorded, else <cluster-name>"+iam.RoleSuffix+")")
	fs.StringVar(&o.PolicyName, "policy-name", "", "the IAM policy setup made (default: the one it recorded, else "+iam.DefaultPolicyName+")")
	fs.StringSliceVar(&o.Workloads, "workload", nil, "application namespace to delete first (repeatable)")
	fs.BoolVar(&o.KeepBackups, "keep-backups", false, "keep Backup objects and their data, and the schedules")
	fs.BoolVar(&o.KeepBucket, "keep-bucket", false, "keep the S3 bucket (the CloudStorage is released without deleting it)")
	fs.BoolVar(&o.KeepOperator, "keep-operator", false, "keep the operator, its CRDs and the namespace")
	fs.BoolVar(&o.KeepCRDs, "keep-crds", false, "keep the velero.io and oadp.openshift.io CRDs")
	fs.BoolVar(&o.KeepIAM, "keep-iam", false, "keep the IAM role and policy")
	fs.BoolVar(&o.Force, "force", false, "also delete what lacks our label or tags")
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": print the plan and change nothing; server also sends each Kubernetes deletion with dryRun=All (AWS has no dry run)`)
	fs.BoolVarP(&o.Yes, "yes", "y", false, "delete without asking")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long each wait on a deletion may take before the plugin steps in")
	o.Fleet.AddFlags(cmd, f)
	return cmd
}

// Validate checks the flags before anything is read.
func (o *Options) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, not %s", o.Timeout)
	}
	if err := o.Fleet.Validate(o.factory); err != nil {
		return err
	}
	if o.PolicyName != "" {
		if err := iam.ValidatePolicyName(o.PolicyName, "check --policy-name"); err != nil {
			return err
		}
	}
	if o.RoleName != "" {
		return iam.ValidateRoleName(o.RoleName, "check --role-name")
	}
	return nil
}

// Run discovers, prints the plan, asks, and deletes.
func (o *Options) Run(ctx context.Context) error {
	o.complete()
	plan, clients, copts, clusterName, err := o.discover(ctx)
	if err != nil {
		return err
	}
	if plan.Empty() {
		plan.Print(o.ErrOut)
		fmt.Fprintln(o.ErrOut, "Nothing of ours to clean up.")
		return nil
	}
	fmt.Fprintf(o.ErrOut, "Cleanup plan (cluster %s, namespace %s):\n", clusterName, copts.Namespace)
	plan.Print(o.ErrOut)
	if o.DryRun == cmdutil.DryRunServer {
		r := &cleanup.Runner{Clients: clients, Options: copts, Out: o.ErrOut}
		if err := r.ServerDryRun(ctx, plan); err != nil {
			return err
		}
	}
	if o.DryRun.Any() {
		fmt.Fprintln(o.ErrOut, "Dry run: nothing was deleted. Run again without --dry-run to delete.")
		return nil
	}
	if !o.Yes {
		if !o.isTerminal() {
			return errors.New("refusing to delete without confirmation: no terminal to ask on; rerun with --yes, or --dry-run to only see the plan")
		}
		if !cmdutil.Confirm(o.In, o.ErrOut, "Delete all of the above?") {
			return errors.New("cleanup cancelled: nothing was deleted")
		}
	}
	r := &cleanup.Runner{Clients: clients, Options: copts, Out: o.ErrOut, Live: printer.IsTerminal(o.ErrOut)}
	if err := r.Run(ctx, plan); err != nil {
		return err
	}
	fmt.Fprintln(o.ErrOut, "Cleanup complete.")
	return nil
}

func (o *Options) complete() {
	if o.isTerminal == nil {
		o.isTerminal = func() bool { return printer.IsTerminal(o.In) }
	}
}

// discover resolves the names (flags, then setup's record, then defaults) and
// the facts they need, builds the clients, and reads the plan; it changes nothing.
func (o *Options) discover(ctx context.Context) (*cleanup.Plan, cleanup.Clients, cleanup.Options, string, error) {
	var none cleanup.Clients
	awsNeeded := !o.KeepIAM || !o.KeepBucket
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return nil, none, cleanup.Options{}, "", err
	}
	// The names setup recorded, before anything is read by name.
	names, err := record.Resolve(ctx, dyn, o.factory.Namespace(), record.Flags{ClusterName: o.Facts.ClusterName, RoleName: o.RoleName, PolicyName: o.PolicyName})
	if err != nil {
		return nil, none, cleanup.Options{}, "", err
	}
	if found := names.Found(); found != "" {
		fmt.Fprintf(o.ErrOut, "using what setup made: %s\n", found)
	}
	if o.RoleName == "" {
		o.RoleName = names.RoleName
	}
	if o.PolicyName == "" {
		o.PolicyName = names.PolicyName
	}
	if o.PolicyName == "" {
		o.PolicyName = iam.DefaultPolicyName
	}
	if o.Facts.ClusterName == "" {
		o.Facts.ClusterName = names.ClusterName
	}
	need := facts.ClusterID | facts.Region
	if o.RoleName == "" {
		need |= facts.ClusterName
	}
	if !o.KeepIAM {
		need |= facts.AccountID | facts.Partition
	}
	fc, err := facts.Resolve(ctx, o.factory, o.Facts, need)
	if err != nil {
		return nil, none, cleanup.Options{}, "", err
	}
	if o.RoleName == "" {
		o.RoleName = iam.DefaultRoleName(fc.Cluster.Name)
	}
	clients := cleanup.Clients{Kube: dyn}
	if awsNeeded {
		cfg, err := o.factory.AWSConfig(ctx)
		if err != nil {
			return nil, none, cleanup.Options{}, "", err
		}
		c := awsclient.New(cfg)
		if !o.KeepIAM {
			clients.IAM = c.IAM
		}
		clients.S3 = c.S3
	}
	copts := cleanup.Options{
		Namespace: o.factory.Namespace(), Workloads: o.Workloads, ClusterID: fc.Cluster.ID,
		KeepBackups: o.KeepBackups, KeepBucket: o.KeepBucket, KeepOperator: o.KeepOperator,
		KeepCRDs: o.KeepCRDs, KeepIAM: o.KeepIAM, Force: o.Force, Timeout: o.Timeout,
		RoleName: o.RoleName, PolicyName: o.PolicyName,
		PolicyARN:      iam.PolicyARN(fc.Identity.Partition, fc.Identity.AccountID, o.PolicyName),
		RecordedBucket: names.Bucket, RecordedBucketAdopted: names.BucketAdopted, RecordedBucketFrom: names.BucketFrom, Region: fc.Cluster.Region,
	}
	plan, err := cleanup.Discover(ctx, clients, copts)
	return plan, clients, copts, fc.Cluster.Name, err
}
