package status

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

const (
	issuer  = "https://oidc.example.com/c1"
	account = "111122223333"
	ns      = "openshift-adp"
)

var roleARN = iam.RoleARN("aws", account, "/", "c1-role")

func inputs(ch *Chain) Inputs {
	return Inputs{
		Cluster: &clusterfacts.Facts{Name: "c1", ID: "id-1", Platform: "AWS", Region: "us-east-2", OIDCIssuer: issuer, CredentialsMode: "Manual", STS: true},
		OADP:    &clusterfacts.OADP{Installed: true},
		AWS: &awsfacts.Facts{Identity: awsfacts.Identity{AccountID: account, Partition: "aws"},
			OIDCProviderARN: iam.OIDCProviderARN("aws", account, issuer), OIDCProviderExists: true, OIDCClientIDs: []string{"openshift"}},
		Chain: ch,
	}
}

func find(t *testing.T, r *Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q", name)
	return Check{}
}

// setup's own use: readiness only, no chain checks.
func TestBuildWithoutChainIsReadinessOnly(t *testing.T) {
	r := Build(Inputs{Cluster: inputs(nil).Cluster})
	for _, c := range r.Checks {
		if c.Area != AreaCluster && c.Area != AreaAWS {
			t.Errorf("check %q in area %q without a chain", c.Name, c.Area)
		}
	}
	if !r.Ready || r.SetUp {
		t.Errorf("ready %v, setUp %v", r.Ready, r.SetUp)
	}
}

func TestTrustPolicyForms(t *testing.T) {
	host := clusterfacts.IssuerHost(issuer)
	provider := iam.OIDCProviderARN("aws", account, issuer)
	cases := []struct {
		name, doc string
		want      map[string]Result
	}{
		{name: "setup's, URL-encoded as IAM returns it", doc: url.PathEscape(iam.TrustPolicy("aws", account, issuer, ns).JSON()),
			want: map[string]Result{CheckTrustIssuer: OK, CheckTrustSubjects: OK, CheckTrustAudience: OK}},
		{name: "one statement object, scalar values, aud openshift",
			doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":["sts:AssumeRoleWithWebIdentity"],` +
				`"Condition":{"StringEquals":{"` + host + `:sub":["system:serviceaccount:openshift-adp:velero","system:serviceaccount:openshift-adp:openshift-adp-controller-manager"],"` + host + `:aud":"openshift"}}}}`,
			want: map[string]Result{CheckTrustIssuer: OK, CheckTrustSubjects: OK, CheckTrustAudience: OK}},
		{name: "a wildcard subject is not exactly the two",
			doc: `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:*",` +
				`"Condition":{"StringLike":{"` + host + `:sub":"system:serviceaccount:openshift-adp:*"}}}]}`,
			want: map[string]Result{CheckTrustIssuer: OK, CheckTrustSubjects: Failed, CheckTrustAudience: OK}},
		{name: "no conditions at all",
			doc:  `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			want: map[string]Result{CheckTrustIssuer: OK, CheckTrustSubjects: Failed, CheckTrustAudience: OK}},
		{name: "condition keys of another issuer",
			doc: `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity",` +
				`"Condition":{"StringEquals":{"other.example.com:sub":["system:serviceaccount:openshift-adp:velero","system:serviceaccount:openshift-adp:openshift-adp-controller-manager"]}}}]}`,
			want: map[string]Result{CheckTrustIssuer: Failed, CheckTrustSubjects: OK, CheckTrustAudience: OK}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(inputs(&Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1", Role: &Role{ARN: roleARN, Trust: tc.doc}}))
			for name, want := range tc.want {
				if c := find(t, r, name); c.Result != want {
					t.Errorf("%s = %s (%s), want %s", name, c.Result, c.Cause, want)
				}
			}
		})
	}
}

func TestPolicyActionsWildcards(t *testing.T) {
	cases := []struct {
		doc         string
		want        Result
		wantMissing string
	}{
		{doc: `{"Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*"],"Resource":"*"}]}`, want: OK},
		{doc: `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, want: OK},
		{doc: `{"Statement":[{"Effect":"Allow","Action":["S3:*","ec2:Describe*","ec2:CreateTags","ec2:CreateVolume","ec2:CreateSnapshot"],"Resource":"*"}]}`,
			want: Failed, wantMissing: "ec2:DeleteSnapshot"},
		{doc: `{"Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*"],"Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`,
			want: Failed, wantMissing: "s3:DeleteObject"},
	}
	for _, tc := range cases {
		r := Build(inputs(&Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1",
			Role:   &Role{ARN: roleARN, Trust: iam.TrustPolicy("aws", account, issuer, ns).JSON()},
			Policy: &Policy{ARN: "p", VersionID: "v2", Document: tc.doc}}))
		c := find(t, r, CheckPolicyActions)
		if c.Result != tc.want || !strings.Contains(c.Cause, tc.wantMissing) || (tc.want == Failed && strings.Contains(c.Cause, "s3:GetObject")) {
			t.Errorf("%s: %s %q, want %s naming %s", tc.doc, c.Result, c.Cause, tc.want, tc.wantMissing)
		}
	}
}

