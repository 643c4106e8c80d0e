// Package setup implements `kubectl oadp-sts setup`: the IAM policy and role
// in AWS (aws.go), then the cluster side.
package setup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	statuscmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/facts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gitops"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/install"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

var (
	long = templates.LongDesc(`
		Set up OADP on an AWS STS cluster: the whole chapter in one command.

		In AWS: the S3 bucket (default CLUSTER_NAME-oadp) in the cluster's region,
		with Block Public Access, default encryption (SSE-S3, or SSE-KMS with
		--kms-key-arn), ownership tags and, with --bucket-versioning, versioning;
		an existing bucket is used only when this account owns it in that region,
		and is never deleted by cleanup. The IAM permissions policy scoped to that
		bucket (default CLUSTER_NAME-oadp-bucket) and the role the cluster's OIDC
		issuer may assume (default
		CLUSTER_NAME-openshift-oadp-aws-cloud-credentials), with the policy
		attached. With --cloudstorage the operator makes the bucket from a
		CloudStorage, as the chapter does (a Technology Preview), and the policy
		is the chapter's OadpVer1 on every bucket. In the cluster: the namespace, the cloud-credentials secret (or,
		on OpenShift 4.14+ when setup installs the operator, ROLEARN in the
		Subscription so the Cloud Credential Operator writes it), the OADP operator
		through OLM when it is not installed, and a
		DataProtectionApplication naming the bucket (or its CloudStorage) shaped for the installed OADP version (never the
		spec.features block OADP 1.3+ rejects). Then it waits for the operator, the
		DPA's Reconciled condition and the storage location to be Available.

		The Subscription asks for Manual approval (--approval=Automatic otherwise)
		and starts at the CSV of the OADP version setup writes the DPA for; setup
		approves that version's InstallPlan and no other, so an upgrade, which can
		need IAM actions the role lacks, waits until you approve it ('status'
		lists it). --data-mover runs the node agent for OADP's built-in Data Mover
		('backup --snapshot-move-data').

		Every step converges: what is missing is created, what drifted is put back,
		and each step reports created, updated/configured or unchanged. A second run
		changes nothing. The names setup chose (role, policy, bucket,
		CloudStorage, DPA) are recorded as oadp-sts.openshift.io/ annotations on
		the namespace: a rerun without flags uses them, and a flag naming
		another object than the record is refused. Cluster objects are applied server-side; fields another
		manager owns are reported, not overwritten, unless --force-conflicts.

		Default names fit their limits (role 64 characters, bucket 63): on a
		hosted control plane the cluster's name is its api.openshift.com/name
		resource tag, and a name still too long ends in a stable hash. On OKD the
		operator is the community package oadp-operator (--package).

		On an ACM hub with cluster-backup on STS, run it with
		-n open-cluster-management-backup: the Subscription's channel (and so
		the OADP version of a stable-1.x channel), package, catalog source and
		env come from the ConfigMap acm-redhat-oadp-operator-subscription that
		ACM's cluster-backup chart leaves there; a flag given wins over it, and
		setup says which it used and from where.

		Before changing anything, setup checks the cluster is an AWS STS cluster,
		that IAM has an OIDC provider for its issuer, every name and the DPA rules
		of the OADP version, and asks for confirmation of IAM changes on a terminal;
		without a terminal it changes AWS only with --yes. It warns, without
		stopping, when the storage in use does not fit --snapshots: PVCs on classes
		CSI (or EBS) snapshots do not cover, or a CSI driver without a
		VolumeSnapshotClass Velero can choose.

		--dry-run=client changes nothing and prints the plan to stderr; with -o yaml
		it prints the cluster objects on stdout for 'oc apply -f -'.
		--dry-run=server sends the cluster objects with dryRun=All. --output-dir
		writes the IAM plan as numbered files for 'aws iam ... --cli-input-json';
		with --format=kustomize it also writes base/ and clusters/CLUSTER_NAME/,
		which 'kubectl apply -k' applies as setup would, and with --format=acm
		acm/, a Policy, Placement and PlacementBinding for an ACM hub.
		With every fact as a flag (--cluster-name, --cluster-id, --openshift-version,
		--oidc-issuer, --region, --account-id, --oadp-version, --install-operator,
		--credentials), a client dry run reads nothing at all.

		With --context given more than once, --all-contexts or --contexts-matching,
		setup runs on each cluster at once (--parallel, 4 by default), each with
		its own role trusted by its own OIDC issuer, its own bucket and names: on a
		terminal every cluster's plan is shown and one question asked for all.
		Clusters that share one OIDC issuer are reported, each pair with the fix,
		and set up anyway. The flags that name one cluster's own (--cluster-name,
		--role-name, --bucket and the like) are refused there.

		Exit codes: 0 ready; 1 an error (nothing changed when the input was bad);
		5 a wait timed out (the operator may still finish). Several clusters: the
		worst of theirs.`)

	example = templates.Examples(`
		# Show what setup would do, changing nothing
		kubectl oadp-sts setup --dry-run=client

		# Print the cluster objects and apply them with oc
		kubectl oadp-sts setup --dry-run=client -o yaml | oc apply -f -

		# CSI snapshots whose data the Data Mover copies to the bucket
		kubectl oadp-sts setup --data-mover --yes

		# Native EBS snapshots instead of CSI, Velero on infra nodes
		kubectl oadp-sts setup --snapshots=native --velero-node-selector node-role.kubernetes.io/infra= --yes

		# Set up, without a prompt
		kubectl oadp-sts setup --yes

		# Three clusters at once, each with its own role, bucket and DPA
		kubectl oadp-sts setup --context prod-east --context prod-west --context dr --yes

		# Write the IAM plan for a security team to apply with the aws CLI
		kubectl oadp-sts setup --output-dir ./oadp-iam

		# The IAM plan and a kustomize overlay for this cluster, for Argo CD or 'kubectl apply -k'
		kubectl oadp-sts setup --dry-run=client --output-dir ./oadp --format kustomize

		# Under a path and a permissions boundary
		kubectl oadp-sts setup --role-path /oadp/ --permissions-boundary arn:aws:iam::123456789012:policy/boundary --yes`)
)

