package status_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
)

// After a default setup (the bucket setup makes), status holds the policy to
// that bucket and the bucket to its hardening, both read from moto, and
// says what setup would fix when either drifts.
func TestStatusChecksTheBucketSetupMadeAndItsScopedPolicy(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	if res := clitest.Run(t, "setup", "--yes", "--wait=false"); res.Code != 0 {
		t.Fatalf("setup: exit %d: %s", res.Code, res.Stderr)
	}
	b := names.Bucket(rig.InfraName)
	hardening := "bucket hardening " + b

	rep, _ := statusJSON(t)
	if res, cause, _ := check(t, rep, "policy actions"); res != "ok" || !strings.Contains(message(rep, "policy actions"), "only bucket "+b) {
		t.Errorf("policy actions %s %q (%s), want ok naming only bucket %s", res, message(rep, "policy actions"), cause, b)
	}
	if res, cause, _ := check(t, rep, hardening); res != "ok" {
		t.Errorf("%s: %s (%s), want ok", hardening, res, cause)
	}

	// Drift: the public access block removed, and the chapter's policy on
	// every bucket made the default version.
	if _, err := r.S3().DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &b}); err != nil {
		t.Fatal(err)
	}
	arn := iam.PolicyARN("aws", rig.AWSAccount, iam.ScopedPolicyName(rig.InfraName))
	if _, err := r.IAM().CreatePolicyVersion(ctx, &awsiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn),
		PolicyDocument: aws.String(iam.PermissionsPolicy().JSON()), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}
	rep, _ = statusJSON(t)
	res, _, fix := check(t, rep, hardening)
	if res != "warning" || !strings.Contains(message(rep, hardening), "public access block") || !strings.Contains(fix, "setup") {
		t.Errorf("%s after the block was removed: %s %q, fix %q", hardening, res, message(rep, hardening), fix)
	}
	res, cause, _ := check(t, rep, "policy actions")
	if res != "warning" || !strings.Contains(cause, "s3:CreateBucket on *") || !strings.Contains(cause, "ec2:CreateSnapshot on *") {
		t.Errorf("policy actions with the chapter's document: %s, cause %q; want a warning naming what it grants beyond the bucket", res, cause)
	}

	// The policy detached from the bucket: a grant on another bucket only.
	other := strings.ReplaceAll(iam.ScopedPolicy(iam.Scope{Partition: "aws", Bucket: b, Prefix: "velero"}).JSON(), ":::"+b, ":::someone-else")
	if _, err := r.IAM().CreatePolicyVersion(ctx, &awsiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(other), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}
	rep, _ = statusJSON(t)
	if res, cause, _ := check(t, rep, "policy actions"); res != "failed" || !strings.Contains(cause, "s3:PutObject on arn:aws:s3:::"+b+"/velero/*") {
		t.Errorf("policy actions on another bucket: %s, cause %q; want failed naming the missing grant", res, cause)
	}
}
