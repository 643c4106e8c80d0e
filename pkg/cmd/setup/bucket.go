package setup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/pflag"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

// BucketOptions are the flags of the bucket setup makes itself (the
// default) or leaves to the operator's CloudStorage (--cloudstorage).
type BucketOptions struct {
	CloudStorage bool
	KMSKeyARN    string
	Versioning   bool

	// cloudStorage is the mode in use: the flag, or what an earlier setup made.
	cloudStorage bool
	plan         *bucket.Plan
	// backupImagesAsked is set when --backup-images was given by name.
	backupImagesAsked bool
	// confirmed is set once the person (or --yes) agreed to change AWS.
	confirmed bool
	// applied is set once the plan was applied beside IAM's (startBucket).
	applied bool
	// from is the ID of the cluster whose location the bucket is: this
	// cluster only reads it (--from-cluster, its record, or its tags).
	from string
}

func (b *BucketOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&b.CloudStorage, "cloudstorage", false, "let the OADP operator make the bucket through a CloudStorage (the chapter's path, a Technology Preview) instead of setup making and hardening it; the role then gets the chapter's policy on every bucket")
	fs.StringVar(&b.KMSKeyARN, "kms-key-arn", "", "encrypt the bucket by default with this KMS key (SSE-KMS) instead of SSE-S3; the role's policy may then use the key")
	fs.BoolVar(&b.Versioning, "bucket-versioning", false, "turn on versioning of the bucket setup makes (OADP 1.4+; deleting a backup then keeps old object versions)")
}

