// Package policy implements `kubectl oadp-sts policy`.
package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/facts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

var (
	long = templates.LongDesc(`
		Print the IAM permissions policy OADP needs (the chapter's 25 S3 and EC2
		actions), or with --trust the role's trust policy for this cluster's OIDC
		issuer, as JSON for review or for 'aws iam create-policy --policy-document'.

		With --for-user it prints instead the least policy the person running setup,
		status, cleanup and verify needs (or those of them named, --for-user=status):
		the AWS calls each command makes with your own credentials, and nothing else.

		The permissions policy is the same for every cluster and needs nothing. The
		trust policy needs the AWS account, partition and issuer: they are read from
		AWS and the cluster unless --account-id and --oidc-issuer give them, in which
		case nothing is read at all.`)

	example = templates.Examples(`
		# The permissions policy
		kubectl oadp-sts policy > policy.json

		# The trust policy, reading the issuer and account
		kubectl oadp-sts policy --trust

		# What your own IAM user or role needs to run setup, status and cleanup
		kubectl oadp-sts policy --for-user > installer-policy.json

		# The trust policy offline
		kubectl oadp-sts policy --trust --account-id 123456789012 --oidc-issuer https://oidc.example.com/cluster`)
)

// Options are the policy command's inputs.
type Options struct {
	Trust   bool
	ForUser []string
	Facts   facts.Flags

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns the policy command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "policy",
		Short:   "Print the IAM permissions policy, or the role's trust policy",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Trust, "trust", false, "print the role's trust policy instead")
	fs := cmd.Flags()
	fs.StringSliceVar(&o.ForUser, "for-user", nil, "print the least policy the user running these commands needs ("+strings.Join(iam.CallerCommands, ", ")+")")
	fs.Lookup("for-user").NoOptDefVal = strings.Join(iam.CallerCommands, ",")
	fs.StringVar(&o.Facts.OIDCIssuer, "oidc-issuer", "", "the cluster's service-account issuer URL (default: read from the cluster)")
	fs.StringVar(&o.Facts.AccountID, "account-id", "", "the AWS account ID (default: the caller's)")
	fs.StringVar(&o.Facts.Partition, "partition", "", "the AWS partition (default: the caller's, else aws)")
	return cmd
}

// Run prints the document.
func (o *Options) Run(ctx context.Context) error {
	if o.ForUser != nil {
		if o.Trust {
			return fmt.Errorf("--for-user and --trust do not go together: --trust prints the role's trust policy, --for-user the policy of the person running the plugin")
		}
		doc, err := iam.CallerPolicy(o.ForUser...)
		if err != nil {
			return fmt.Errorf("--for-user: %w", err)
		}
		_, err = fmt.Fprint(o.Out, doc.Indented())
		return err
	}
	if !o.Trust {
		_, err := fmt.Fprint(o.Out, iam.PermissionsPolicy().Indented())
		return err
	}
	f, err := facts.Resolve(ctx, o.factory, o.Facts, facts.OIDCIssuer|facts.AccountID|facts.Partition)
	if err != nil {
		return err
	}
	if f.Cluster.OIDCIssuer == "" {
		return fmt.Errorf("the cluster has no service-account issuer, so no trust policy can name it: give --oidc-issuer, or run 'kubectl oadp-sts status' to see why")
	}
	doc := iam.TrustPolicy(f.Identity.Partition, f.Identity.AccountID, f.Cluster.OIDCIssuer, o.factory.Namespace())
	_, err = fmt.Fprint(o.Out, doc.Indented())
	return err
}
