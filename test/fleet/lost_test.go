package fleet_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/fleet"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// One cluster's API server stopped while setup waits on all three for their
// DPAs fails that cluster alone, with one clear line; the other two finish,
// and the exit code is the worst of the three.
//
// STAND-IN: the OADP operator and Velero do not run on the rig; once setup
// made a DPA on a or c, the test writes what they would (standIn).
func TestFleetClusterLostMidRun(t *testing.T) {
	f := fleet3(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lost := f.Rig("b")
	t.Cleanup(func() {
		// Back up for Fresh's reseeding and the next test.
		if err := lost.RestartAPIServer(context.Background(), 0); err != nil {
			t.Errorf("restart b's API server: %v", err)
		}
	})
	var wg sync.WaitGroup
	for _, r := range f.Rigs {
		wg.Go(func() {
			_, _, dpa := names(r)
			for ctx.Err() == nil {
				// setup applies the DPA, then waits for it to reconcile.
				if _, err := r.Dynamic.Resource(gvr.DPA).Namespace("openshift-adp").Get(ctx, dpa, metav1.GetOptions{}); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if r == lost {
				r.StopAPIServer()
				return
			}
			standIn(t, r)
		})
	}
	res := clitest.RunContext(ctx, t, "", append([]string{"setup", "--yes", "--timeout", "15s", "-o", "json"}, contexts(f)...)...)
	wg.Wait()
	if res.Code != 1 {
		t.Errorf("exit %d, want 1: the worst of ok, ok and an unreachable cluster's error", res.Code)
	}
	var rows []fleet.Row
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		t.Fatalf("-o json: %v\n%s", err, res.Stdout)
	}
	for _, row := range rows {
		switch row.Context {
		case "b":
			if row.ExitCode != 1 || !strings.Contains(row.Error, "lost the cluster") || !strings.Contains(row.Error, "connection refused") {
				t.Errorf("b: %+v, want one error line", row)
			}
		default:
			if row.ExitCode != 0 || row.DPAReconciled != "yes" || row.LocationAvailable != "yes" {
				t.Errorf("%s: %+v, want it set up and ready", row.Context, row)
			}
		}
	}
	group := groupOf(res.Stderr, "b")
	if n := strings.Count(group, "\nerror: "); n != 1 || !strings.Contains(group, "lost the cluster") {
		t.Errorf("b's lines hold %d error lines, want 1:\n%s", n, group)
	}
	for _, c := range []string{"a", "c"} {
		if g := groupOf(res.Stderr, c); !strings.Contains(g, "Available") || strings.Contains(g, "\nerror: ") {
			t.Errorf("%s's lines, want its location Available and no error:\n%s", c, g)
		}
	}
}

// groupOf is one cluster's lines of a run without a terminal.
func groupOf(stderr, context string) string {
	_, rest, ok := strings.Cut(stderr, "=== "+context+" ===\n")
	if !ok {
		return ""
	}
	for _, end := range []string{"\n=== ", "\nerror: setup: "} {
		if i := strings.Index(rest, end); i >= 0 {
			rest = rest[:i+1]
		}
	}
	return "\n" + rest
}

// Two clusters given one OIDC issuer (c's Authentication names a's, as a
// reused registered ROSA OIDC configuration would) are reported by status and
// by setup, which warns with the fix and sets both up anyway.
func TestFleetSharedIssuer(t *testing.T) {
	f := fleet3(t)
	ctx := context.Background()
	a, c := f.Rig("a"), f.Rig("c")
	objs := c.Identity.Objects()
	objs.Authentication.Object["spec"].(map[string]any)["serviceAccountIssuer"] = a.Identity.Issuer()
	if err := c.ApplyCluster(ctx, objs); err != nil {
		t.Fatal(err)
	}
	want := "clusters a and c share the OIDC issuer " + a.Identity.Issuer()
	st := clitest.Run(t, "status", "--context", "a", "--context", "b", "--context", "c")
	if !strings.Contains(st.Stderr, want) || !strings.Contains(st.Stderr, "own OIDC configuration") || strings.Contains(st.Stderr, "clusters a and b") {
		t.Errorf("status: want only a and c reported as sharing, with the fix:\n%s", st.Stderr)
	}
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--context", "a", "--context", "c", "-o", "json")
	if res.Code != 0 || !strings.Contains(res.Stderr, want) {
		t.Fatalf("setup: exit %d, want 0 and the pair reported:\n%s", res.Code, res.Stderr)
	}
	var rows []fleet.Row
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || strings.Join(rows[0].SharesIssuerWith, ",") != "c" || strings.Join(rows[1].SharesIssuerWith, ",") != "a" {
		t.Errorf("rows %+v, want a and c each naming the other", rows)
	}
	// Both roles exist, both trusted by the one provider: what the warning is about.
	for _, r := range []*rig.Rig{a, c} {
		role, _, _ := names(r)
		assertTrustedOnlyBy(ctx, t, f, role, a)
	}
}
