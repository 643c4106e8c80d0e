// Package bucket makes and hardens the S3 bucket OADP backs up to, when
// setup makes it itself rather than through the operator's Technology
// Preview CloudStorage. It is split the usual way: Read learns the bucket's
// state with the user's credentials, Decide (pure) says whether to create,
// adopt, refuse, or put drift back, and Apply does what the plan lists.
//
// A bucket is created in the cluster's region with Block Public Access on,
// default encryption (SSE-S3, or SSE-KMS with a key), the plugin's ownership
// tags and, when asked, versioning. An existing bucket is adopted only when
// this account owns it and it lives in the cluster's region; an adopted
// bucket gets no ownership tags, so cleanup never deletes it.
package bucket

import (
	"context"
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// API is the part of S3 this package calls; *s3.Client satisfies it.
type API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	ListBuckets(ctx context.Context, in *s3.ListBucketsInput, optFns ...func(*s3.Options)) (*s3.ListBucketsOutput, error)
	GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, optFns ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	PutBucketTagging(ctx context.Context, in *s3.PutBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error)
	PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
}

var _ API = (*s3.Client)(nil)

var kmsKeyResource = regexp.MustCompile(`^(key|alias)/[A-Za-z0-9/_+=,.@:-]+$`)

// ValidateKMSKeyARN refuses a --kms-key-arn that is not the ARN of a KMS
// key or alias.
func ValidateKMSKeyARN(v string) error {
	a, err := arn.Parse(v)
	if err != nil || a.Service != "kms" || !kmsKeyResource.MatchString(a.Resource) {
		return fmt.Errorf("--kms-key-arn %q is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY_ID)", v)
	}
	return nil
}

// Encryption algorithms as S3 names them.
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
)

// Want is the bucket setup wants.
type Want struct {
	Name      string
	Region    string
	AccountID string
	// KMSKeyARN selects SSE-KMS with that key; "" is SSE-S3.
	KMSKeyARN  string
	Versioning bool
	// Tags are the ownership tags (iam.OwnershipTags) a bucket setup
	// creates carries; ClusterID is whose they say it is.
	Tags      iam.Tags
	ClusterID string
	// From is the ID of the cluster whose location the bucket is (setup
	// --from-cluster, or its record): it must exist, and is only read.
	From string
}

// State is the bucket as Read found it.
type State struct {
	Exists bool
	// Forbidden: S3 refused HeadBucket with this account as the expected
	// owner, so another account owns the name (or this identity may not see
	// the bucket at all; S3 does not say which).
	Forbidden bool
	Region    string
	// PublicAccessBlocked is true when all four Block Public Access settings are on.
	PublicAccessBlocked bool
	// Encryption is the default encryption's algorithm ("" for none) and key.
	Encryption string
	KMSKey     string
	Tags       iam.Tags
	// Versioning is "Enabled", "Suspended" or "" (never enabled).
	Versioning string
}

// Kind of plan.
type Kind string

const (
	Create Kind = "create"
	// Ours is a bucket an earlier setup made for this cluster (our tags).
	Ours Kind = "ours"
	// Adopt is an existing bucket of this account in the cluster's region.
	Adopt Kind = "adopt"
	// Shared is another cluster's bucket, which this one restores from
	// read-only: nothing about it is changed, and it is never deleted.
	Shared Kind = "shared"
	Refuse Kind = "refuse"
)

// Fix names one change Apply makes.
type Fix string

const (
	FixPublicAccess Fix = "public access block"
	FixEncryption   Fix = "default encryption"
	FixTags         Fix = "ownership tags"
	FixVersioning   Fix = "versioning"
)

// Plan is what Decide chose.
type Plan struct {
	Want Want
	Kind Kind
	// Reason says why setup refuses, as the error's text.
	Reason string
	// Fixes are what Apply changes on an existing bucket (all of them for a new one).
	Fixes []Fix
	// Tags is the whole tag set PutBucketTagging writes (S3 replaces it).
	Tags iam.Tags

	owner string
}

// Adopted reports whether the plan uses a bucket setup did not make.
func (p *Plan) Adopted() bool { return p.Kind == Adopt }

// Owner is the ID of the other cluster whose bucket a Shared plan reads:
// the one Want named, else the one the bucket's tags name.
func (p *Plan) Owner() string { return p.owner }

// Changes reports whether Apply would change anything.
func (p *Plan) Changes() bool { return p.Kind == Create || len(p.Fixes) > 0 }

// Err is the refusal, nil when setup may go on.
func (p *Plan) Err() error {
	if p.Kind == Refuse {
		return errors.New(p.Reason)
	}
	return nil
}

