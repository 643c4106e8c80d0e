package cleanup_test

import (
	"slices"
	"strings"
	"testing"
	"time"

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

// Far from AWS, with IAM slower than S3 as from a laptop, cleanup of what
// setup made (the bucket, empty, the role and the policy) is four AWS round
// trips deep, as the bench measures it from the proxy's log (moto behind
// it): the caller's identity, every read at once, then the detachment (and
// the bucket's listing), then the deletions at once.
func TestCleanupIsFourAWSRoundTripsDeep(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	waitNamespaceGone(t, r, ns)
	defer teardown(t, r)
	if res := clitest.Run(t, "setup", "--yes", "--wait=false"); res.Code != 0 {
		t.Fatalf("setup: exit %d: %s", res.Code, res.Stderr)
	}
	p := faults.Front(t, r.AWSEndpoint, faults.Options{Latency: map[string]time.Duration{
		"iam": 150 * time.Millisecond, "sts": 30 * time.Millisecond, "s3": 30 * time.Millisecond}})
	res := clitest.Run(t, "cleanup", "--yes", "--keep-operator", "--keep-crds", "--timeout", "15s")
	if res.Code != 0 {
		t.Fatalf("cleanup: exit %d: %s", res.Code, res.Stderr)
	}
	log := p.Log()
	var did []string
	for _, q := range log {
		did = append(did, q.Action)
	}
	for _, want := range []string{"DeleteBucket", "DetachRolePolicy", "DeleteRole", "DeletePolicy"} {
		if !slices.Contains(did, want) {
			t.Fatalf("cleanup sent no %s (it sent %v): the test proves nothing", want, did)
		}
	}
	chain := faults.CriticalPath(log)
	var names []string
	for _, q := range chain {
		names = append(names, q.Action)
	}
	t.Logf("%d AWS requests; critical path %s", len(log), strings.Join(names, " > "))
	if len(chain) > 4 {
		t.Errorf("%d AWS round trips in sequence, want at most 4: %s", len(chain), strings.Join(names, " > "))
	}
	if bucketExists(t, r, bucket) || roleExists(r, roleName) {
		t.Errorf("AWS left behind:\n%s", res.Stderr)
	}
}
