package setup_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

var (
	roleName  = rig.InfraName + "-openshift-oadp-aws-cloud-credentials"
	policyARN = "arn:aws:iam::" + rig.AWSAccount + ":policy/OadpVer1"
)

// The chapter's documents, as its heredocs write them (variables filled in):
// what setup must produce, written independently of the builders.
const (
	chapterPolicy = `{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": [ "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeVolumeAttribute", "ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus", "ec2:CreateTags", "ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:DeleteSnapshot" ], "Resource": "*" } ]}`
	chapterTrust  = `{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Federated": "arn:aws:iam::` + rig.AWSAccount + `:oidc-provider/` + rig.IssuerHost + `" }, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": { "StringEquals": { "` + rig.IssuerHost + `:sub": [ "system:serviceaccount:openshift-adp:openshift-adp-controller-manager", "system:serviceaccount:openshift-adp:velero"] } } }] }`
)

func chapterPolicyTags() map[string]string {
	return map[string]string{"openshift_version": rig.OpenShiftVer, "operator_namespace": "openshift-adp", "operator_name": "oadp"}
}

func chapterRoleTags() map[string]string {
	t := chapterPolicyTags()
	t["cluster_id"] = rig.ClusterID
	return t
}

// sameDoc compares two documents in IAM's sense, both given as JSON text.
func sameDoc(t *testing.T, got, want string) bool {
	t.Helper()
	a, err := iam.DecodeDocument(got)
	if err != nil {
		t.Fatalf("document from IAM: %v", err)
	}
	b, err := iam.DecodeDocument(want)
	if err != nil {
		t.Fatal(err)
	}
	eq1, _ := iam.Equal(got, mustDoc(t, b))
	eq2, _ := iam.Equal(want, mustDoc(t, a))
	return eq1 && eq2
}

// mustDoc turns a parsed JSON document into an iam.Document by way of its
// statements, so Equal can compare any two JSON texts.
func mustDoc(t *testing.T, v any) iam.Document {
	t.Helper()
	m := v.(map[string]any)
	var sts []iam.Statement
	raw := m["Statement"]
	list, ok := raw.([]any)
	if !ok {
		list = []any{raw}
	}
	for _, s := range list {
		sm := s.(map[string]any)
		st := iam.Statement{Effect: sm["Effect"].(string), Action: sm["Action"]}
		if r, ok := sm["Resource"].(string); ok {
			st.Resource = r
		}
		if p, ok := sm["Principal"].(map[string]any); ok {
			st.Principal = map[string]string{}
			for k, v := range p {
				st.Principal[k] = v.(string)
			}
		}
		if c, ok := sm["Condition"].(map[string]any); ok {
			st.Condition = map[string]map[string][]string{}
			for op, kv := range c {
				st.Condition[op] = map[string][]string{}
				for k, v := range kv.(map[string]any) {
					switch vv := v.(type) {
					case string:
						st.Condition[op][k] = []string{vv}
					case []any:
						for _, e := range vv {
							st.Condition[op][k] = append(st.Condition[op][k], e.(string))
						}
					}
				}
			}
		}
		sts = append(sts, st)
	}
	return iam.Document{Version: m["Version"].(string), Statement: sts}
}

// state is IAM as read back from moto.
type state struct {
	policyExists, roleExists bool
	policyDoc, trustDoc      string
	policyTags, roleTags     map[string]string
	rolePath, boundary       string
	attached                 bool
	policyVersions           int
}