// Line is the plan's one-line report, before (done=false) or after Apply.
func (p *Plan) Line(done bool) string {
	fixes := make([]string, len(p.Fixes))
	for i, f := range p.Fixes {
		fixes[i] = string(f)
	}
	what := "bucket " + p.Want.Name
	switch {
	case p.Kind == Refuse:
		return what + ": refused: " + p.Reason
	case p.Kind == Create && done:
		return what + ": created in " + p.Want.Region + " (" + strings.Join(fixes, ", ") + ")"
	case p.Kind == Create:
		return what + ": would create in " + p.Want.Region + " (" + strings.Join(fixes, ", ") + ")"
	}
	if p.Kind == Shared {
		return what + ": another cluster's (" + p.owner + "), read-only here: not changed, never deleted by this cluster's cleanup"
	}
	adopted := ""
	if p.Kind == Adopt {
		adopted = " (adopted: an existing bucket of this account, never deleted by cleanup)"
	}
	switch {
	case len(fixes) == 0:
		return what + ": unchanged" + adopted
	case done:
		return what + ": updated (" + strings.Join(fixes, ", ") + ")" + adopted
	}
	return what + ": would update (" + strings.Join(fixes, ", ") + ")" + adopted
}

// Decide turns the bucket's state into a plan. It is pure.
func Decide(w Want, st State) Plan {
	p := Plan{Want: w}
	refuse := func(format string, a ...any) Plan {
		p.Kind, p.Reason, p.Fixes = Refuse, fmt.Sprintf(format, a...), nil
		return p
	}
	wantEnc := SSES3
	if w.KMSKeyARN != "" {
		wantEnc = SSEKMS
	}
	if w.From != "" {
		return decideShared(w, st, p)
	}
	if !st.Exists && !st.Forbidden {
		p.Kind = Create
		p.Fixes = []Fix{FixPublicAccess, FixEncryption, FixTags}
		if w.Versioning {
			p.Fixes = append(p.Fixes, FixVersioning)
		}
		p.Tags = w.Tags
		return p
	}
	if st.Forbidden {
		return refuse("bucket %s exists and is not this account's (%s): S3 bucket names are global, so another account owns it (or this identity may not read it); choose another name with --bucket", w.Name, w.AccountID)
	}
	if st.Region != w.Region {
		return refuse("bucket %s is in region %s, and the cluster is in %s: a backup location in another region than its cluster is not what setup makes; choose another --bucket, or use this one with a location you write yourself", w.Name, st.Region, w.Region)
	}
	ours := st.Tags[iam.TagManagedBy] == iam.ManagedBy
	if other := st.Tags[iam.TagOwnerClusterID]; ours && other != w.ClusterID {
		// Made by this plugin for another cluster: that cluster's location,
		// which this one may only read (the chapter's two-cluster case).
		p.Kind, p.owner = Shared, other
		return p
	}
	p.Kind = Adopt
	if ours {
		p.Kind = Ours
	}
	if !st.PublicAccessBlocked {
		p.Fixes = append(p.Fixes, FixPublicAccess)
	}
	switch {
	case p.Kind == Adopt && st.Encryption == SSEKMS && w.KMSKeyARN == "":
		// Rewriting someone's KMS encryption to SSE-S3 would be a downgrade,
		// and the role could not read what the key encrypted.
		return refuse("bucket %s is encrypted with KMS key %s: pass --kms-key-arn %s so the role may use the key, or choose another --bucket", w.Name, st.KMSKey, st.KMSKey)
	case st.Encryption != wantEnc || (wantEnc == SSEKMS && st.KMSKey != w.KMSKeyARN):
		p.Fixes = append(p.Fixes, FixEncryption)
	}
	if p.Kind == Ours {
		if missing := st.Tags.Missing(w.Tags, true); len(missing) > 0 {
			p.Fixes = append(p.Fixes, FixTags)
			p.Tags = st.Tags.With(w.Tags)
		}
	}
	// Versioning once enabled can only be suspended, which keeps the old
	// versions: setup turns it on when asked and never off.
	if w.Versioning && st.Versioning != "Enabled" {
		p.Fixes = append(p.Fixes, FixVersioning)
	}
	return p
}

// decideShared plans another cluster's bucket: it must exist in the
// cluster's region, and nothing about it is changed.
func decideShared(w Want, st State, p Plan) Plan {
	p.owner = w.From
	switch {
	case st.Forbidden:
		p.Kind, p.Reason = Refuse, fmt.Sprintf("bucket %s of cluster %s is not this account's (%s), or this identity may not read it: a location of another account is not what setup sets up", w.Name, w.From, w.AccountID)
	case !st.Exists:
		p.Kind, p.Reason = Refuse, fmt.Sprintf("bucket %s of cluster %s does not exist: run setup on that cluster first, or name its location with --from-cluster", w.Name, w.From)
	case st.Region != w.Region:
		p.Kind, p.Reason = Refuse, fmt.Sprintf("bucket %s of cluster %s is in region %s, and this cluster is in %s: its volume snapshots cannot be restored across regions with STS credentials; restore on a cluster in %s", w.Name, w.From, st.Region, w.Region, st.Region)
	default:
		p.Kind = Shared
	}
	return p
}