// Dry-run modes, as kubectl names them (cmdutil.DryRun says what each means).
const (
	DryRunNone   = cmdutil.DryRunNone
	DryRunClient = cmdutil.DryRunClient
	DryRunServer = cmdutil.DryRunServer
)

// Options are setup's inputs.
type Options struct {
	Facts   facts.Flags
	Cluster ClusterOptions
	Store   BucketOptions

	PolicyName          string
	RoleName            string
	RolePath            string
	PermissionsBoundary string

	DryRun    cmdutil.DryRun
	OutputDir string
	// Format adds GitOps files to --output-dir: gitops.FormatKustomize or
	// gitops.FormatACM ("" writes the IAM plan alone).
	Format string
	// GitOps, when set, is handed this cluster's GitOps input instead of
	// setup writing it: fleet mode collects every cluster's and calls
	// gitops.Write once, so all the overlays share one base.
	GitOps func(gitops.Cluster)
	// planPerCluster puts the IAM plan under OutputDir/iam/CLUSTER_NAME:
	// fleet mode, where clusters share one --output-dir.
	planPerCluster bool
	Yes            bool
	// FromCluster is the kubeconfig context of the cluster whose backups
	// this one restores: its bucket and prefix, read-only here.
	FromCluster string

	// from is that cluster's location, as readFrom found it.
	from *record.Location
	// prefixGiven is set when --prefix was given by name.
	prefixGiven bool
	Fleet       fleetrun.Flags

	// Resolved by Run.
	facts *facts.Facts
	// RoleARN is the role the cluster side hands to OADP; set by runAWS.
	RoleARN string
	// recordedRole is where the role's name came from (record.Names.From).
	recordedRole string
	// trustChanged is when runAWS created the role or changed its trust
	// policy: the wait on the location allows for IAM's propagation.
	trustChanged time.Time

	// isTerminal says whether a person can answer a prompt on In.
	isTerminal func() bool

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns the setup command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams, DryRun: DryRunNone, Cluster: ClusterOptions{PrintFlags: printer.NewObjectFlags("the cluster objects setup applies (or would)")}}
	cmd := &cobra.Command{
		Use:     "setup",
		Short:   "Set up OADP on this AWS STS cluster: IAM, operator, storage, DPA",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Store.backupImagesAsked = cmd.Flags().Changed("backup-images")
			o.Cluster.changed = cmd.Flags().Changed
			o.prefixGiven = cmd.Flags().Changed("prefix")
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if o.Fleet.Fleet(f) {
				return o.runFleet(cmd, statuscmd.ReportRow)
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.Facts.AddFlags(fs)
	fs.StringVar(&o.PolicyName, "policy-name", "", "name of the IAM permissions policy (default: the one an earlier setup recorded, else <cluster-name>"+iam.PolicySuffix+", or "+iam.DefaultPolicyName+" with --cloudstorage)")
	fs.StringVar(&o.RoleName, "role-name", "", "name of the IAM role (default: the one an earlier setup recorded, else <cluster-name>"+iam.RoleSuffix+")")
	fs.StringVar(&o.RolePath, "role-path", "", "IAM path of the role, for example /oadp/ (default: the recorded role's, else /)")
	fs.StringVar(&o.PermissionsBoundary, "permissions-boundary", "", "ARN of a managed policy to set as the role's permissions boundary (an existing role's boundary is removed when not given)")
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": with client or server nothing is changed and the plan is printed to stderr (AWS has no server-side dry run, so server is client for AWS)`)
	fs.StringVar(&o.OutputDir, "output-dir", "", "write the IAM plan to this directory as numbered 'aws iam ... --cli-input-json' files (with several clusters, into iam/CLUSTER_NAME/ there), and change nothing")
	fs.StringVar(&o.Format, "format", "", "with --output-dir, also write the cluster objects for GitOps: kustomize (base/ and clusters/CLUSTER_NAME/ for 'kubectl apply -k') or acm (acm/: a Policy, Placement and PlacementBinding per cluster, for an ACM hub)")
	fs.BoolVarP(&o.Yes, "yes", "y", false, "change AWS without asking")
	fs.StringVar(&o.FromCluster, "from-cluster", "", "kubeconfig context of the cluster whose backups this one restores: use its bucket and prefix, with a role that may only read its backups (and write restores/), and a ReadOnly location")
	o.Cluster.addFlags(fs)
	o.Cluster.PrintFlags.AddFlags(cmd)
	o.Store.addFlags(fs)
	fixed := func(flag string, values ...string) {
		completion.Register(cmd, map[string]cobra.CompletionFunc{flag: cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)})
	}
	completion.Register(cmd, map[string]cobra.CompletionFunc{"oadp-version": completion.OADPVersions})
	fixed("snapshots", manifests.SnapshotsCSI, manifests.SnapshotsNative)
	fixed("install-operator", Auto, installTrue, installFalse)
	fixed("credentials", Auto, CredsSecret, CredsOLM)
	fixed("approval", olm.Manual, olm.Automatic)
	fixed("format", gitops.Formats...)
	o.Fleet.AddFlags(cmd, f)
	return cmd
}

