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
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
)

var (
	long = templates.LongDesc(`
		Print the IAM permissions policy OADP needs, or with --trust the role's
		trust policy for this cluster's OIDC issuer, as JSON for review or for
		'aws iam create-policy --policy-document'.

		With --for-user it prints instead the least policy the person running setup,
		status, cleanup and verify needs (or those of them named, --for-user=status):
		the AWS calls each command makes with your own credentials, and nothing else.

		The permissions policy is the one setup writes: scoped to the bucket setup
		makes (bucket-level actions on the bucket, object actions under --prefix,
		EC2 snapshot actions only with --snapshots=native, KMS actions on the key
		only with --kms-key-arn). The bucket is --bucket, else CLUSTER_NAME-oadp
		(the cluster's name is read unless --cluster-name gives it). With
		--cloudstorage it is the chapter's policy (25 S3 and EC2 actions on every
		resource), the same for every cluster, and needs nothing.

		The trust policy needs the AWS account, partition and issuer: they are read from
		AWS and the cluster unless --account-id and --oidc-issuer give them, in which
		case nothing is read at all.`)

	example = templates.Examples(`
		# The permissions policy of the bucket setup makes, offline
		kubectl oadp-sts policy --bucket mycluster-oadp > policy.json

		# The chapter's policy, for the CloudStorage path
		kubectl oadp-sts policy --cloudstorage

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

	CloudStorage bool
	Bucket       string
	Prefix       string
	Snapshots    string
	KMSKeyARN    string
	// ReadOnly prints the scope of a cluster restoring from another's
	// location (setup --from-cluster).
	ReadOnly bool

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
	fs.BoolVar(&o.CloudStorage, "cloudstorage", false, "print the chapter's policy, for setup --cloudstorage (the operator makes the bucket)")
	fs.StringVar(&o.Bucket, "bucket", "", "the bucket the policy is scoped to (default: <cluster-name>-oadp)")
	fs.StringVar(&o.Facts.ClusterName, "cluster-name", "", "the cluster's name, for the default bucket (default: read from the cluster)")
	fs.StringVar(&o.Prefix, "prefix", manifests.DefaultPrefix, "the object prefix the policy allows")
	fs.StringVar(&o.Snapshots, "snapshots", manifests.SnapshotsCSI, "csi, or native to allow the EC2 snapshot actions")
	fs.StringVar(&o.KMSKeyARN, "kms-key-arn", "", "the bucket's KMS key, which the policy then may use")
	fs.BoolVar(&o.ReadOnly, "read-only", false, "print the read-only scope of a cluster restoring from another cluster's bucket (setup --from-cluster): reads under the prefix, writes only under its restores/")
	return cmd
}

// permissions is the permissions policy setup would write for the flags.
func (o *Options) permissions(ctx context.Context) (iam.Document, error) {
	if o.CloudStorage {
		if o.ReadOnly {
			return iam.Document{}, fmt.Errorf("--read-only does not go with --cloudstorage: a cluster restoring from another's bucket is never on the CloudStorage path; drop one of them")
		}
		if o.Bucket != "" || o.KMSKeyARN != "" {
			return iam.Document{}, fmt.Errorf("--cloudstorage prints the chapter's policy on every bucket: drop --bucket and --kms-key-arn, or drop --cloudstorage")
		}
		return iam.PermissionsPolicy(), nil
	}
	if o.Snapshots != manifests.SnapshotsCSI && o.Snapshots != manifests.SnapshotsNative {
		return iam.Document{}, fmt.Errorf("--snapshots must be csi or native, not %q", o.Snapshots)
	}
	partition, bucket := o.Facts.Partition, o.Bucket
	if bucket == "" {
		f, err := facts.Resolve(ctx, o.factory, o.Facts, facts.ClusterName|facts.Partition)
		if err != nil {
			return iam.Document{}, fmt.Errorf("%w (or give --bucket, or --cloudstorage for the chapter's policy)", err)
		}
		bucket, partition = names.Bucket(f.Cluster.Name), f.Identity.Partition
	}
	if err := manifests.ValidateBucketName(bucket); err != nil {
		return iam.Document{}, err
	}
	return iam.ScopedPolicy(iam.Scope{Partition: partition, Bucket: bucket, Prefix: o.Prefix,
		NativeSnapshots: o.Snapshots == manifests.SnapshotsNative, KMSKeyARN: o.KMSKeyARN, ReadOnly: o.ReadOnly}), nil
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
		doc, err := o.permissions(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(o.Out, doc.Indented())
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
