package setup_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
)

// plans reads ns's InstallPlans by the CSV each installs.
func plans(t *testing.T, r *rig.Rig, ns string) map[string]olm.Plan {
	t.Helper()
	list, err := olm.ListPlans(context.Background(), r.Dynamic, ns)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]olm.Plan{}
	for _, p := range list {
		out[strings.Join(p.CSVs, ",")] = p
	}
	return out
}

// With Manual approval (the default) setup approves the InstallPlan of the
// version it writes the DPA for and no other. OLM is the rig's STAND-IN
// (rig.StandInOLM): it makes InstallPlans the way OLM's catalog operator
// does for a Manual Subscription, installs only once one is approved, and
// then offers the channel's next version as a pending upgrade.
//
//nolint:funlen // one OLM stand-in, one install and its upgrade offer: each step checks what the one before left
func TestSetupApprovesOnlyTheInstalledVersion(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	files := deleteOADPCRDs(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const v153, v160 = "oadp-operator.v1.5.3", "oadp-operator.v1.6.0"

	// A channel whose only CSV is another version than the one asked for,
	// and no package server to pick a startingCSV from: OLM plans the
	// channel's head, and setup refuses to approve it, before any OADP object.
	other := "setup-approval-other"
	standIn := &rig.StandInOLM{Rig: r, Namespace: other, Package: manifests.PackageName, NoPackageServer: true,
		Channels: map[string][]string{"stable": {v160}}, CRDFiles: files}
	if err := standIn.Start(ctx, t.Errorf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Kube.CoreV1().Namespaces().Delete(context.Background(), other, metav1.DeleteOptions{}) })
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--timeout", "30s", "--oadp-version", "1.5", "-n", other)
	if res.Code != 1 || !strings.Contains(res.Stderr, "would install "+v160+", not OADP 1.5") {
		t.Errorf("exit %d; want 1 and the plan of 1.6.0 refused:\n%s", res.Code, res.Stderr)
	}
	if p := plans(t, r, other)[v160]; p.Name == "" || p.Approved {
		t.Errorf("the 1.6.0 plan %+v: want it there and not approved", p)
	}
	if _, err := r.Dynamic.Resource(gvr.DPA).Namespace(other).Get(ctx, dpaName, metav1.GetOptions{}); err == nil {
		t.Errorf("a DPA was created although the operator was not approved")
	}
	cancel()

	ctx, cancel = context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := "setup-approval"
	standIn = &rig.StandInOLM{Rig: r, Namespace: ns, Package: manifests.PackageName,
		Channels: map[string][]string{"stable": {"oadp-operator.v1.5.2", v153, v160}}, CRDFiles: files}
	if err := standIn.Start(ctx, t.Errorf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := standIn.Remove(context.Background()); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { _ = r.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	res = clitest.Run(t, "setup", "--yes", "--wait=false", "--timeout", "30s", "--oadp-version", "1.5", "-n", ns)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{"starting CSV " + v153 + " (Manual approval)", "approved (" + v153 + ")", "dataprotectionapplication/" + dpaName + " created"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	sub, err := r.Dynamic.Resource(gvr.Subscription).Namespace(ns).Get(ctx, manifests.PackageName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	approval, _, _ := unstructured.NestedString(sub.Object, "spec", "installPlanApproval")
	start, _, _ := unstructured.NestedString(sub.Object, "spec", "startingCSV")
	if approval != olm.Manual || start != v153 {
		t.Errorf("subscription installPlanApproval %q startingCSV %q, want Manual and %s", approval, start, v153)
	}
	// OLM offers the upgrade once 1.5.3 is installed.
	deadline := time.Now().Add(20 * time.Second)
	for plans(t, r, ns)[v160].Name == "" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	check := func(when string) {
		t.Helper()
		got := plans(t, r, ns)
		if len(got) != 2 {
			t.Errorf("%s: plans %+v, want one for %s and one for %s", when, got, v153, v160)
		}
		if p := got[v153]; !p.Approved {
			t.Errorf("%s: the plan of the installed version %+v is not approved", when, p)
		}
		if p := got[v160]; p.Approved || !p.Pending() {
			t.Errorf("%s: the upgrade's plan %+v was approved or is not pending", when, p)
		}
		sub, err := r.Dynamic.Resource(gvr.Subscription).Namespace(ns).Get(ctx, manifests.PackageName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if installed, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV"); installed != v153 {
			t.Errorf("%s: installed %q, want %s", when, installed, v153)
		}
	}
	check("after setup")
	// status lists the pending upgrade, its version, and whether the role's
	// policy (read back from moto's IAM) has what that version's DPA needs.
	st := clitest.Run(t, "status", "-o", "json", "-n", ns)
	var rep struct {
		Checks []struct{ Name, Result, Message, Cause string }
	}
	if err := json.Unmarshal([]byte(st.Stdout), &rep); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, st.Stderr)
	}
	found := false
	for _, c := range rep.Checks {
		if c.Name == "pending installplans" {
			found = true
			if !strings.Contains(c.Cause, "would install "+v160+" (OADP 1.6.0)") || !strings.Contains(c.Cause, "has every action") || strings.Contains(c.Cause, v153) {
				t.Errorf("status on the pending upgrade: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("status lists no pending installplans:\n%s", st.Stdout)
	}
	// A rerun converges on what is there and still leaves the upgrade alone.
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--oadp-version", "1.5", "-n", ns); res.Code != 0 {
		t.Fatalf("rerun: exit %d: %s", res.Code, res.Stderr)
	}
	check("after a rerun")
}
