package setup_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// With 30% of AWS calls throttled, failing with a 500 or delayed, setup
// still converges to the chapter's IAM and the cluster objects, with one
// policy version: retries do not duplicate anything.
func TestSetupSurvivesTransientAWSFaults(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	p := faults.Front(t, r.AWSEndpoint, faults.Options{Rate: 0.3, Seed: 10})
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage")
	if res.Code != 0 {
		t.Fatalf("exit %d under 30%% transient faults: %s", res.Code, res.Stderr)
	}
	st := p.Stats()
	t.Logf("proxy: %+v", st)
	if st.Faulted() == 0 {
		t.Fatalf("no request was faulted (%+v): the test proves nothing", st)
	}
	s := readState(t, r)
	checkChapterState(t, s)
	if s.policyVersions != 1 {
		t.Errorf("policy has %d versions, want 1", s.policyVersions)
	}
	clusterObjects(t, r, "openshift-adp")
	nothingCreated(t, r, "OadpVer1", roleName)

	again := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage")
	if again.Code != 0 || strings.Contains(again.Stderr, "created") || strings.Contains(again.Stderr, "updated") {
		t.Errorf("second run under faults: exit %d, want every step unchanged:\n%s", again.Code, again.Stderr)
	}
}

// When every AWS call fails, setup gives up after the retryer's attempts
// with one plain error line naming what it tried and what AWS answered: no
// hang, no SDK dump, nothing created.
func TestSetupFailsClearlyWhenAWSFaultsPersist(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	faults.Front(t, r.AWSEndpoint, faults.Options{Rate: 1, Throttle: 1})
	// The SDK's own knob, as in the aws CLI: fewer attempts, a shorter test.
	t.Setenv("AWS_MAX_ATTEMPTS", "4")
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage")
	checkPersistentFailure(t, res, "Throttling")
	if !strings.Contains(res.Stderr, "still throttled after 4 attempts") || !strings.Contains(res.Stderr, "request rate") {
		t.Errorf("a sustained throttle is not named as one:\n%s", res.Stderr)
	}
	nothingCreated(t, r)
}

// A burst of throttles (Throttling and RequestLimitExceeded in turn, as IAM
// sheds load when many calls arrive at once) hits setup's first overlapped
// calls; the SDK's adaptive retryer waits it out and setup converges.
func TestSetupSurvivesThrottlingBurst(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	p := faults.Front(t, r.AWSEndpoint, faults.Options{})
	// Fewer than one call's 8 attempts, since the first call (the caller
	// identity) goes out alone and meets the whole burst.
	const burst = 6
	p.ThrottleNext(burst)
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage")
	if res.Code != 0 {
		t.Fatalf("exit %d after a burst of %d throttles: %s", res.Code, burst, res.Stderr)
	}
	if st := p.Stats(); st.Throttled != burst {
		t.Fatalf("%d requests throttled, want the whole burst of %d: the test proves nothing", st.Throttled, burst)
	}
	checkChapterState(t, readState(t, r))
}

// checkPersistentFailure asserts the exit code and message of a command
// that met nothing but faults.
func checkPersistentFailure(t *testing.T, res clitest.Result, code string) {
	t.Helper()
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1", res.Code)
	}
	last := strings.TrimSpace(res.Stderr)
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.HasPrefix(last, "error: ") {
		t.Fatalf("last line %q is not the error", last)
	}
	for _, want := range []string{"AWS answered " + code, "after 4 attempts"} {
		if !strings.Contains(last, want) {
			t.Errorf("error lacks %q: %s", want, last)
		}
	}
	for _, raw := range []string{"operation error", "https response error", "RequestID", "StatusCode"} {
		if strings.Contains(res.Stderr, raw) {
			t.Errorf("stderr shows the SDK's %q:\n%s", raw, res.Stderr)
		}
	}
}

// Far from AWS, with IAM slower than S3 as from a laptop, a fresh setup
// that makes the bucket is four AWS round trips deep, as the bench measures
// it from the proxy's log (moto behind it): the caller's identity, then
// every read, then the creates (the bucket's too), then the attachment with
// the bucket's settings. Sent as soon as CreateBucket answered, the settings
// would be one more request in sequence.
func TestFreshSetupIsFourAWSRoundTripsDeep(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	p := faults.Front(t, r.AWSEndpoint, faults.Options{Latency: map[string]time.Duration{
		"iam": 150 * time.Millisecond, "sts": 30 * time.Millisecond, "s3": 30 * time.Millisecond}})
	res := clitest.Run(t, "setup", "--yes", "--wait=false")
	if res.Code != 0 {
		t.Fatalf("setup exit %d: %s", res.Code, res.Stderr)
	}
	log := p.Log()
	var did []string
	for _, q := range log {
		did = append(did, q.Action)
	}
	for _, want := range []string{"CreateBucket", "PutPublicAccessBlock", "PutBucketEncryption", "PutBucketTagging", "CreatePolicy", "CreateRole", "AttachRolePolicy"} {
		if !slices.Contains(did, want) {
			t.Fatalf("setup sent no %s (it sent %v): not a fresh setup that makes the bucket, the test proves nothing", want, did)
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
	checkHardened(t, r, ownBucket)
}
