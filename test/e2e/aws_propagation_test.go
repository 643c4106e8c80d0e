//go:build unix

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// TestIAMPropagation is IAM being slow to agree, on the real Velero server:
// the sandbox's STS proxy (internal/faults) refuses AssumeRoleWithWebIdentity
// for a role for a while after its trust policy was created, with STS's own
// AccessDenied, so the real AWS plugin finds the location Unavailable at its
// first validation. setup waits through it, saying why and when Velero checks
// again, and ends ready once Velero's next validation passes; when the refusal
// outlasts --timeout it exits 5 naming propagation or the trust policy. The
// DPA's Reconciled and the location itself come from the sandbox's stand-in
// for the OADP operator; the location's phase is the real Velero's.
//
// It runs first (file order) and leaves setup's objects, under the
// walkthrough's names, for TestDayTwo to converge over.
func TestIAMPropagation(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	r.UseEnv(t)
	// The plugin's IAM calls go through the same proxy, so its CreateRole
	// starts the refusal, as it would start IAM's propagation.
	t.Setenv("AWS_ENDPOINT_URL", sb.STS.URL)
	t.Cleanup(func() {
		sb.STS.RefuseNewRoles(0)
		if t.Failed() {
			t.Logf("%s ends:\n%s", sb.VeleroLog, tailOf(sb.VeleroLog, 6000))
		}
	})

	// A refusal shorter than Velero's validation period: ready at its next
	// validation, exit 0.
	sb.STS.RefuseNewRoles(20 * time.Second)
	start := time.Now()
	res := mustRun(t, exitcode.OK, "setup", "--yes", "--cluster-name", clusterName)
	took := time.Since(start)
	if sb.STS.Stats().Refused == 0 {
		t.Fatalf("the proxy refused no AssumeRoleWithWebIdentity: the test proves nothing\n%s", res.Stderr)
	}
	for _, want := range []string{"AccessDenied", "as it does while IAM propagates a role made or changed", "Velero validates again"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("setup did not say why it waited (%q missing):\n%s", want, res.Stderr)
		}
	}
	if got := str(get1(t, r, gvr.BSL, bslName), "status", "phase"); got != "Available" {
		t.Fatalf("setup exited 0 with the location %s", got)
	}
	t.Logf("setup ready after %s with a 20s refusal", took.Round(time.Second))

	// A refusal that outlasts --timeout: the role and the location are made
	// again, and setup gives up at --timeout with exit 5.
	mustRun(t, exitcode.OK, "cleanup", "--yes", "--keep-operator")
	if _, err := r.Dynamic.Resource(gvr.BSL).Namespace(ns).Get(context.Background(), bslName, metav1.GetOptions{}); err == nil {
		t.Fatalf("cleanup left BackupStorageLocation %s: the second setup would find it Available", bslName)
	}
	sb.STS.RefuseNewRoles(20 * time.Minute)
	res = clitest.Run(t, "setup", "--yes", "--cluster-name", clusterName, "--timeout", "45s")
	if res.Code != exitcode.Timeout {
		t.Fatalf("setup under a 20-minute refusal: exit %d, want %d (timeout)\n%s", res.Code, exitcode.Timeout, res.Stderr)
	}
	last := strings.TrimSpace(res.Stderr)
	last = last[strings.LastIndex(last, "error: "):]
	for _, want := range []string{"timed out after 45s", "IAM is still propagating", "trust policy"} {
		if !strings.Contains(last, want) {
			t.Errorf("the timeout does not name the likely cause (%q missing):\n%s", want, last)
		}
	}

	// Put it right for TestDayTwo: STS accepts the role, Velero's next
	// validation passes.
	sb.STS.RefuseNewRoles(0)
	_, err := wait.For(context.Background(), r.Dynamic.Resource(gvr.BSL).Namespace(ns), bslName, func(o *unstructured.Unstructured) (bool, error) {
		return kube.Str(o.Object, "status", "phase") == "Available", nil
	}, wait.Options{What: "the location after the refusal", Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
}
