package cmd_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	oadpiam "github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

const installer = "oadp-installer"

// setup, status and cleanup as an IAM user holding only what
// `policy --for-user` prints, on moto with IAM authorization on: they
// succeed, every AWS request they made is allowed by an action of that
// policy (read from moto's recorder, mapped to actions here, not by the
// plugin's table), and without one of its actions setup and cleanup fail
// with a message that names the action.
//
//nolint:funlen // one user and one moto in authorizing mode, the three commands run in turn on what the one before left
func TestLeastPolicyForTheUser(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()

	res := clitest.Run(t, "policy", "--for-user")
	if res.Code != 0 {
		t.Fatalf("policy --for-user: exit %d: %s", res.Code, res.Stderr)
	}
	printed := res.Stdout
	allowed := policyActions(t, printed)

	var reqs []rig.AWSRequest
	// recorded runs the plugin as the user, with moto authorizing, and
	// keeps what it asked AWS.
	recorded := func(args ...string) clitest.Result {
		t.Helper()
		withAuthorization(t, r)
		stop, err := r.RecordAWS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res := clitest.Run(t, args...)
		got, err := stop()
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, got...)
		authorizeOff(t, r)
		return res
	}
	denied := func(res clitest.Result) bool {
		return strings.Contains(res.Stdout+res.Stderr, "AccessDenied") || strings.Contains(res.Stdout+res.Stderr, "not authorized")
	}

	userWithPolicy(t, r, printed)
	if res := recorded("setup", "--yes", "--wait=false"); res.Code != 0 {
		t.Fatalf("setup under the least policy: exit %d:\n%s", res.Code, res.Stderr)
	}
	if res := recorded("status"); denied(res) {
		t.Errorf("status under the least policy was refused something:\n%s%s", res.Stdout, res.Stderr)
	}
	// The bucket setup made, with an object in it: cleanup empties and
	// deletes it.
	bucket := rig.InfraName + "-oadp"
	if _, err := r.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("velero/backups/x/velero-backup.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatalf("setup made no bucket %s: %v", bucket, err)
	}

	// Without iam:DeleteRole, cleanup is refused by name; with the whole
	// policy again, it finishes.
	userWithPolicy(t, r, without(t, printed, "iam:DeleteRole"))
	res = recorded("cleanup", "--yes", "--keep-crds", "--timeout=60s")
	if res.Code != 1 || !strings.Contains(res.Stderr, "iam:DeleteRole") {
		t.Errorf("cleanup without iam:DeleteRole: exit %d, want 1 and an error naming the action:\n%s", res.Code, res.Stderr)
	}
	userWithPolicy(t, r, printed)
	res = recorded("cleanup", "--yes", "--keep-crds", "--timeout=60s")
	// The CRDs are the rig's fixture, shared with the package's other tests.
	if res.Code != 0 || denied(res) {
		t.Errorf("cleanup under the least policy: exit %d:\n%s", res.Code, res.Stderr)
	}

	// What the commands did, read back as the rig's admin.
	if _, err := r.IAM().GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(rig.InfraName + oadpiam.RoleSuffix)}); err == nil {
		t.Errorf("cleanup left the role")
	}
	if _, err := r.S3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err == nil {
		t.Errorf("cleanup left bucket %s", bucket)
	}

	// Without iam:CreateRole, setup is refused by name, before the cluster.
	userWithPolicy(t, r, without(t, printed, "iam:CreateRole"))
	res = recorded("setup", "--yes", "--wait=false")
	if res.Code != 1 || !strings.Contains(res.Stderr, "iam:CreateRole") {
		t.Errorf("setup without iam:CreateRole: exit %d, want 1 and an error naming the action:\n%s", res.Code, res.Stderr)
	}

	// Every request the commands made is covered by the printed policy, so
	// an AWS call added later without its action fails here, not in a
	// user's account. (The refusals above were requests too: still covered.)
	var called []string
	for _, q := range reqs {
		a := iamAction(t, q)
		if !slices.Contains(called, a) {
			called = append(called, a)
		}
		if !slices.Contains(allowed, a) {
			t.Errorf("%s %s needs %s, which policy --for-user does not print", q.Method, q.Path, a)
		}
	}
	slices.Sort(called)
	t.Logf("called %d actions: %v", len(called), called)
	if len(called) < 15 {
		t.Errorf("only %d actions called: setup and cleanup did less than the test needs to prove anything", len(called))
	}
}

// userWithPolicy makes the IAM user with doc as its only policy (the rig's
// admin, authorization off), and points the plugin at a new key of it.
func userWithPolicy(t *testing.T, r *rig.Rig, doc string) {
	t.Helper()
	ctx := context.Background()
	c := r.IAM()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(installer)}); err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		t.Fatal(err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(installer), PolicyName: aws.String("oadp-sts"), PolicyDocument: aws.String(withMotoNames(t, doc))}); err != nil {
		t.Fatal(err)
	}
	if keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(installer)}); err != nil || len(keys.AccessKeyMetadata) > 0 {
		return // made already, and the plugin pointed at it
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(installer)})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", aws.ToString(key.AccessKey.AccessKeyId))
	t.Setenv("AWS_SECRET_ACCESS_KEY", aws.ToString(key.AccessKey.SecretAccessKey))
}