func readState(t *testing.T, r *rig.Rig) state {
	t.Helper()
	ctx := context.Background()
	c := r.IAM()
	var s state
	if p, err := c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: aws.String(policyARN)}); err == nil {
		s.policyExists = true
		s.policyTags = tagMap(p.Policy.Tags)
		v, err := c.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(policyARN), VersionId: p.Policy.DefaultVersionId})
		if err != nil {
			t.Fatal(err)
		}
		s.policyDoc = aws.ToString(v.PolicyVersion.Document)
		vs, err := c.ListPolicyVersions(ctx, &awsiam.ListPolicyVersionsInput{PolicyArn: aws.String(policyARN)})
		if err != nil {
			t.Fatal(err)
		}
		s.policyVersions = len(vs.Versions)
	}
	if ro, err := c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(roleName)}); err == nil {
		s.roleExists = true
		s.trustDoc = aws.ToString(ro.Role.AssumeRolePolicyDocument)
		s.roleTags = tagMap(ro.Role.Tags)
		s.rolePath = aws.ToString(ro.Role.Path)
		if ro.Role.PermissionsBoundary != nil {
			s.boundary = aws.ToString(ro.Role.PermissionsBoundary.PermissionsBoundaryArn)
		}
		att, err := c.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(roleName)})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range att.AttachedPolicies {
			s.attached = s.attached || aws.ToString(p.PolicyArn) == policyARN
		}
	}
	return s
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// checkChapterState asserts IAM holds what the chapter's commands produce.
func checkChapterState(t *testing.T, s state) {
	t.Helper()
	if !s.policyExists || !s.roleExists {
		t.Fatalf("policy exists %v, role exists %v; want both", s.policyExists, s.roleExists)
	}
	if !sameDoc(t, s.policyDoc, chapterPolicy) {
		t.Errorf("policy document differs from the chapter's:\n%s", s.policyDoc)
	}
	if !sameDoc(t, s.trustDoc, chapterTrust) {
		t.Errorf("trust policy differs from the chapter's:\n%s", s.trustDoc)
	}
	for k, v := range chapterPolicyTags() {
		if s.policyTags[k] != v {
			t.Errorf("policy tag %s = %q, want %q (tags %v)", k, s.policyTags[k], v, s.policyTags)
		}
	}
	for k, v := range chapterRoleTags() {
		if s.roleTags[k] != v {
			t.Errorf("role tag %s = %q, want %q (tags %v)", k, s.roleTags[k], v, s.roleTags)
		}
	}
	if !s.attached {
		t.Error("policy not attached to the role")
	}
}

func mutating(reqs []rig.AWSRequest) []string {
	var out []string
	for _, q := range reqs {
		if q.Mutating() {
			out = append(out, q.Action)
		}
	}
	return out
}

func actions(reqs []rig.AWSRequest) []string {
	out := make([]string, len(reqs))
	for i, q := range reqs {
		out[i] = q.Action
	}
	return out
}

func record(t *testing.T, r *rig.Rig) func() []rig.AWSRequest {
	t.Helper()
	stop, err := r.RecordAWS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func() []rig.AWSRequest {
		reqs, err := stop()
		if err != nil {
			t.Fatal(err)
		}
		return reqs
	}
}

