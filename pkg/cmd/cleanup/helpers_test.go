package cleanup_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

type schemaGVR = schema.GroupVersionResource

const mergePatch = types.MergePatchType

func nsObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// waitNamespaceGone waits for kube-controller-manager to finish deleting a
// namespace, so the next test can create objects in it again.
func waitNamespaceGone(t *testing.T, r interface {
	NamespaceGone(context.Context, string) bool
}, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !r.NamespaceGone(context.Background(), name) {
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s still exists after 60s", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
