// The tests here cover every verb that makes or shows Velero's Backups and
// Restores (backup, restore, get, describe, delete backup, whose code lives
// in pkg/cmd/<verb>): one package, so they share one rig.
package backup_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

const (
	oadpNS = "openshift-adp"
	// bslName is the BSL the operator makes for the chapter's DPA, <dpa>-1.
	bslName = rig.InfraName + "-dpa-1"
)

// setup gives each test an OADP namespace with one default, Available BSL in
// the cluster's region, the hello-world namespace, and no Velero objects.
func setup(t *testing.T) *rig.Rig {
	t.Helper()
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	for _, ns := range []string{oadpNS, "hello-world"} {
		_, err := r.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	clear := func() {
		for _, res := range []schema.GroupVersionResource{gvr.Backup, gvr.Restore, gvr.DeleteBackupRequest, gvr.BSL} {
			if err := r.Dynamic.Resource(res).Namespace(oadpNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Fatalf("clear %s: %v", res.Resource, err)
			}
		}
	}
	clear()
	t.Cleanup(clear)
	putBSL(t, r, bslName, true, "Available", rig.Region)
	return r
}

func putBSL(t *testing.T, r *rig.Rig, name string, def bool, phase, region string) {
	t.Helper()
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": name, "namespace": oadpNS},
		"spec": map[string]any{
			"provider": "aws", "default": def,
			"objectStorage": map[string]any{"bucket": "rig-bucket", "prefix": "velero"},
			"config":        map[string]any{"region": region},
		},
	}}
	ctx := context.Background()
	if err := r.Apply(ctx, b); err != nil {
		t.Fatal("apply:", err)
	}
	if err := patchStatus(ctx, r, gvr.BSL, name, map[string]any{"phase": phase, "message": "rig says " + phase}); err != nil {
		t.Fatal(err)
	}
}

// patchStatus writes status the way Velero does: its CRDs have no status
// subresource, so status goes through the object itself.
func patchStatus(ctx context.Context, r *rig.Rig, res schema.GroupVersionResource, name string, status map[string]any) error {
	b, _ := json.Marshal(map[string]any{"status": status})
	_, err := r.Dynamic.Resource(res).Namespace(oadpNS).Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{})
	return err
}

// play stands in for the Velero server: once the named object exists it
// writes each status in turn. It stops with the test.
func play(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, name string, statuses ...map[string]any) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_, err := wait.For(ctx, r.Dynamic.Resource(res).Namespace(oadpNS), name, func(*unstructured.Unstructured) (bool, error) { return true, nil }, wait.Options{})
		if err != nil {
			return
		}
		for _, s := range statuses {
			if err := patchStatus(ctx, r, res, name, s); err != nil && ctx.Err() == nil {
				t.Errorf("play %s %s: %v", res.Resource, name, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func ts(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

func inProgress(done, total int64) map[string]any {
	return map[string]any{"phase": "InProgress", "startTimestamp": ts(0), "progress": map[string]any{"itemsBackedUp": done, "totalItems": total}}
}

func ended(phase string, extra map[string]any) map[string]any {
	s := map[string]any{"phase": phase, "startTimestamp": ts(-65 * time.Second), "completionTimestamp": ts(0), "expiration": ts(720 * time.Hour),
		"progress": map[string]any{"itemsBackedUp": int64(10), "itemsRestored": int64(10), "totalItems": int64(10)}}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func count(t *testing.T, r *rig.Rig, res schema.GroupVersionResource) int {
	t.Helper()
	l, err := r.Dynamic.Resource(res).Namespace(oadpNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

// putBackup creates a Backup as if Velero had made or synced it: status and
// all in one write, as Velero's sync does.
func putBackup(t *testing.T, r *rig.Rig, name string, status map[string]any) {
	t.Helper()
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": name, "namespace": oadpNS},
		"spec":     map[string]any{"includedNamespaces": []any{"hello-world"}, "storageLocation": bslName, "ttl": "720h0m0s"},
	}}
	if status != nil {
		b.Object["status"] = status
	}
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Create(context.Background(), b, metav1.CreateOptions{}); err != nil {
		t.Error(err)
	}
}