func secret(data string) *corev1.Secret {
	return &corev1.Secret{Data: map[string][]byte{manifests.SecretKey: []byte(data)}}
}

func TestCredentialsSecretAndSubscription(t *testing.T) {
	sub := func(arn string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "redhat-oadp-operator"},
			"spec": map[string]any{"name": "redhat-oadp-operator", "config": map[string]any{"env": []any{map[string]any{"name": "ROLEARN", "value": arn}}}}}}
	}
	// What the Cloud Credential Operator writes: no region.
	cco := "[default]\nsts_regional_endpoints = regional\nrole_arn = " + roleARN + "\nweb_identity_token_file = " + manifests.WebIdentityToken + "\n"
	cases := []struct {
		name                           string
		ch                             Chain
		secret, subscription           Result
		secretCause, subscriptionCause string
	}{
		{name: "setup's secret", ch: Chain{Secret: secret(manifests.CredentialsFile(roleARN, "us-east-2"))}, secret: OK, subscription: Skipped},
		// The CCO's template never has a region: that is no problem to fix
		// by correcting ROLEARN, the DPA and CloudStorage carry the region.
		{name: "CCO's secret and ROLEARN", ch: Chain{Secret: secret(cco), Subscription: sub(roleARN)}, secret: OK, subscription: OK},
		{name: "ROLEARN of another role", ch: Chain{Secret: secret(cco), Subscription: sub(iam.RoleARN("aws", account, "/", "x"))}, secret: OK, subscription: Failed, subscriptionCause: "role/x"},
		{name: "a secret without region and no ROLEARN", ch: Chain{Secret: secret(cco)}, secret: Warning, secretCause: "names no region", subscription: Skipped},
		{name: "ROLEARN, CCO not done", ch: Chain{Subscription: sub(roleARN)}, secret: Failed, secretCause: "Cloud Credential Operator writes it", subscription: OK},
		{name: "token path and region wrong", ch: Chain{Secret: secret("[profile default]\nrole_arn=" + roleARN + "\nweb_identity_token_file=/var/run/secrets/kubernetes.io/serviceaccount/token\nregion=eu-west-1\n")},
			secret: Failed, secretCause: "mounts the token at /var/run/secrets/openshift/serviceaccount/token; its region is eu-west-1, but the cluster is in us-east-2", subscription: Skipped},
		{name: "unreadable", ch: Chain{SecretErr: errors.New("forbidden")}, secret: Warning, secretCause: "forbidden", subscription: Skipped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.ch
			ch.Namespace, ch.RoleName, ch.PolicyName = ns, "c1-role", "OadpVer1"
			ch.Role = &Role{ARN: roleARN, Trust: iam.TrustPolicy("aws", account, issuer, ns).JSON()}
			r := Build(inputs(&ch))
			if c := find(t, r, CheckSecret); c.Result != tc.secret || !strings.Contains(c.Cause, tc.secretCause) {
				t.Errorf("secret: %s %q, want %s %q", c.Result, c.Cause, tc.secret, tc.secretCause)
			}
			if c := find(t, r, CheckSubscription); c.Result != tc.subscription || !strings.Contains(c.Cause, tc.subscriptionCause) {
				t.Errorf("subscription: %s %q, want %s %q", c.Result, c.Cause, tc.subscription, tc.subscriptionCause)
			}
		})
	}
}

