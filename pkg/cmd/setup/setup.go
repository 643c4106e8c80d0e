// Package setup implements `kubectl oadp-sts setup`: the IAM policy and role
// in AWS (aws.go), then the cluster side.
package setup

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/facts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
)

var (
	long = templates.LongDesc(`
		Set up OADP on an AWS STS cluster. In AWS: the IAM permissions policy
		(default OadpVer1) and the role the cluster's OIDC issuer may assume (default
		<cluster-name>-openshift-oadp-aws-cloud-credentials), with the policy
		attached.

		Every step converges: what is missing is created, what drifted (the trust
		policy, the policy document, tags, the permissions boundary, the attachment)
		is put back, and each step reports created, updated (what changed) or
		unchanged. A second run changes nothing. A role with another path, or one
		tagged for another cluster, is an error and is left alone.

		Before changing AWS, setup checks that the cluster is an AWS STS cluster and
		that IAM has an OIDC provider for its issuer, and asks for confirmation on a
		terminal; without a terminal it changes AWS only with --yes.

		--dry-run=client changes nothing and prints the plan to stderr. --output-dir
		writes the plan as numbered files for 'aws iam ... --cli-input-json' and
		changes nothing, for teams that apply IAM changes themselves. When flags give
		every fact (--cluster-name or --role-name, --cluster-id, --openshift-version,
		--oidc-issuer, --account-id), a dry run reads nothing at all and shows the
		plan for an account that has none of the objects yet.`)

	example = templates.Examples(`
		# Show what setup would do, changing nothing
		kubectl oadp-sts setup --dry-run=client

		# Set up, without a prompt
		kubectl oadp-sts setup --yes

		# Write the IAM plan for a security team to apply with the aws CLI
		kubectl oadp-sts setup --output-dir ./oadp-iam

		# Under a path and a permissions boundary
		kubectl oadp-sts setup --role-path /oadp/ --permissions-boundary arn:aws:iam::123456789012:policy/boundary --yes`)
)

// Dry-run modes, as kubectl names them.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// Options are setup's inputs.
type Options struct {
	Facts facts.Flags

	PolicyName          string
	RoleName            string
	RolePath            string
	PermissionsBoundary string

	DryRun    string
	OutputDir string
	Yes       bool

	// Resolved by Run.
	facts *facts.Facts
	// RoleARN is the role the cluster side hands to OADP; set by runAWS.
	RoleARN string

	// isTerminal says whether a person can answer a prompt on In.
	isTerminal func() bool

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns the setup command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams, PolicyName: iam.DefaultPolicyName, RolePath: "/", DryRun: DryRunNone}
	cmd := &cobra.Command{
		Use:     "setup",
		Short:   "Create or converge the IAM policy and role, and set up OADP",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.Facts.AddFlags(fs)
	fs.StringVar(&o.PolicyName, "policy-name", o.PolicyName, "name of the IAM permissions policy")
	fs.StringVar(&o.RoleName, "role-name", "", "name of the IAM role (default: <cluster-name>"+iam.RoleSuffix+")")
	fs.StringVar(&o.RolePath, "role-path", o.RolePath, "IAM path of the role, for example /oadp/")
	fs.StringVar(&o.PermissionsBoundary, "permissions-boundary", "", "ARN of a managed policy to set as the role's permissions boundary (an existing role's boundary is removed when not given)")
	fs.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" or "server": with client or server nothing is changed and the plan is printed to stderr (AWS has no server-side dry run, so server is client for AWS)`)
	fs.Lookup("dry-run").NoOptDefVal = DryRunClient
	fs.StringVar(&o.OutputDir, "output-dir", "", "write the IAM plan to this directory as numbered 'aws iam ... --cli-input-json' files, and change nothing")
	fs.BoolVarP(&o.Yes, "yes", "y", false, "change AWS without asking")
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
	switch o.DryRun {
	case DryRunNone, DryRunClient, DryRunServer:
	default:
		return fmt.Errorf("--dry-run must be none, client or server, not %q", o.DryRun)
	}
	if err := iam.ValidatePolicyName(o.PolicyName, "set another --policy-name"); err != nil {
		return err
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
	if err := iam.ValidatePath(o.RolePath); err != nil {
		return err
	}
	return iam.ValidateBoundary(o.PermissionsBoundary)
}

// dryRun reports whether nothing may be changed.
func (o *Options) dryRun() bool { return o.DryRun != DryRunNone }

// needs are the facts setup needs. A dry run needs no cluster check, so with
// every fact given by flags it reads nothing.
func (o *Options) needs() facts.Need {
	n := facts.ClusterID | facts.OpenShiftVersion | facts.OIDCIssuer | facts.AccountID | facts.Partition
	if o.RoleName == "" {
		n |= facts.ClusterName
	}
	if !o.dryRun() {
		n |= facts.ClusterChecks
	}
	return n
}

// Run resolves the facts, then converges AWS.
func (o *Options) Run(ctx context.Context) error {
	f, err := facts.Resolve(ctx, o.factory, o.Facts, o.needs())
	if err != nil {
		return err
	}
	o.facts = f
	roleARN, err := o.runAWS(ctx)
	if err != nil {
		return err
	}
	o.RoleARN = roleARN
	return nil
}
