package cleanup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// cleanupArgs keep the operator, so each round needs no CRDs reinstalled;
// every step that deletes data or IAM still runs.
var cleanupArgs = []string{"cleanup", "--keep-operator", "--yes", "--timeout", "1s"}

// runCleanup runs the built plugin; killAt kills it right after a stderr line.
func runCleanup(t *testing.T, bin string, killAt func(string) bool, onStart func(*exec.Cmd)) (lines []string, code int, killed bool) {
	t.Helper()
	p := clitest.RunProcess(t, bin, killAt, onStart, cleanupArgs...)
	return p.Lines, p.Code, p.Killed
}

// isStep is a line cleanup prints once something is gone.
func isStep(l string) bool {
	for _, p := range []string{"deleted ", "emptied ", "detached "} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// leftOfOurs lists what an uninterrupted cleanup removes and is still there,
// and counts the DeleteBackupRequests: one per backup, never two.
func leftOfOurs(t *testing.T, r *rig.Rig) []string {
	t.Helper()
	var left []string
	for _, c := range []struct {
		g    schema.GroupVersionResource
		name string
	}{{gvr.DPA, rig.InfraName + "-dpa"}, {gvr.CloudStorage, bucket}, {gvr.Backup, "hello-world"}, {gvr.Restore, "hello-world"}} {
		if exists(t, r, c.g, ns, c.name) {
			left = append(left, c.g.Resource+"/"+c.name)
		}
	}
	if bucketExists(t, r, bucket) {
		left = append(left, "bucket")
	}
	if roleExists(r, roleName) {
		left = append(left, "role")
	}
	if policyExists(r) {
		left = append(left, "policy")
	}
	l, err := r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) > 1 {
		left = append(left, fmt.Sprintf("%d DeleteBackupRequests for one backup", len(l.Items)))
	}
	return left
}

// cleanup is SIGKILLed after each mutating AWS call (carried out, answer not
// yet read) and after each cluster step's line in turn; every time, the next cleanup
// ends with exit 0 and everything of ours gone, nothing asked twice.
func TestCleanupConvergesAfterBeingKilledAtEveryStep(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	t.Cleanup(func() { teardown(t, r) })
	bin := clitest.Binary(t)
	p := faults.Front(t, r.AWSEndpoint, faults.Options{})

	install(t, r, 30)
	var awsSteps []string
	var mu sync.Mutex
	p.AfterMutating(func(q faults.Request) { mu.Lock(); awsSteps = append(awsSteps, q.Action); mu.Unlock() })
	lines, code, _ := runCleanup(t, bin, nil, nil)
	p.AfterMutating(nil)
	if code != 0 {
		t.Fatalf("uninterrupted cleanup: exit %d\n%s", code, strings.Join(lines, "\n"))
	}
	if left := leftOfOurs(t, r); len(left) > 0 {
		t.Fatalf("uninterrupted cleanup left %v", left)
	}
	var steps []string
	for _, l := range lines {
		// The AWS steps are killed at more precisely from the proxy.
		if isStep(l) && !strings.Contains(l, "IAM") && !strings.HasPrefix(l, "emptied ") {
			steps = append(steps, l)
		}
	}
	if len(awsSteps) < 4 || len(steps) < 4 {
		t.Fatalf("steps: AWS %v, lines %v", awsSteps, steps)
	}
	t.Logf("killing after each of AWS %v and %q", awsSteps, steps)

	again := func(t *testing.T, killed bool) {
		if !killed {
			t.Fatal("the plugin was not killed")
		}
		lines, code, _ := runCleanup(t, bin, nil, nil)
		if code != 0 {
			t.Fatalf("cleanup after the kill: exit %d\n%s", code, strings.Join(lines, "\n"))
		}
		if left := leftOfOurs(t, r); len(left) > 0 {
			t.Errorf("after the kill and a second cleanup, left: %v", left)
		}
	}
	fresh := func(t *testing.T) {
		teardown(t, r)
		if err := r.ResetAWS(context.Background()); err != nil {
			t.Fatal(err)
		}
		install(t, r, 30)
	}
	for k := 1; k <= len(awsSteps); k++ {
		t.Run(fmt.Sprintf("after AWS call %d", k), func(t *testing.T) {
			fresh(t)
			_, _, killed := runCleanup(t, bin, nil, func(c *exec.Cmd) {
				p.AfterMutating(func(q faults.Request) {
					if q.N == k {
						t.Logf("killing after %s", q.Action)
						if err := c.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
							t.Error(err)
						}
					}
				})
			})
			p.AfterMutating(nil)
			again(t, killed)
		})
	}
	for _, step := range steps {
		t.Run("after "+step, func(t *testing.T) {
			fresh(t)
			_, _, killed := runCleanup(t, bin, func(l string) bool { return l == step }, nil)
			again(t, killed)
		})
	}
}
