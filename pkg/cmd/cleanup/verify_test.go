package cleanup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
)

// cleanup removes the canary namespace an interrupted verify left, and only
// a namespace that carries both verify's label and the plugin's.
func TestCleanupRemovesVerifyCanaries(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	c, err := verify.NewCanary("c1ea0001", ns, "", time.Now().Add(time.Hour), strings.NewReader(strings.Repeat("x", 3*verify.ContentSize)))
	if err != nil {
		t.Fatal(err)
	}
	canary := c.Objects()[0]
	// Someone's own namespace that merely looks like one of verify's.
	lookalike := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": verify.Prefix + "mine", "labels": map[string]any{verify.RunLabel: "mine"}}}}
	for _, o := range []*unstructured.Unstructured{canary, lookalike} {
		if err := r.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = r.Kube.CoreV1().Namespaces().Delete(ctx, lookalike.GetName(), metav1.DeleteOptions{}) })
	res := clitest.Run(t, "cleanup", "--yes", "--keep-iam", "--keep-bucket", "--keep-operator")
	if res.Code != 0 {
		t.Fatalf("cleanup: exit %d\n%s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stdout+res.Stderr, "namespace "+canary.GetName()) {
		t.Errorf("the plan does not list the canary namespace:\n%s%s", res.Stdout, res.Stderr)
	}
	if _, err := r.Kube.CoreV1().Namespaces().Get(ctx, canary.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("canary namespace after cleanup: %v, want gone", err)
	}
	if n, err := r.Kube.CoreV1().Namespaces().Get(ctx, lookalike.GetName(), metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Errorf("a namespace without the plugin's label was deleted: %v", err)
	}
}