func setupYes(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	// The chapter's path: the tests of this file hold setup to its documents.
	res := clitest.Run(t, append([]string{"setup", "--yes", "--wait=false", "--cloudstorage"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("setup exit %d: %s", res.Code, res.Stderr)
	}
	return res
}

func TestSetupFreshAccount(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)

	stop := record(t, r)
	res := setupYes(t)
	reqs := stop()

	checkChapterState(t, readState(t, r))
	s := readState(t, r)
	for k, v := range map[string]string{iam.TagManagedBy: iam.ManagedBy, iam.TagOwnerClusterID: rig.ClusterID} {
		if s.roleTags[k] != v || s.policyTags[k] != v {
			t.Errorf("ownership tag %s: role %q, policy %q, want %q", k, s.roleTags[k], s.policyTags[k], v)
		}
	}
	for _, want := range []string{"policy OadpVer1: created", "role " + roleName + ": created", "attachment OadpVer1 to " + roleName + ": created",
		"role ARN: arn:aws:iam::" + rig.AWSAccount + ":role/" + roleName} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if res.Stdout != "" {
		t.Errorf("stdout is for manifests, got %q", res.Stdout)
	}
	acts := actions(reqs)
	if slices.Contains(acts, "ListPolicies") || !slices.Contains(acts, "GetPolicy") {
		t.Errorf("the policy must be found with GetPolicy, never by listing: %v", acts)
	}
	if got := mutating(reqs); len(got) != 3 {
		t.Errorf("mutating calls on a fresh account = %v, want CreatePolicy, CreateRole, AttachRolePolicy", got)
	}
	if i, j := slices.Index(acts, "GetOpenIDConnectProvider"), slices.Index(acts, "CreatePolicy"); i < 0 || i > j {
		t.Errorf("the OIDC provider must be checked before any change: %v", acts)
	}
}

func TestSetupSecondRunChangesNothing(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	setupYes(t)

	stop := record(t, r)
	// No --yes and no terminal: a converged account needs no confirmation.
	res := clitest.Run(t, "setup", "--wait=false")
	reqs := stop()
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if m := mutating(reqs); len(m) != 0 {
		t.Errorf("second setup made mutating calls %v", m)
	}
	for _, want := range []string{"policy OadpVer1: unchanged", "role " + roleName + ": unchanged", "attachment OadpVer1 to " + roleName + ": unchanged"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(res.Stderr, "created") || strings.Contains(res.Stderr, "updated") {
		t.Errorf("a converged run reports a change:\n%s", res.Stderr)
	}
	t.Logf("requests of a converged run: %v", actions(reqs))
}

func TestSetupRepairsDrift(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	ctx := context.Background()
	c := r.IAM()
	otherTrust := strings.Replace(chapterTrust, ":velero", ":intruder", 1)
	fewer := strings.Replace(chapterPolicy, `"s3:DeleteBucket", `, "", 1)

	cases := []struct {
		name      string
		drift     func(t *testing.T)
		wantLine  string
		wantCalls []string
	}{
		{name: "trust policy edited to another subject", wantLine: "role " + roleName + ": updated (trust policy)", wantCalls: []string{"UpdateAssumeRolePolicy"},
			drift: func(t *testing.T) {
				must(t, check(c.UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName), PolicyDocument: aws.String(otherTrust)})))
			}},
		{name: "policy detached", wantLine: "attachment OadpVer1 to " + roleName + ": created", wantCalls: []string{"AttachRolePolicy"},
			drift: func(t *testing.T) {
				must(t, check(c.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: aws.String(roleName), PolicyArn: aws.String(policyARN)})))
			}},
		{name: "role tag removed", wantLine: "role " + roleName + ": updated (tags cluster_id)", wantCalls: []string{"TagRole"},
			drift: func(t *testing.T) {
				must(t, check(c.UntagRole(ctx, &awsiam.UntagRoleInput{RoleName: aws.String(roleName), TagKeys: []string{"cluster_id"}})))
			}},
		{name: "policy tag removed", wantLine: "policy OadpVer1: updated (tags operator_name)", wantCalls: []string{"TagPolicy"},
			drift: func(t *testing.T) {
				must(t, check(c.UntagPolicy(ctx, &awsiam.UntagPolicyInput{PolicyArn: aws.String(policyARN), TagKeys: []string{"operator_name"}})))
			}},
		{name: "policy document changed", wantLine: "policy OadpVer1: updated (document)", wantCalls: []string{"CreatePolicyVersion"},
			drift: func(t *testing.T) {
				must(t, check(c.CreatePolicyVersion(ctx, &awsiam.CreatePolicyVersionInput{PolicyArn: aws.String(policyARN), PolicyDocument: aws.String(fewer), SetAsDefault: true})))
			}},
		{name: "policy document changed with five versions", wantLine: "policy OadpVer1: updated (document)", wantCalls: []string{"DeletePolicyVersion", "CreatePolicyVersion"},
			drift: func(t *testing.T) {
				for _, a := range []string{"s3:CreateBucket", "s3:DeleteBucket", "s3:GetObject", "s3:PutObject"} {
					doc := strings.Replace(chapterPolicy, `"`+a+`", `, "", 1)
					must(t, check(c.CreatePolicyVersion(ctx, &awsiam.CreatePolicyVersionInput{PolicyArn: aws.String(policyARN), PolicyDocument: aws.String(doc), SetAsDefault: true})))
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.Fresh(t)
			setupYes(t)
			tc.drift(t)

			stop := record(t, r)
			res := setupYes(t)
			reqs := stop()
			if !strings.Contains(res.Stderr, tc.wantLine) {
				t.Errorf("stderr lacks %q", tc.wantLine)
			}
			if got := mutating(reqs); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("mutating calls %v, want %v", got, tc.wantCalls)
			}
			s := readState(t, r)
			checkChapterState(t, s)
			if s.policyVersions > 5 {
				t.Errorf("%d policy versions", s.policyVersions)
			}
			// And the repair holds: the next run changes nothing.
			stop = record(t, r)
			setupYes(t)
			if m := mutating(stop()); len(m) != 0 {
				t.Errorf("the run after the repair still changed %v", m)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// check drops a call's result and keeps its error.
func check[T any](_ T, err error) error { return err }

func TestSetupPermissionsBoundaryAndPath(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	bnd, err := r.IAM().CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String("boundary"), PolicyDocument: aws.String(chapterPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(bnd.Policy.Arn)

	res := setupYes(t, "--role-path", "oadp", "--permissions-boundary", arn)
	s := readState(t, r)
	if s.rolePath != "/oadp/" || s.boundary != arn {
		t.Errorf("path %q boundary %q", s.rolePath, s.boundary)
	}
	if !strings.Contains(res.Stderr, "role ARN: arn:aws:iam::"+rig.AWSAccount+":role/oadp/"+roleName) {
		t.Errorf("role ARN not reported with its path")
	}
	res = setupYes(t, "--role-path", "/oadp/")
	if !strings.Contains(res.Stderr, "updated (permissions boundary removed)") || readState(t, r).boundary != "" {
		t.Errorf("boundary not removed: %s", res.Stderr)
	}
	res = setupYes(t, "--role-path", "/oadp/", "--permissions-boundary", arn)
	if !strings.Contains(res.Stderr, "updated (permissions boundary "+arn+")") || readState(t, r).boundary != arn {
		t.Errorf("boundary not put back: %s", res.Stderr)
	}
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	for _, mode := range []string{"client", "server"} {
		stop := record(t, r)
		res := clitest.Run(t, "setup", "--cloudstorage", "--dry-run="+mode)
		reqs := stop()
		if res.Code != 0 {
			t.Fatalf("exit %d: %s", res.Code, res.Stderr)
		}
		if m := mutating(reqs); len(m) != 0 {
			t.Errorf("--dry-run=%s made mutating calls %v", mode, m)
		}
		if s := readState(t, r); s.policyExists || s.roleExists {
			t.Errorf("--dry-run=%s created IAM objects", mode)
		}
		for _, want := range []string{"policy OadpVer1: would create", "role " + roleName + ": would create", "dry run: AWS not changed"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("--dry-run=%s stderr lacks %q", mode, want)
			}
		}
		if mode == "server" && !strings.Contains(res.Stderr, "AWS has no server-side dry run") {
			t.Errorf("--dry-run=server does not say AWS has no server-side dry run")
		}
	}
	// On a converged account a dry run says what would stay.
	setupYes(t)
	res := clitest.Run(t, "setup", "--cloudstorage", "--dry-run")
	if !strings.Contains(res.Stderr, "role "+roleName+": unchanged") {
		t.Errorf("dry run on a converged account:\n%s", res.Stderr)
	}
}

// With every fact given by flags, a dry run reads nothing: the kubeconfig and
// the AWS endpoint point nowhere.
func TestSetupDryRunOffline(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	res := clitest.Run(t, "setup", "--dry-run=client", "--cluster-name", "prod", "--cluster-id", "id-1", "--openshift-version", "4.16.8",
		"--oidc-issuer", "https://oidc.example.com/prod", "--account-id", "210987654321", "--partition", "aws-us-gov",
		"--region", "us-gov-west-1", "--oadp-version", "1.4", "--install-operator=false", "--credentials=secret")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{"AWS not read", "role prod-openshift-oadp-aws-cloud-credentials: would create", "role ARN: arn:aws-us-gov:iam::210987654321:role/prod-openshift-oadp-aws-cloud-credentials"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

func TestSetupOutputDirFilesWorkWithTheAWSCLI(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the aws CLI is not on PATH")
		}
		t.Skip("the aws CLI is not on PATH: pip install awscli")
	}
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	dir := t.TempDir()

	stop := record(t, r)
	res := clitest.Run(t, "setup", "--cloudstorage", "--output-dir", dir)
	if m := mutating(stop()); res.Code != 0 || len(m) != 0 {
		t.Fatalf("exit %d, mutating calls %v: %s", res.Code, m, res.Stderr)
	}
	if s := readState(t, r); s.policyExists || s.roleExists {
		t.Fatal("--output-dir changed IAM")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 3 {
		t.Fatalf("files %v, want three", files)
	}
	commands := map[string]string{"01-": "create-policy", "02-": "create-role", "03-": "attach-role-policy"}
	for _, f := range files {
		cmd := commands[filepath.Base(f)[:3]]
		if !strings.Contains(res.Stderr, "aws iam "+cmd+" --cli-input-json file://"+f) {
			t.Errorf("stderr does not say how to apply %s", f)
		}
		aws := exec.Command(awsCLI, "--endpoint-url", r.AWSEndpoint, "iam", cmd, "--cli-input-json", "file://"+f)
		aws.Env = cliEnv()
		out, err := aws.CombinedOutput()
		if err != nil {
			t.Fatalf("aws iam %s --cli-input-json file://%s: %v\n%s", cmd, f, err, out)
		}
	}
	checkChapterState(t, readState(t, r))

	// The same state as setup's: setup finds nothing to do.
	stop = record(t, r)
	res = clitest.Run(t, "setup", "--wait=false", "--cloudstorage")
	if m := mutating(stop()); res.Code != 0 || len(m) != 0 || strings.Count(res.Stderr, ": unchanged") != 3 {
		t.Errorf("setup after the aws CLI: exit %d, mutating %v\n%s", res.Code, m, res.Stderr)
	}
}

func TestSetupRefusesWithoutTerminalOrYes(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	stop := record(t, r)
	res := clitest.Run(t, "setup", "--wait=false")
	if m := mutating(stop()); len(m) != 0 {
		t.Errorf("mutating calls %v", m)
	}
	if res.Code == 0 || !strings.Contains(res.Stderr, "no terminal to confirm it: rerun with --yes") || !strings.Contains(res.Stderr, "would create") {
		t.Errorf("exit %d, stderr:\n%s", res.Code, res.Stderr)
	}
	if s := readState(t, r); s.policyExists || s.roleExists {
		t.Error("IAM changed without confirmation")
	}
}

// cliEnv is the environment without the empty variables the aws CLI v1
// takes for values (an empty AWS_PROFILE is a profile named ""), and with
// the region where v1 looks for it.
func cliEnv() []string {
	env := []string{"AWS_DEFAULT_REGION=" + rig.Region}
	for _, kv := range os.Environ() {
		if !strings.HasSuffix(kv, "=") {
			env = append(env, kv)
		}
	}
	return env
}

// nothingCreated asserts the account holds no customer policy and no role.
func nothingCreated(t *testing.T, r *rig.Rig, except ...string) {
	t.Helper()
	ctx := context.Background()
	pols, err := r.IAM().ListPolicies(ctx, &awsiam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Policies {
		if !slices.Contains(except, aws.ToString(p.PolicyName)) {
			t.Errorf("policy %s was created", aws.ToString(p.PolicyName))
		}
	}
	roles, err := r.IAM().ListRoles(ctx, &awsiam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ro := range roles.Roles {
		if !slices.Contains(except, aws.ToString(ro.RoleName)) {
			t.Errorf("role %s was created", aws.ToString(ro.RoleName))
		}
	}
}

func TestSetupBadInput(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		args    []string
		prepare func(t *testing.T)
		want    []string
		keep    []string
	}{
		// A default role name always fits (names.Fit); an explicit one may not.
		{name: "role name too long", args: []string{"--role-name", strings.Repeat("r", 65)},
			want: []string{"is 65 characters, IAM allows 64", "set another --role-name"}},
		{name: "invalid role name", args: []string{"--role-name", "oadp role"},
			want: []string{`role name "oadp role" has characters IAM does not allow`, "set another --role-name"}},
		{name: "policy name too long", args: []string{"--policy-name", strings.Repeat("p", 129)},
			want: []string{"129 characters, IAM allows 128", "--policy-name"}},
		{name: "bad role path", args: []string{"--role-path", "/a b/"}, want: []string{"--role-path", "must start and end with"}},
		{name: "bad boundary", args: []string{"--permissions-boundary", "boundary"}, want: []string{"--permissions-boundary", "not a managed policy ARN"}},
		{name: "missing OIDC provider", prepare: func(t *testing.T) {
			must(t, check(r.IAM().DeleteOpenIDConnectProvider(ctx, &awsiam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(rig.OIDCProviderARN())})))
		}, want: []string{"IAM has no OIDC provider " + rig.OIDCProviderARN(), "ccoctl aws create-identity-provider"}},
		{name: "non-STS cluster", prepare: func(t *testing.T) {
			objs := rig.STSCluster()
			objs.CloudCredential.Object["spec"].(map[string]any)["credentialsMode"] = "Mint"
			if err := r.ApplyCluster(ctx, objs); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"not an AWS STS cluster, so setup changes nothing", "credentials mode: credentials mode is Mint", "fix:"}},
		{name: "existing role with another path", keep: []string{roleName}, prepare: func(t *testing.T) {
			must(t, check(r.IAM().CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(roleName), Path: aws.String("/other/"), AssumeRolePolicyDocument: aws.String(chapterTrust)})))
		}, want: []string{"exists with path /other/, not /", "set --role-path /other/"}},
		{name: "existing role of another cluster", keep: []string{roleName}, prepare: func(t *testing.T) {
			must(t, check(r.IAM().CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(roleName), AssumeRolePolicyDocument: aws.String(chapterTrust),
				Tags: []types.Tag{{Key: aws.String("cluster_id"), Value: aws.String("another-cluster")}}})))
		}, want: []string{"belongs to another cluster (tag cluster_id=another-cluster", "set another --role-name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.Fresh(t)
			if tc.prepare != nil {
				tc.prepare(t)
			}
			res := clitest.Run(t, append([]string{"setup", "--yes", "--wait=false"}, tc.args...)...)
			if res.Code == 0 {
				t.Fatalf("exit 0, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			if !strings.HasPrefix(res.Stderr, "error: ") && !strings.Contains(res.Stderr, "\nerror: ") {
				t.Errorf("no error line")
			} else if i := strings.Index(res.Stderr, "error: "); unicode.IsUpper(rune(res.Stderr[i+7])) && !strings.HasPrefix(res.Stderr[i+7:], "IAM") {
				t.Errorf("error not lower-case: %q", res.Stderr[i:])
			}
			nothingCreated(t, r, tc.keep...)
		})
	}
}

// AWS access denied, from moto with IAM enforcement switched on: the caller
// may read IAM but not change it.
func TestSetupAccessDenied(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	c := r.IAM()
	must(t, check(c.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("reader")})))
	must(t, check(c.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("reader"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:GetCallerIdentity"],"Resource":"*"}]}`)})))
	key, err := c.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	motoAuth(t, r, "0")
	// Registered after Fresh's, so it runs first: moto is reset with auth off.
	t.Cleanup(func() { motoAuth(t, r, "inf") })
	t.Setenv("AWS_ACCESS_KEY_ID", aws.ToString(key.AccessKey.AccessKeyId))
	t.Setenv("AWS_SECRET_ACCESS_KEY", aws.ToString(key.AccessKey.SecretAccessKey))

	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage")
	motoAuth(t, r, "inf")
	if res.Code == 0 {
		t.Fatal("exit 0 without permission to change IAM")
	}
	if !strings.Contains(res.Stderr, "AWS denied the request to create the IAM") || !strings.Contains(res.Stderr, "grant the calling identity this permission") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	nothingCreated(t, r)
}

func motoAuth(t *testing.T, r *rig.Rig, count string) {
	t.Helper()
	resp, err := http.Post(r.AWSEndpoint+"/moto-api/reset-auth", "text/plain", strings.NewReader(count))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("moto reset-auth: %s", resp.Status)
	}
}