// Drift lists what setup would fix on an existing bucket, for status: the
// plan's fixes, or the refusal.
func Drift(w Want, st State) (fixes []Fix, refusal string) {
	p := Decide(w, st)
	if p.Kind == Refuse {
		return nil, p.Reason
	}
	return p.Fixes, ""
}

// inRegion sends a call to the bucket's region, where S3 answers it.
func inRegion(region string) func(*s3.Options) {
	return func(o *s3.Options) {
		if region != "" {
			o.Region = region
		}
	}
}

// Read learns the bucket's state. HeadBucket names this account as the
// expected owner, so a bucket of another account is Forbidden rather than
// read, and the bucket must be among the ones ListBuckets gives this account
// (S3-compatible stores that ignore the expected owner still list only the
// caller's own); the rest is read only for a bucket this account owns.
func Read(ctx context.Context, c API, w Want) (State, error) {
	var st State
	in := &s3.HeadBucketInput{Bucket: &w.Name}
	if w.AccountID != "" {
		in.ExpectedBucketOwner = &w.AccountID
	}
	// One round trip wherever S3 is: whether the bucket exists, whether
	// this account lists it, and its settings, all at once. The settings'
	// answers count only for a bucket that exists, is ours and is in the
	// cluster's region; for any other, what they say is not read.
	var (
		head     *s3.HeadBucketOutput
		headErr  error
		mine     bool
		listErr  error
		settings State
		setErr   error
		wg       sync.WaitGroup
	)
	wg.Go(func() { head, headErr = c.HeadBucket(ctx, in, inRegion(w.Region)) })
	wg.Go(func() { mine, listErr = listed(ctx, c, w.Name, inRegion(w.Region)) })
	wg.Go(func() { settings, setErr = readSettings(ctx, c, w, State{Exists: true}, in.ExpectedBucketOwner) })
	wg.Wait()
	switch code := awsclient.ErrorCode(headErr); {
	case headErr == nil:
	case code == "NotFound" || code == "NoSuchBucket":
		return st, nil
	case code == "Forbidden" || code == "AccessDenied" || code == "403":
		st.Forbidden = true
		return st, nil
	case code == "301" || code == "MovedPermanently" || code == "PermanentRedirect":
		// Only a bucket in another region answers with a redirect.
	default:
		return st, awsclient.Explain("read bucket "+w.Name, headErr)
	}
	st.Exists = true
	if head != nil && head.BucketRegion != nil {
		st.Region = aws.ToString(head.BucketRegion)
	}
	if listErr != nil {
		return st, listErr
	}
	if !mine {
		st.Exists, st.Forbidden = false, true
		return st, nil
	}
	return settings, setErr
}

// readSettings reads the region and the settings setup hardens of a bucket
// this account owns, all at once. A bucket in another region is refused
// whatever its settings say, so their reads' errors are not reported then.
func readSettings(ctx context.Context, c API, w Want, st State, owner *string) (State, error) {
	opt := inRegion(w.Region)
	var (
		wg                                     sync.WaitGroup
		loc                                    *s3.GetBucketLocationOutput
		pab                                    *s3.GetPublicAccessBlockOutput
		enc                                    *s3.GetBucketEncryptionOutput
		tags                                   *s3.GetBucketTaggingOutput
		ver                                    *s3.GetBucketVersioningOutput
		locErr, pabErr, encErr, tagErr, verErr error
	)
	wg.Go(func() {
		loc, locErr = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &w.Name, ExpectedBucketOwner: owner}, opt)
	})
	wg.Go(func() { pab, pabErr = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &w.Name}, opt) })
	wg.Go(func() { enc, encErr = c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &w.Name}, opt) })
	wg.Go(func() { tags, tagErr = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &w.Name}, opt) })
	wg.Go(func() { ver, verErr = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &w.Name}, opt) })
	wg.Wait()
	if locErr != nil {
		return st, awsclient.Explain("read the region of bucket "+w.Name, locErr)
	}
	st.Region = regionOf(loc.LocationConstraint)
	if st.Region != w.Region {
		return st, nil // refused whatever the rest says
	}
	switch {
	case awsclient.ErrorCode(pabErr) == "NoSuchPublicAccessBlockConfiguration":
	case pabErr != nil:
		return st, awsclient.Explain("read the public access block of bucket "+w.Name, pabErr)
	default:
		b := pab.PublicAccessBlockConfiguration
		st.PublicAccessBlocked = b != nil && aws.ToBool(b.BlockPublicAcls) && aws.ToBool(b.IgnorePublicAcls) &&
			aws.ToBool(b.BlockPublicPolicy) && aws.ToBool(b.RestrictPublicBuckets)
	}
	switch {
	case awsclient.ErrorCode(encErr) == "ServerSideEncryptionConfigurationNotFoundError":
	case encErr != nil:
		return st, awsclient.Explain("read the default encryption of bucket "+w.Name, encErr)
	case enc.ServerSideEncryptionConfiguration != nil && len(enc.ServerSideEncryptionConfiguration.Rules) > 0:
		if d := enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault; d != nil {
			st.Encryption, st.KMSKey = string(d.SSEAlgorithm), aws.ToString(d.KMSMasterKeyID)
		}
	}
	st.Tags = iam.Tags{}
	switch {
	case awsclient.ErrorCode(tagErr) == "NoSuchTagSet":
	case tagErr != nil:
		return st, awsclient.Explain("read the tags of bucket "+w.Name, tagErr)
	default:
		for _, t := range tags.TagSet {
			st.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	if verErr != nil {
		return st, awsclient.Explain("read the versioning of bucket "+w.Name, verErr)
	}
	st.Versioning = string(ver.Status)
	return st, nil
}

// listed reports whether the caller's account owns a bucket of that name.
func listed(ctx context.Context, c API, name string, opt func(*s3.Options)) (bool, error) {
	pages := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{Prefix: &name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, opt)
		if err != nil {
			return false, awsclient.Explain("list this account's buckets", err)
		}
		if slices.ContainsFunc(page.Buckets, func(b types.Bucket) bool { return aws.ToString(b.Name) == name }) {
			return true, nil
		}
	}
	return false, nil
}

