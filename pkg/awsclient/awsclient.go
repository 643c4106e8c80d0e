// Package awsclient loads AWS configuration the way the aws CLI does and names
// the narrow slices of the SDK clients the plugin uses. Each interface keeps the
// SDK's own method signatures, so *iam.Client, *sts.Client and *s3.Client
// satisfy them; the tests run them against moto, with internal/faults in
// between for throttles and failures.
package awsclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/spf13/pflag"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/version"
)

// Options are the AWS flags shared by every command.
type Options struct {
	Profile string
	// MaxAttempts bounds the SDK's standard retryer: throttles, 5xx answers
	// and connection errors. IAM's eventual consistency is not among them;
	// pkg/iam retries the calls it affects itself.
	MaxAttempts int
}

// NewOptions returns the defaults.
func NewOptions() *Options { return &Options{MaxAttempts: 8} }

// AddFlags binds the AWS flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Profile, "aws-profile", o.Profile, "AWS shared-config profile (default: AWS_PROFILE, then the SDK's default chain)")
}

// FallbackRegion is the region of AWS calls when neither the user's AWS
// configuration nor the cluster names one.
const FallbackRegion = "us-east-1"

// Load returns the SDK configuration: --aws-profile, then the SDK's default
// chain, so AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL work as in the aws CLI.
// Its Region is "" when the configuration names none: the caller then uses the
// cluster's (WithRegion), so that STS and IAM are asked in the cluster's
// partition; GovCloud and China credentials are refused by the commercial
// endpoints.
func (o *Options) Load(ctx context.Context) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithAppID(strings.ReplaceAll(version.UserAgent(), "/", "-")),
		config.WithRetryer(func() aws.Retryer { return o.retryer() }),
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("cannot load AWS configuration: %w (check --aws-profile / AWS_PROFILE and ~/.aws/config)", err)
	}
	return cfg, nil
}

// MaxBackoff bounds the wait between two attempts, so that a run of
// attempts ends in well under a minute: a throttle that outlasts it is not
// a burst, and the user should hear of it.
const MaxBackoff = 5 * time.Second

// retryer is the SDK's adaptive mode: after a throttle it slows this
// client's own sending rate, so the calls one run makes at once (setup's
// overlapped reads, a fleet of clusters) back off together instead of each
// retrying into the limit. Attempts and backoff stay bounded.
func (o *Options) retryer() aws.Retryer {
	return retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
		ao.StandardOptions = append(ao.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts(o.MaxAttempts)
			so.MaxBackoff = MaxBackoff
			// The retry quota would turn a burst of throttles into hard
			// failures; the adaptive rate limit paces the retries instead.
			so.RateLimiter = ratelimit.None
		})
	})
}

// WithRegion returns cfg with region as its region when cfg names none, else
// FallbackRegion when region is "" too.
func WithRegion(cfg aws.Config, region string) aws.Config {
	cfg.Region = cmp.Or(cfg.Region, region, FallbackRegion)
	return cfg
}

// maxAttempts honors AWS_MAX_ATTEMPTS as the aws CLI does; the SDK itself
// ignores it once a retryer of our own is configured.
func maxAttempts(def int) int {
	if n, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && n > 0 {
		return n
	}
	return def
}

// STSAPI is the part of STS the plugin calls.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error)
}

