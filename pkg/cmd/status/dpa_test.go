package status_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// Two DPAs in one namespace: 1.4 reconciles each, and the later one loses
// the node-agent ConfigMap they share; 1.5 fails both (oracle case
// oadp-1.5-derived-090). status judges each with the other in view, on the
// cluster's real objects.
func TestStatusJudgesEveryDPAWithTheOthersInView(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "status-two-dpas"
	setUpChain(t, r, ns)
	first, err := r.Dynamic.Resource(gvr.DPA).Namespace(ns).Get(ctx, dpaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": first.GetAPIVersion(), "kind": first.GetKind(),
		"metadata": map[string]any{"name": "zz-second-dpa", "namespace": ns},
		"spec":     first.Object["spec"],
	}}
	mustApply(t, r, second)

	rep, res := statusJSON(t, "-n", ns)
	if res.Code != exitcode.NotReady || rep.Ready {
		t.Errorf("1.4, two DPAs: exit %d, ready %v; want not ready", res.Code, rep.Ready)
	}
	if result, _, _ := check(t, rep, "dpa rules "+dpaName); result != "ok" {
		t.Errorf("1.4: the first DPA owns what they share and reconciles; its rules check is %s", result)
	}
	if result, _, _ := check(t, rep, "dpa rules zz-second-dpa"); result != "failed" || !strings.Contains(message(rep, "dpa rules zz-second-dpa"), "is already owned by another DataProtectionApplication controller "+dpaName) {
		t.Errorf("1.4: the second DPA's rules check is %s (%s); want failed on the shared ConfigMap", result, message(rep, "dpa rules zz-second-dpa"))
	}

	csv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": "oadp-operator.v1.4.2", "namespace": ns},
		"spec":     map[string]any{"displayName": "OADP Operator", "version": "1.5.0", "install": map[string]any{"strategy": "deployment"}},
	}}
	mustApply(t, r, csv)
	rep, _ = statusJSON(t, "-n", ns)
	for _, name := range []string{dpaName, "zz-second-dpa"} {
		if result, _, _ := check(t, rep, "dpa rules "+name); result != "failed" || !strings.Contains(message(rep, "dpa rules "+name), "only one DPA CR can exist per OADP installation namespace") {
			t.Errorf("1.5: dpa rules %s is %s (%s); want failed with the operator's one-DPA message", name, result, message(rep, "dpa rules "+name))
		}
	}
}

// A location Velero has never validated is not ready: nothing can back up
// to it yet.
func TestStatusNotReadyUntilTheLocationIsValidated(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "status-unvalidated"
	setUpChain(t, r, ns)
	if err := r.Dynamic.Resource(gvr.BSL).Namespace(ns).Delete(ctx, bslName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": bslName, "namespace": ns},
		"spec":     map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": bucket, "prefix": "velero"}, "default": true},
	}}
	mustApply(t, r, bsl)
	rep, res := statusJSON(t, "-n", ns)
	if res.Code != exitcode.NotReady || rep.Ready {
		t.Errorf("exit %d, ready %v; want %d and not ready", res.Code, rep.Ready, exitcode.NotReady)
	}
	onlyFailed(t, rep, "storage location "+bslName, "Velero has not validated the location", "oc get pods")
}