// regionOf reads GetBucketLocation's answer: empty is us-east-1, and the
// legacy "EU" is eu-west-1.
func regionOf(c types.BucketLocationConstraint) string {
	switch c {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	}
	return string(c)
}

// Apply makes the plan's changes: the bucket (Make), then its settings
// (Harden).
func Apply(ctx context.Context, c API, p Plan) error {
	if err := Make(ctx, c, p); err != nil {
		return err
	}
	return Harden(ctx, c, p)
}

// Make creates the bucket of a Create plan, and does nothing for another:
// Apply's first half, for a caller that sends the settings (Harden) when it
// chooses. A bucket that exists has none of the plan's settings yet.
func Make(ctx context.Context, c API, p Plan) error {
	w := p.Want
	if p.Kind == Refuse {
		return p.Err()
	}
	if p.Kind != Create {
		return nil
	}
	in := &s3.CreateBucketInput{Bucket: &w.Name}
	// us-east-1 is the one region S3 refuses as a LocationConstraint.
	if w.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(w.Region)}
	}
	_, err := c.CreateBucket(ctx, in, inRegion(w.Region))
	switch awsclient.ErrorCode(err) {
	case "BucketAlreadyExists":
		return fmt.Errorf("bucket %s was just taken by another account: choose another name with --bucket", w.Name)
	case "BucketAlreadyOwnedByYou":
		// Made by a run that was interrupted: go on hardening it.
	default:
		if err != nil {
			return awsclient.Explain("create bucket "+w.Name+" in "+w.Region, err)
		}
	}
	return nil
}

// Harden makes the plan's fixes on the bucket, which must exist: each is a
// call of its own, all at once.
func Harden(ctx context.Context, c API, p Plan) error {
	if p.Kind == Refuse {
		return p.Err()
	}
	errs := make([]error, len(p.Fixes))
	var wg sync.WaitGroup
	for i, f := range p.Fixes {
		wg.Go(func() { errs[i] = applyFix(ctx, c, p, f) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// applyFix makes one of the plan's fixes.
func applyFix(ctx context.Context, c API, p Plan, f Fix) error {
	w := p.Want
	opt := inRegion(w.Region)
	var err error
	switch f {
	case FixPublicAccess:
		_, err = c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &w.Name, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		}}, opt)
	case FixEncryption:
		def := &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}
		rule := types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: def}
		if w.KMSKeyARN != "" {
			def.SSEAlgorithm, def.KMSMasterKeyID = types.ServerSideEncryptionAwsKms, &w.KMSKeyARN
			// Bucket keys cut the KMS requests (and their cost) per object.
			rule.BucketKeyEnabled = aws.Bool(true)
		}
		_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &w.Name,
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{rule}}}, opt)
	case FixTags:
		tags := p.Tags
		if tags == nil {
			tags = w.Tags
		}
		var set []types.Tag
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			if tags[k] != "" {
				set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
			}
		}
		_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &w.Name, Tagging: &types.Tagging{TagSet: set}}, opt)
	case FixVersioning:
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &w.Name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}, opt)
	}
	if err != nil {
		return awsclient.Explain("set the "+string(f)+" of bucket "+w.Name, err)
	}
	return nil
}
