package cleanup_test

import (
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// dropNamespace deletes the OADP namespace with whatever is left in it,
// releasing the finalizers no operator or Velero runs here to release.

// With 30% of AWS calls throttled (SlowDown for S3), failing with a 500 or
// delayed, cleanup still empties and deletes the bucket and removes the role
// and the policy.
func TestCleanupSurvivesTransientAWSFaults(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	install(t, r, 600)
	t.Cleanup(func() { teardown(t, r) })
	p := faults.Front(t, r.AWSEndpoint, faults.Options{Rate: 0.3, Seed: 10})
	res := clitest.Run(t, "cleanup", "--keep-operator", "--yes", "--timeout", "2s")
	st := p.Stats()
	t.Logf("proxy: %+v", st)
	if res.Code != 0 {
		t.Fatalf("exit %d under 30%% transient faults: %s", res.Code, res.Stderr)
	}
	if st.Faulted() == 0 {
		t.Fatalf("no request was faulted (%+v): the test proves nothing", st)
	}
	if !strings.Contains(res.Stderr, "emptied bucket "+bucket+" (630 object versions and delete markers)") {
		t.Errorf("the bucket was not emptied in full:\n%s", res.Stderr)
	}
	if bucketExists(t, r, bucket) || roleExists(r, roleName) || policyExists(r) {
		t.Errorf("AWS left behind: bucket %v role %v policy %v", bucketExists(t, r, bucket), roleExists(r, roleName), policyExists(r))
	}
	if exists(t, r, gvr.CloudStorage, ns, bucket) || exists(t, r, gvr.DPA, ns, rig.InfraName+"-dpa") {
		t.Error("cluster objects left behind")
	}
}

// When every AWS call fails, cleanup stops while reading its plan, with one
// plain error line, and deletes nothing.
func TestCleanupFailsClearlyWhenAWSFaultsPersist(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	install(t, r, 10)
	t.Cleanup(func() { teardown(t, r) })
	faults.Front(t, r.AWSEndpoint, faults.Options{Rate: 1, ServerError: 1})
	t.Setenv("AWS_MAX_ATTEMPTS", "4")
	// The account is given, so the first calls are IAM's and S3's, not STS's.
	res := clitest.Run(t, "cleanup", "--account-id", rig.AWSAccount, "--yes", "--timeout", "2s")
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1", res.Code)
	}
	last := strings.TrimSpace(res.Stderr)
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.HasPrefix(last, "error: ") || !strings.Contains(last, "after 4 attempts") ||
		!strings.Contains(last, "AWS answered ServiceFailure") && !strings.Contains(last, "AWS answered InternalError") {
		t.Errorf("last line is not a plain error naming the persistent failure: %q", last)
	}
	for _, raw := range []string{"operation error", "https response error", "RequestID", "StatusCode"} {
		if strings.Contains(res.Stderr, raw) {
			t.Errorf("stderr shows the SDK's %q:\n%s", raw, res.Stderr)
		}
	}
	if !bucketExists(t, r, bucket) || !roleExists(r, roleName) || !policyExists(r) || !exists(t, r, gvr.DPA, ns, rig.InfraName+"-dpa") {
		t.Error("something was deleted although the plan could not be read")
	}
}
