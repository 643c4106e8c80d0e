// Package fleet_test holds fleet mode to its promises on three rig clusters
// (each its own API server, etcd, cluster ID, region and OIDC issuer) against
// one moto: one setup for all three, status, one cluster lost mid-run, and
// cleanup for all three.
package fleet_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	iampkg "github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// kube-controller-manager finishes the namespace deletions cleanup starts.
func TestMain(m *testing.M) { rig.Main(m, rig.Options{ControllerManager: true}) }

func fleet3(t *testing.T) *rig.Fleet {
	t.Helper()
	f := rig.GetFleet(t, rig.Identity{}, rig.Identity{}, rig.Identity{})
	f.Fresh(t)
	f.UseEnv(t)
	return f
}

func contexts(f *rig.Fleet) []string {
	var args []string
	for _, c := range f.Contexts() {
		args = append(args, "--context", c)
	}
	return args
}

func names(r *rig.Rig) (role, bucket, dpa string) {
	return iampkg.DefaultRoleName(r.Identity.InfraName), r.Identity.InfraName + "-oadp", r.Identity.InfraName + "-dpa"
}

// standIn is a STAND-IN for the OADP operator and Velero on r, which do not
// run on the rig: the Succeeded CSV OLM would leave, the DPA's Reconciled
// condition the operator sets, the BackupStorageLocation it makes from the
// DPA with the Available phase Velero gives it, and the velero service account.
func standIn(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	ns := "openshift-adp"
	_, bucket, dpa := names(r)
	now := time.Now().UTC().Format(time.RFC3339)
	csv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": "oadp-operator.v1.4.2", "namespace": ns},
		"spec":     map[string]any{"displayName": "OADP Operator", "version": "1.4.2", "install": map[string]any{"strategy": "deployment"}},
		"status":   map[string]any{"phase": "Succeeded", "reason": "InstallSucceeded"},
	}}
	must(t, r.Apply(ctx, csv))
	must(t, r.ApplyStatus(ctx, csv))
	must(t, r.ApplyStatus(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
		"metadata": map[string]any{"name": dpa, "namespace": ns},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Reconciled", "status": "True", "reason": "Complete",
			"message": "Reconcile complete", "lastTransitionTime": now}}},
	}}))
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": manifests.BSLName(dpa), "namespace": ns},
		"spec": map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": bucket, "prefix": manifests.DefaultPrefix}, "default": true,
			"credential": map[string]any{"name": manifests.SecretName, "key": manifests.SecretKey},
			"config":     map[string]any{"region": r.Identity.Region, "enableSharedConfig": "true"}},
	}}
	must(t, r.Apply(ctx, bsl))
	bsl.Object["status"] = map[string]any{"phase": "Available", "lastValidationTime": now}
	must(t, r.ApplyStatus(ctx, bsl))
	// An earlier test's may be left: Fresh forgets setup, not its namespace.
	if _, err := r.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "velero"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