// Complete fills in what follows from the flags.
func (o *Options) Complete() error {
	if o.isTerminal == nil {
		o.isTerminal = func() bool { return printer.IsTerminal(o.In) }
	}
	if o.RolePath != "" {
		o.RolePath = iam.NormalizePath(o.RolePath)
	}
	// Files for someone else to apply are a plan: applying them as well
	// would leave nothing for that someone to review.
	if o.OutputDir != "" && o.DryRun == DryRunNone {
		o.DryRun = DryRunClient
	}
	return nil
}

// Validate checks every flag that needs no fact, before anything is read.
func (o *Options) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	if err := o.Fleet.Validate(o.factory); err != nil {
		return err
	}
	if o.PolicyName != "" {
		if err := iam.ValidatePolicyName(o.PolicyName, "set another --policy-name"); err != nil {
			return err
		}
	}
	if o.RoleName != "" {
		if err := iam.ValidateRoleName(o.RoleName, "set another --role-name"); err != nil {
			return err
		}
	} else if o.Facts.ClusterName != "" {
		if err := iam.ValidateRoleName(iam.DefaultRoleName(o.Facts.ClusterName), "set a shorter --cluster-name, or --role-name"); err != nil {
			return err
		}
	}
	if o.RolePath != "" {
		if err := iam.ValidatePath(o.RolePath); err != nil {
			return err
		}
	}
	if err := o.validateFormat(); err != nil {
		return err
	}
	if o.Cluster.PrintFlags.Set() && o.OutputDir != "" {
		return fmt.Errorf("-o and --output-dir do not go together: -o prints the cluster objects, --output-dir writes the IAM plan")
	}
	if err := o.Cluster.validate(); err != nil {
		return err
	}
	if err := o.Store.validate(); err != nil {
		return err
	}
	if err := o.validateFrom(); err != nil {
		return err
	}
	return iam.ValidateBoundary(o.PermissionsBoundary)
}

// dryRun reports whether nothing may be changed.
func (o *Options) dryRun() bool { return o.DryRun != DryRunNone }

// needs are the facts setup needs. A dry run needs no cluster check, so with
// every fact given by flags it reads nothing.
func (o *Options) needs() facts.Need {
	n := facts.ClusterID | facts.OpenShiftVersion | facts.OIDCIssuer | facts.AccountID | facts.Partition | facts.Region
	// GitOps files are one directory per cluster, named by the cluster.
	if o.RoleName == "" || o.Cluster.Bucket == "" || o.Cluster.DPAName == "" || o.Format != "" {
		n |= facts.ClusterName
	}
	if !o.dryRun() {
		n |= facts.ClusterChecks
	}
	return n
}

