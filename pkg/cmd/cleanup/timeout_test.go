package cleanup_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
)

// A namespace still terminating when --timeout runs out is a wait that ran
// out, not a refusal: exit 5 (the cluster carries on deleting it, and cleanup
// run again finds it gone), with the namespace named. Here an object in it
// keeps a finalizer no controller releases, so kube-controller-manager cannot
// finish the namespace.
func TestCleanupTimesOutOnATerminatingNamespace(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	install(t, r, 10)
	ctx := context.Background()
	held := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: ns, Finalizers: []string{"oadp-sts.test/hold"}}}
	if _, err := r.Kube.CoreV1().ConfigMaps(ns).Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = r.Kube.CoreV1().ConfigMaps(ns).Patch(context.Background(), "held", mergePatch, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		teardown(t, r)
	})

	res := clitest.Run(t, "cleanup", "--yes", "--timeout", "5s")
	if res.Code != exitcode.Timeout {
		t.Fatalf("exit %d, want %d (a wait ran out):\n%s", res.Code, exitcode.Timeout, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "namespace "+ns+": still terminating after 5s") {
		t.Errorf("stderr does not name the terminating namespace:\n%s", res.Stderr)
	}
	if roleExists(r, roleName) || policyExists(r) {
		t.Errorf("AWS left behind: role %v policy %v", roleExists(r, roleName), policyExists(r))
	}
}
