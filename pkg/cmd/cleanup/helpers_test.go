package cleanup_test

import (
	"context"
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
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

type schemaGVR = schema.GroupVersionResource

const mergePatch = types.MergePatchType

func nsObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// waitNamespaceGone waits for kube-controller-manager to finish deleting a
// namespace, so the next test can create objects in it again.
func waitNamespaceGone(t *testing.T, r *rig.Rig, name string) {
	t.Helper()
	if err := wait.Deleted(context.Background(), r.Dynamic.Resource(gvr.Namespace), name, wait.Options{What: "namespace " + name, Timeout: 60 * time.Second}); err != nil {
		t.Fatal(err)
	}
}

func cleanupDBR(b *unstructured.Unstructured) *unstructured.Unstructured {
	return velero.NewDeleteBackupRequest(b.GetNamespace(), b.GetName(), string(b.GetUID()))
}

// teardown deletes the OADP namespace the way no operator will here: the
// finalizers install() set (CloudStorage, Restore) are released first.
func teardown(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	for _, g := range []schemaGVR{gvr.CloudStorage, gvr.Restore} {
		list, err := r.Dynamic.Resource(g).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, o := range list.Items {
			if _, err := r.Dynamic.Resource(g).Namespace(ns).Patch(ctx, o.GetName(), mergePatch, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
	}
	if err := r.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
	waitNamespaceGone(t, r, ns)
}