// checkClusterSide runs the installer's preflight and the storage checks,
// and chooses the Subscription's starting CSV, printing their warnings:
// everything of the cluster that can refuse the run before the first change.
func (o *Options) checkClusterSide(ctx context.Context, mo *manifests.Options) error {
	if !o.facts.ClusterRead && o.DryRun == DryRunClient {
		return nil
	}
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	warnings, err := (&install.Installer{Client: dyn}).Preflight(ctx, *mo)
	if err != nil {
		return err
	}
	if err := o.startingCSV(ctx, dyn, mo); err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(o.ErrOut, "warning: "+w)
	}
	o.storageCheck(ctx, *mo)
	return nil
}

// startReads reads AWS beside the cluster's checks: its reads need only the
// names and the account ID, print nothing until the checks passed, and
// nothing is changed before both are done. The bucket's reads and IAM's go
// out together, and IAM changes nothing until the bucket's plan is known (a
// bucket setup may not use refuses the run before anything is made).
// readIAM is IAM's read; bucketPlanned waits for the bucket's plan and takes
// it into o and mo; readsDone waits for both, whatever they found.
func (o *Options) startReads(ctx context.Context, mo *manifests.Options) (readIAM func() (iamRead, error), bucketPlanned func() error, readsDone func()) {
	readIAM = func() (iamRead, error) { return iamRead{}, nil }
	if o.Cluster.RoleARN == "" {
		readIAM = o.startIAMRead(ctx)
	}
	bucketPlanned, bucketRead := func() error { return nil }, func() {}
	if !o.Store.cloudStorage {
		var (
			p    *bucket.Plan
			perr error
			done = make(chan struct{})
			w    = o.bucketWant(*mo)
		)
		go func() { defer close(done); p, perr = o.planBucket(ctx, w) }()
		bucketRead = func() { <-done }
		bucketPlanned = sync.OnceValue(func() error {
			<-done
			if perr == nil {
				o.useBucketPlan(p, mo)
			}
			return perr
		})
	}
	return readIAM, bucketPlanned, func() { _, _ = readIAM(); bucketRead() }
}

// Run resolves the facts and reads what is installed, decides and checks
// every cluster-side choice, converges AWS, then applies the cluster objects
// and waits. Everything that can be refused is refused before the first
// change, so bad input leaves nothing half-made.
func (o *Options) Run(ctx context.Context) error {
	f, err := facts.Resolve(ctx, o.factory, o.Facts, o.needs())
	if err != nil {
		return err
	}
	o.facts = f
	// A cluster that is not an AWS STS cluster is refused before anything
	// else is read or decided, with every reason at once; so is a
	// --from-cluster location this cluster cannot restore from.
	if err := o.checkClusterAndFrom(ctx); err != nil {
		return err
	}
	st, err := o.readCluster(ctx)
	if err != nil {
		return err
	}
	if err := o.useRecord(st.evidence); err != nil {
		return err
	}
	// The role ARN is known before the role exists; it fills the secret.
	// Building the IAM spec also checks every IAM name, before any state.
	if o.Cluster.RoleARN != "" {
		o.RoleARN = o.Cluster.RoleARN
	} else {
		spec, err := o.iamSpec()
		if err != nil {
			return err
		}
		o.RoleARN = spec.RoleARN
	}
	mo, err := o.manifestOptions(st)
	if err != nil {
		return err
	}
	readCtx, stopReads := context.WithCancel(ctx)
	defer stopReads()
	readIAM, bucketPlanned, readsDone := o.startReads(readCtx, &mo)
	if err := o.checkClusterSide(ctx, &mo); err != nil {
		stopReads()
		readsDone()
		return err
	}
	if o.Cluster.RoleARN == "" {
		roleARN, err := o.runAWS(ctx, readIAM, bucketPlanned)
		if err != nil {
			return err
		}
		o.RoleARN = roleARN
		mo.RoleARN = roleARN
	} else {
		if err := bucketPlanned(); err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "using role %s (%s): IAM not read or changed\n", o.RoleARN, o.roleARNFrom())
	}
	if o.OutputDir != "" {
		return o.writeGitOps(mo)
	}
	if err := o.applyBucket(ctx); err != nil {
		return err
	}
	return o.runCluster(ctx, mo)
}
