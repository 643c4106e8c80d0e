package policy_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// Both documents print with no cluster and no AWS reachable.
func TestPolicyOffline(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")

	res := clitest.Run(t, "policy", "--cloudstorage")
	var doc iam.Document
	if err := json.Unmarshal([]byte(res.Stdout), &doc); res.Code != 0 || err != nil {
		t.Fatalf("exit %d, %v", res.Code, err)
	}
	if eq, _ := iam.Equal(res.Stdout, iam.PermissionsPolicy()); !eq {
		t.Errorf("policy --cloudstorage prints another document")
	}
	res = clitest.Run(t, "policy", "--bucket", "bucket-one", "--snapshots=native", "--kms-key-arn", "arn:aws:kms:us-east-2:123456789012:key/k")
	want := iam.ScopedPolicy(iam.Scope{Partition: "aws", Bucket: "bucket-one", Prefix: "velero", NativeSnapshots: true, KMSKeyARN: "arn:aws:kms:us-east-2:123456789012:key/k"})
	if eq, _ := iam.Equal(res.Stdout, want); res.Code != 0 || !eq {
		t.Errorf("policy --bucket: exit %d, a document other than setup's scoped one:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = clitest.Run(t, "policy", "--bucket", "bucket-one", "--read-only")
	want = iam.ScopedPolicy(iam.Scope{Partition: "aws", Bucket: "bucket-one", Prefix: "velero", ReadOnly: true})
	if eq, _ := iam.Equal(res.Stdout, want); res.Code != 0 || !eq {
		t.Errorf("policy --read-only: exit %d, a document other than setup --from-cluster's:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := clitest.Run(t, "policy", "--read-only", "--cloudstorage"); res.Code != 1 || !strings.Contains(res.Stderr, "--read-only does not go with --cloudstorage") {
		t.Errorf("policy --read-only --cloudstorage: exit %d, %q", res.Code, res.Stderr)
	}
	if res := clitest.Run(t, "policy"); res.Code != 1 || !strings.Contains(res.Stderr, "--bucket") {
		t.Errorf("policy without a cluster or --bucket: exit %d, %q, want 1 naming --bucket", res.Code, res.Stderr)
	}

	res = clitest.Run(t, "policy", "--trust", "-n", "backup", "--account-id", "123456789012", "--oidc-issuer", "https://oidc.example.com/c")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if eq, _ := iam.Equal(res.Stdout, iam.TrustPolicy("aws", "123456789012", "https://oidc.example.com/c", "backup")); !eq {
		t.Errorf("trust policy differs:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "system:serviceaccount:backup:velero") {
		t.Errorf("namespace not used")
	}
}

func TestPolicyTrustWithoutFactsNeedsTheCluster(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	res := clitest.Run(t, "policy", "--trust", "--account-id", "123456789012")
	if res.Code == 0 || !strings.Contains(res.Stderr, "error: ") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}