// motoNames are the S3 actions moto's authorizer asks for under a name of its
// own (moto/s3/responses.py's ACTION_MAP), beside the name IAM's service
// authorization reference gives. moto checks the grant under its name, so
// the user's policy carries both; what the plugin prints, and what the test
// holds it to, is IAM's names only.
var motoNames = map[string]string{
	"s3:ListBucket":                 "s3:HeadBucket",
	"s3:GetBucketPublicAccessBlock": "s3:GetPublicAccessBlock",
	"s3:PutBucketPublicAccessBlock": "s3:PutPublicAccessBlock",
}

func withMotoNames(t *testing.T, doc string) string {
	t.Helper()
	var d struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	for _, st := range d.Statement {
		acts, _ := st["Action"].([]any)
		for _, a := range acts {
			if m, ok := motoNames[a.(string)]; ok {
				acts = append(acts, m)
			}
		}
		st["Action"] = acts
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func withAuthorization(t *testing.T, r *rig.Rig) {
	t.Helper()
	if err := r.AuthorizeAWS(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authorizeOff(t, r) })
}

func authorizeOff(t *testing.T, r *rig.Rig) {
	if err := r.AuthorizeAWS(context.Background(), false); err != nil {
		t.Error(err)
	}
}

func policyActions(t *testing.T, doc string) []string {
	t.Helper()
	var d struct{ Statement []struct{ Action []string } }
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy --for-user printed no policy: %v\n%s", err, doc)
	}
	var out []string
	for _, s := range d.Statement {
		out = append(out, s.Action...)
	}
	return out
}

func without(t *testing.T, doc, action string) string {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range d["Statement"].([]any) {
		st := s.(map[string]any)
		acts := st["Action"].([]any)
		st["Action"] = slices.DeleteFunc(acts, func(a any) bool { found = found || a == action; return a == action })
	}
	if !found {
		t.Fatalf("the policy has no %s to take away", action)
	}
	b, _ := json.Marshal(d)
	return string(b)
}

// iamAction is the IAM action a recorded request needs, from AWS's service
// authorization reference: for the Query APIs the Action parameter, for S3
// the REST operation's action.
func iamAction(t *testing.T, q rig.AWSRequest) string {
	t.Helper()
	if q.Method == http.MethodGet && (q.Path == "/" || strings.HasPrefix(q.Path, "/?")) {
		// IAM and STS are POSTed queries; a GET of the root is S3's ListBuckets.
		return "s3:ListAllMyBuckets"
	}
	if q.Path == "/" || strings.HasPrefix(q.Path, "/?") {
		if q.Action == "GetCallerIdentity" || strings.HasPrefix(q.Action, "AssumeRole") {
			return "sts:" + q.Action
		}
		return "iam:" + q.Action
	}
	path, query, _ := strings.Cut(q.Path, "?")
	object := strings.Count(strings.Trim(path, "/"), "/") > 0
	sub := func(name string) bool {
		for _, p := range strings.Split(query, "&") {
			if k, _, _ := strings.Cut(p, "="); k == name {
				return true
			}
		}
		return false
	}
	switch {
	case q.Method == http.MethodHead && !object:
		return "s3:ListBucket"
	case q.Method == http.MethodGet && sub("location"):
		return "s3:GetBucketLocation"
	case q.Method == http.MethodGet && sub("tagging") && !object:
		return "s3:GetBucketTagging"
	case q.Method == http.MethodGet && sub("versions"):
		return "s3:ListBucketVersions"
	case q.Method == http.MethodGet && sub("versioning"):
		return "s3:GetBucketVersioning"
	case q.Method == http.MethodGet && sub("publicAccessBlock"):
		return "s3:GetBucketPublicAccessBlock"
	case q.Method == http.MethodGet && sub("encryption"):
		return "s3:GetEncryptionConfiguration"
	case q.Method == http.MethodGet && !object:
		return "s3:ListBucket"
	case q.Method == http.MethodPost && sub("delete"):
		return "s3:DeleteObject"
	case q.Method == http.MethodDelete && object:
		return "s3:DeleteObject"
	case q.Method == http.MethodDelete:
		return "s3:DeleteBucket"
	case q.Method == http.MethodPut && !object && query == "":
		return "s3:CreateBucket"
	case q.Method == http.MethodPut && sub("tagging"):
		return "s3:PutBucketTagging"
	case q.Method == http.MethodPut && sub("publicAccessBlock"):
		return "s3:PutBucketPublicAccessBlock"
	case q.Method == http.MethodPut && sub("encryption"):
		return "s3:PutEncryptionConfiguration"
	case q.Method == http.MethodPut && sub("versioning"):
		return "s3:PutBucketVersioning"
	}
	t.Errorf("%s %s: no IAM action known for this S3 request; teach iamAction", q.Method, q.Path)
	return q.Method + " " + q.Path
}