func (b *BucketOptions) validate() error {
	var errs []string
	if b.KMSKeyARN != "" {
		if err := bucket.ValidateKMSKeyARN(b.KMSKeyARN); err != nil {
			errs = append(errs, err.Error())
		}
		if b.CloudStorage {
			errs = append(errs, "--kms-key-arn does not go with --cloudstorage: the operator makes that bucket with its own settings; drop one of them")
		}
	}
	if b.Versioning && b.CloudStorage {
		errs = append(errs, "--bucket-versioning does not go with --cloudstorage: the operator makes that bucket with its own settings; drop one of them")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// chooseStorage settles the mode once the record is known: the flag, else
// the CloudStorage an earlier setup made (a rerun keeps the chapter's path),
// and fills the names the IAM scope needs before the bucket is read.
func (o *Options) chooseStorage(cloudStorageFound bool) {
	b := &o.Store
	b.cloudStorage = b.CloudStorage || cloudStorageFound
	if b.cloudStorage {
		if o.PolicyName == "" {
			o.PolicyName = iam.DefaultPolicyName
		}
		return
	}
	if o.Cluster.Bucket == "" && o.facts.Cluster.Name != "" {
		o.Cluster.Bucket = names.Bucket(o.facts.Cluster.Name)
	}
	if o.PolicyName == "" && o.facts.Cluster.Name != "" {
		o.PolicyName = iam.ScopedPolicyName(o.facts.Cluster.Name)
	}
}

// scope is the IAM scope of the bucket mode, nil on the CloudStorage path.
func (o *Options) scope() *iam.Scope {
	if o.Store.cloudStorage {
		return nil
	}
	return &iam.Scope{Bucket: o.Cluster.Bucket, Prefix: o.Cluster.Prefix,
		NativeSnapshots: o.Cluster.Snapshots == manifests.SnapshotsNative, KMSKeyARN: o.Store.KMSKeyARN, ReadOnly: o.Store.from != ""}
}

func (o *Options) bucketWant(mo manifests.Options) bucket.Want {
	return bucket.Want{Name: mo.Bucket, Region: mo.Region, AccountID: o.facts.Identity.AccountID,
		KMSKeyARN: o.Store.KMSKeyARN, Versioning: o.Store.Versioning,
		Tags: iam.OwnershipTags(o.facts.Cluster.ID), ClusterID: o.facts.Cluster.ID, From: o.Store.from}
}

// planBucket reads the bucket and decides, before anything is changed: a
// bucket setup may not use is refused here, with nothing made. A dry run
// with every fact from flags reads nothing and plans a new bucket. It prints
// nothing and changes nothing of o, so it runs beside the cluster's checks;
// useBucketPlan takes its answer.
func (o *Options) planBucket(ctx context.Context, w bucket.Want) (*bucket.Plan, error) {
	var p bucket.Plan
	if o.dryRun() && !o.facts.AWSRead && !o.facts.ClusterRead {
		p = bucket.Decide(w, bucket.State{})
	} else {
		c, err := o.s3(ctx)
		if err != nil {
			return nil, err
		}
		st, err := bucket.Read(ctx, c, w)
		if err != nil {
			return nil, err
		}
		p = bucket.Decide(w, st)
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("%w; setup changed nothing", err)
	}
	return &p, nil
}

// useBucketPlan makes p the bucket's plan: recorded as adopted when it is,
// and printed in a dry run.
func (o *Options) useBucketPlan(p *bucket.Plan, mo *manifests.Options) {
	o.Store.plan = p
	if p.Adopted() {
		mo.NamespaceAnnotations[record.AnnotationBucketAdopted] = "true"
	}
	if p.Kind == bucket.Shared {
		// Another cluster's bucket, named by --from-cluster, the record or
		// its tags: this cluster's location only reads it.
		mo.ReadOnly = true
		mo.NamespaceAnnotations[record.AnnotationBucketFrom] = p.Owner()
		mo.NamespaceAnnotations[record.AnnotationPrefix] = mo.Prefix
	}
	if o.dryRun() {
		fmt.Fprintln(o.ErrOut, p.Line(false))
	}
}

func (o *Options) s3(ctx context.Context) (*s3.Client, error) {
	cfg, err := o.factory.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := awsclient.New(cfg).S3.(*s3.Client)
	if !ok {
		return nil, errors.New("internal error: the S3 client is not the SDK's")
	}
	return c, nil
}

// startBucket applies the bucket's plan beside IAM's, once the person (or
// --yes) agreed to both. The bucket is made with IAM's creates; its settings
// go out once it and IAM's creates have answered (iamCreated closed), with
// the attachment: each waits on a create only, so together they are one
// round trip and setup's AWS work is four deep. Sent as soon as CreateBucket
// (regional, quicker than IAM) answered, they would be one more request in
// sequence for the same wall time; where S3 is as slow as IAM, the bucket's
// own chain sets the time either way. They are sent whether IAM's creates
// succeeded or not: IAM's failure leaves no bucket without its ownership
// tags and hardening (a rerun knows it as its own). The func returned waits
// for it all and says what it did, so the two never write to the terminal
// at once.
func (o *Options) startBucket(ctx context.Context, iamCreated <-chan struct{}) func() error {
	p := o.Store.plan
	if p == nil || o.dryRun() || !p.Changes() {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		c, err := o.s3(ctx)
		if err == nil {
			err = bucket.Make(ctx, c, *p)
		}
		if err == nil {
			<-iamCreated
			err = bucket.Harden(ctx, c, *p)
		}
		done <- err
	}()
	return func() error {
		err := <-done
		if err == nil {
			fmt.Fprintln(o.ErrOut, p.Line(true))
			o.Store.applied = true
		}
		return err
	}
}

// applyBucket makes the bucket plan's changes when the IAM step did not
// (a role given by --role-arn), asking first unless it already asked.
func (o *Options) applyBucket(ctx context.Context) error {
	p := o.Store.plan
	if p == nil || o.dryRun() || o.Store.applied {
		return nil
	}
	if !p.Changes() {
		fmt.Fprintln(o.ErrOut, p.Line(true))
		return nil
	}
	if !o.Store.confirmed && !o.Yes {
		if !o.isTerminal() {
			fmt.Fprintln(o.ErrOut, p.Line(false))
			return fmt.Errorf("setup would change S3 in AWS account %s and there is no terminal to confirm it: rerun with --yes to apply, or with --dry-run=client to only see the plan", o.facts.Identity.AccountID)
		}
		fmt.Fprintln(o.ErrOut, p.Line(false))
		if !confirmAWS(o) {
			return errors.New("setup cancelled: AWS not changed")
		}
	}
	c, err := o.s3(ctx)
	if err != nil {
		return err
	}
	if err := bucket.Apply(ctx, c, *p); err != nil {
		return err
	}
	fmt.Fprintln(o.ErrOut, p.Line(true))
	return nil
}

// checkBackupImages chooses backupImages for a velero location: before 1.5
// the operator's registry-secret step reads only access keys from an AWS
// credential, so an STS secret on a velero-type location stops the DPA
// (rule C01) unless image backup is off. Off, with a warning, unless the
// user asked for it by name.
func (o *Options) checkBackupImages(mo *manifests.Options, asked bool) error {
	if !mo.BucketLocation || !mo.BackupImages {
		return nil
	}
	v := manifests.JudgeSetup(*mo)
	if v.First == nil || v.First.Rule != "C01" {
		return nil
	}
	why := fmt.Sprintf("OADP %s builds a registry secret from the credential of a bucket location for image backups and reads only access keys from it, so with an STS credential it stops with %q", mo.OADPVersion, v.First.Message)
	if asked {
		return fmt.Errorf("--backup-images: %s; drop --backup-images, pass --cloudstorage, or use OADP 1.5 or later", why)
	}
	mo.BackupImages = false
	fmt.Fprintf(o.ErrOut, "warning: backupImages set to false: %s (internal registry images are not backed up; OADP 1.5 and later, or --cloudstorage, keep them)\n", why)
	return nil
}

// confirmAWS asks on the terminal whether to change AWS.
func confirmAWS(o *Options) bool {
	o.Store.confirmed = cmdutil.Confirm(o.In, o.ErrOut, fmt.Sprintf("Change AWS account %s?", o.facts.Identity.AccountID))
	return o.Store.confirmed
}