// IAMAPI is the part of IAM the plugin calls.
type IAMAPI interface {
	GetOpenIDConnectProvider(ctx context.Context, in *iam.GetOpenIDConnectProviderInput, optFns ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	CreatePolicy(ctx context.Context, in *iam.CreatePolicyInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyOutput, error)
	CreatePolicyVersion(ctx context.Context, in *iam.CreatePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyVersionOutput, error)
	ListPolicyVersions(ctx context.Context, in *iam.ListPolicyVersionsInput, optFns ...func(*iam.Options)) (*iam.ListPolicyVersionsOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iam.DeletePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.DeletePolicyVersionOutput, error)
	DeletePolicy(ctx context.Context, in *iam.DeletePolicyInput, optFns ...func(*iam.Options)) (*iam.DeletePolicyOutput, error)
	TagPolicy(ctx context.Context, in *iam.TagPolicyInput, optFns ...func(*iam.Options)) (*iam.TagPolicyOutput, error)
	ListEntitiesForPolicy(ctx context.Context, in *iam.ListEntitiesForPolicyInput, optFns ...func(*iam.Options)) (*iam.ListEntitiesForPolicyOutput, error)
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListRoles(ctx context.Context, in *iam.ListRolesInput, optFns ...func(*iam.Options)) (*iam.ListRolesOutput, error)
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	DeleteRole(ctx context.Context, in *iam.DeleteRoleInput, optFns ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
	UpdateAssumeRolePolicy(ctx context.Context, in *iam.UpdateAssumeRolePolicyInput, optFns ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	TagRole(ctx context.Context, in *iam.TagRoleInput, optFns ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	PutRolePermissionsBoundary(ctx context.Context, in *iam.PutRolePermissionsBoundaryInput, optFns ...func(*iam.Options)) (*iam.PutRolePermissionsBoundaryOutput, error)
	DeleteRolePermissionsBoundary(ctx context.Context, in *iam.DeleteRolePermissionsBoundaryInput, optFns ...func(*iam.Options)) (*iam.DeleteRolePermissionsBoundaryOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	DetachRolePolicy(ctx context.Context, in *iam.DetachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
}

// S3API is the part of S3 the plugin calls.
type S3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteBucket(ctx context.Context, in *s3.DeleteBucketInput, optFns ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

var (
	_ STSAPI = (*sts.Client)(nil)
	_ IAMAPI = (*iam.Client)(nil)
	_ S3API  = (*s3.Client)(nil)
)

// Clients are the service clients of one run, all built from one aws.Config.
type Clients struct {
	STS STSAPI
	IAM IAMAPI
	S3  S3API
}

// New builds the clients. S3 uses path-style addressing when an endpoint
// override is set, which S3-compatible endpoints (and moto) need.
func New(cfg aws.Config) *Clients {
	endpointSet := os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	return &Clients{
		STS: sts.NewFromConfig(cfg),
		IAM: iam.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.UsePathStyle = o.UsePathStyle || endpointSet
		}),
	}
}

// ErrorCode returns the AWS error code of err ("NoSuchEntity", "AccessDenied"), or "".
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether err is AWS's "no such thing".
func IsNotFound(err error) bool {
	switch ErrorCode(err) {
	case "NoSuchEntity", "NoSuchBucket", "NotFound", "NoSuchKey":
		return true
	}
	return false
}

// IsAccessDenied reports whether AWS refused the call for lack of permission.
func IsAccessDenied(err error) bool {
	switch ErrorCode(err) {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden":
		return true
	}
	return false
}

// Explain turns an SDK error into one lower-case line that says what to do.
// what names the action ("read the caller identity").
func Explain(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") ||
		strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "anonymous credentials"):
		return fmt.Errorf("no AWS credentials found to %s: set --aws-profile or AWS_PROFILE, or run 'aws configure' or 'aws sso login'", what)
	case IsAccessDenied(err):
		return fmt.Errorf("AWS denied the request to %s: %s (grant the calling identity this permission: 'kubectl oadp-sts policy --for-user' prints all the plugin needs; or use another --aws-profile)", what, apiMessage(err))
	case ErrorCode(err) == "ExpiredToken" || ErrorCode(err) == "ExpiredTokenException":
		return fmt.Errorf("the AWS session has expired, cannot %s: refresh it (for example 'aws sso login')", what)
	}
	if code := ErrorCode(err); code != "" {
		return fmt.Errorf("cannot %s: AWS answered %s: %s%s", what, code, apiMessage(err), gaveUp(err))
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}

// gaveUp says the retryer ran out of attempts: throttling and 5xx answers
// are retried, so one that is reported has persisted.
func gaveUp(err error) string {
	var me *retry.MaxAttemptsError
	if !errors.As(err, &me) {
		return ""
	}
	if IsThrottle(err) {
		return fmt.Sprintf(" (still throttled after %d attempts: AWS is limiting this account's request rate; wait a minute and rerun, or run fewer at once)", me.Attempt)
	}
	return fmt.Sprintf(" (still failing after %d attempts: AWS is throttling or unavailable, try again later)", me.Attempt)
}

// IsThrottle reports whether AWS refused the call to limit the request rate.
func IsThrottle(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != "" {
		return ae.ErrorMessage()
	}
	return err.Error()
}