func TestNotSetUpSkipsAndIsReady(t *testing.T) {
	r := Build(inputs(&Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1"}))
	if !r.Ready || r.SetUp {
		t.Fatalf("ready %v setUp %v: %+v", r.Ready, r.SetUp, r.Failed())
	}
	for _, c := range r.Checks {
		if c.Area != AreaCluster && c.Area != AreaAWS && c.Result != Skipped {
			t.Errorf("check %q = %s before setup, want skipped", c.Name, c.Result)
		}
	}
	if c := find(t, r, CheckRole); !strings.Contains(c.Message, "run 'kubectl oadp-sts setup --yes'") {
		t.Errorf("iam role message %q does not point to setup", c.Message)
	}
}

func TestParseProfile(t *testing.T) {
	file := "# comment\n[other]\nrole_arn = a\n\n[profile default]\n role_arn = b \n;x\nregion=r\n"
	p := parseProfile(file, "default")
	if p["role_arn"] != "b" || p["region"] != "r" || len(p) != 2 {
		t.Errorf("profile = %v", p)
	}
	if parseProfile(file, "missing") != nil {
		t.Errorf("a missing profile is not nil")
	}
}

// Storage that could not be read is said to be unread, not to mismatch; a
// mismatch is a warning, never a failure.
func TestSnapshotCheck(t *testing.T) {
	dpa := unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "d"}}}
	unread := checks.StorageWarning{Unread: true, Cause: "could not list storage classes", Fix: "ask a cluster-admin"}
	mismatch := checks.StorageWarning{Cause: "no VolumeSnapshotClass for CSI driver x", Fix: "create one"}
	for _, c := range []struct {
		name     string
		mode     string
		warnings []checks.StorageWarning
		result   Result
		message  string
	}{
		{"fits", manifests.SnapshotsCSI, nil, OK, "csi: Velero has a VolumeSnapshotClass for every CSI driver in use"},
		{"no snapshots", "", nil, Skipped, "the DPA takes no volume snapshots"},
		{"unread", manifests.SnapshotsCSI, []checks.StorageWarning{unread}, Warning, "cannot read the cluster's storage to check csi snapshots"},
		{"mismatch", manifests.SnapshotsCSI, []checks.StorageWarning{unread, mismatch}, Warning, "csi snapshots do not fit the cluster's storage"},
	} {
		ch := &Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1", DPAs: []unstructured.Unstructured{dpa},
			SnapshotMode: c.mode, SnapshotWarnings: c.warnings}
		got := find(t, Build(inputs(ch)), CheckSnapshots)
		if got.Result != c.result || got.Message != c.message {
			t.Errorf("%s: %s %q, want %s %q", c.name, got.Result, got.Message, c.result, c.message)
		}
	}
}

// A ReadOnly location (setup --from-cluster) is judged by the read-only
// scope: the reader's document is whole there, a writer's has grants beyond
// it, and the same reader's document on a read-write location lacks writes.
func TestReadOnlyLocationJudgedByTheReaderScope(t *testing.T) {
	dpa := func(access string) *unstructured.Unstructured {
		vel := map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": "a-oadp", "prefix": "velero"}}
		if access != "" {
			vel["accessMode"] = access
		}
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "b-dpa"},
			"spec": map[string]any{"backupLocations": []any{map[string]any{"velero": vel}}}}}
	}
	reader := iam.ScopedPolicy(iam.Scope{Partition: "aws", Bucket: "a-oadp", Prefix: "velero", ReadOnly: true}).JSON()
	writer := iam.ScopedPolicy(iam.Scope{Partition: "aws", Bucket: "a-oadp", Prefix: "velero"}).JSON()
	for _, tc := range []struct {
		name, access, doc string
		want              Result
		in                string
	}{
		{"reader on a ReadOnly location", manifests.AccessReadOnly, reader, OK, "writes only restores/"},
		{"writer on a ReadOnly location", manifests.AccessReadOnly, writer, Warning, "s3:DeleteObject on arn:aws:s3:::a-oadp/velero/*"},
		{"reader on a read-write location", "", reader, Failed, "s3:PutObject on arn:aws:s3:::a-oadp/velero/*"},
	} {
		r := Build(inputs(&Chain{Namespace: ns, RoleName: "b-role", PolicyName: "b-oadp-bucket", DPAs: []unstructured.Unstructured{*dpa(tc.access)},
			Role:   &Role{ARN: roleARN, Trust: iam.TrustPolicy("aws", account, issuer, ns).JSON()},
			Policy: &Policy{ARN: "p", VersionID: "v1", Document: tc.doc}}))
		c := find(t, r, CheckPolicyActions)
		if c.Result != tc.want || !strings.Contains(c.Message+c.Cause, tc.in) {
			t.Errorf("%s: %s %q %q, want %s with %q", tc.name, c.Result, c.Message, c.Cause, tc.want, tc.in)
		}
	}
}
