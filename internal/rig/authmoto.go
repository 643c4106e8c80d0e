package rig

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// StartAuthorizingMoto starts a second, empty moto that evaluates IAM
// policies: after freeActions unauthenticated AWS requests (enough to make a
// user, its key, a policy and buckets with the "testing" key) every request
// must be signed by a known access key and is allowed or denied by moto's own
// policy evaluation (moto's INITIAL_NO_AUTH_ACTION_COUNT). The rig's main
// moto stays without authorization, since the plugin's tests sign with keys
// moto's IAM does not know. It stops with the rig, or with stop.
func (r *Rig) StartAuthorizingMoto(ctx context.Context, freeActions int) (endpoint string, stop func(), err error) {
	argv, err := motoCommand()
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	endpoint = "http://127.0.0.1:" + itoa(port)
	p, err := r.start("moto-auth-"+itoa(port), argv[0], append(argv[1:], "-H", "127.0.0.1", "-p", itoa(port)), []string{
		"MOTO_ALLOW_NONEXISTENT_REGION=true",
		"INITIAL_NO_AUTH_ACTION_COUNT=" + itoa(freeActions),
		"MOTO_RECORDER_FILEPATH=" + filepath.Join(r.Dir, "moto_auth_recording"),
		// A test's UseEnv sets AWS_PROFILE="", which moto's own botocore
		// refuses when it renders an error.
		"-AWS_PROFILE", "-AWS_CONFIG_FILE",
	})
	if err != nil {
		return "", nil, err
	}
	if err := waitHTTP(ctx, p, http.DefaultClient, endpoint+"/moto-api/data.json", 60*time.Second, func(resp *http.Response) bool { return resp.StatusCode == 200 }); err != nil {
		p.stop()
		return "", nil, err
	}
	return endpoint, p.stop, nil
}

// RoleUnderPolicy is a role holding one permissions policy in an
// authorizing moto: S3 requests made with AsRole are allowed or denied by
// moto's own policy evaluation, not by the plugin's reading of the document.
type RoleUnderPolicy struct {
	AsRole *s3.Client
	stop   func()
}

// Stop stops the authorizing moto.
func (p *RoleUnderPolicy) Stop() { p.stop() }

// PutRolePolicy starts an authorizing moto (StartAuthorizingMoto) and, while
// requests there are still free, makes a user, a role that user may assume
// holding the permissions document doc, the buckets (in region) and the
// objects (keyed "bucket/key", with their bodies); then assumes the role as
// that user. Every request after that is judged.
func (r *Rig) PutRolePolicy(ctx context.Context, doc, region string, buckets []string, objects map[string]string) (_ *RoleUnderPolicy, err error) {
	const iamSetupCalls = 7 // user, key, assume policy and attachment, role, policy and attachment
	endpoint, stop, err := r.StartAuthorizingMoto(ctx, iamSetupCalls+len(buckets)+len(objects))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	cfg := r.AWSConfig()
	cfg.BaseEndpoint = aws.String(endpoint)
	admin := iam.NewFromConfig(cfg)
	roleARN := "arn:aws:iam::" + AWSAccount + ":role/under-policy"
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("velero")}); err != nil {
		return nil, err
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("velero")})
	if err != nil {
		return nil, err
	}
	assume, err := admin.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("assume"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + roleARN + `"}]}`)})
	if err != nil {
		return nil, err
	}
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("velero"), PolicyArn: assume.Policy.Arn}); err != nil {
		return nil, err
	}
	if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("under-policy"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + AWSAccount + `:user/velero"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		return nil, err
	}
	pol, err := admin.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("under-test"), PolicyDocument: aws.String(doc)})
	if err != nil {
		return nil, err
	}
	if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("under-policy"), PolicyArn: pol.Policy.Arn}); err != nil {
		return nil, err
	}
	s3admin := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, name := range buckets {
		if _, err := s3admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}}); err != nil {
			return nil, err
		}
	}
	for path, body := range objects {
		bucket, k, _ := strings.Cut(path, "/")
		if _, err := s3admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(body)}); err != nil {
			return nil, err
		}
	}
	userCfg := cfg
	userCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	as, err := sts.NewFromConfig(userCfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("velero")})
	if err != nil {
		return nil, fmt.Errorf("assume the role under test: %w", err)
	}
	roleCfg := cfg
	roleCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(as.Credentials.AccessKeyId), aws.ToString(as.Credentials.SecretAccessKey), aws.ToString(as.Credentials.SessionToken))
	asRole := s3.NewFromConfig(roleCfg, func(o *s3.Options) {
		o.UsePathStyle = true
		// moto fails (500) to render a denial of a request with a trailing
		// checksum; without one it answers AccessDenied as S3 does.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.RetryMaxAttempts = 1
	})
	return &RoleUnderPolicy{AsRole: asRole, stop: stop}, nil
}
