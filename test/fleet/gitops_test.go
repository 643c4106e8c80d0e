package fleet_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// One fleet run of `setup --dry-run=client --output-dir DIR --format
// kustomize` writes every cluster's IAM plan in its own directory and one
// base with an overlay per cluster. kubectl's own kustomize renders each
// overlay into exactly the objects setup alone would apply on that cluster
// (names, labels, annotations, specs, secret data: setup's -o json for that
// context), and each cluster's API server accepts them (server-side dry run).
func TestFleetGitOpsOverlays(t *testing.T) {
	f := fleet3(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is the witness of the overlays: %v", err)
	}
	dir := t.TempDir()
	args := append([]string{"setup", "--dry-run=client", "--output-dir", dir, "--format", "kustomize", "--approval=Automatic"}, contexts(f)...)
	res := clitest.Run(t, args...)
	if res.Code != 0 {
		t.Fatalf("exit %d:\n%s", res.Code, res.Stderr)
	}
	for _, r := range f.Rigs {
		name := r.Identity.InfraName
		plan, _ := filepath.Glob(filepath.Join(dir, "iam", name, "*.json"))
		if len(plan) == 0 {
			t.Errorf("%s: no IAM plan in %s", r.Identity.Context, filepath.Join(dir, "iam", name))
		}
		for _, p := range plan {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "RoleName") && !strings.Contains(string(b), name) {
				t.Errorf("%s: %s names another cluster's role:\n%s", r.Identity.Context, p, b)
			}
		}
		overlay := filepath.Join(dir, "clusters", name)
		out, err := exec.Command(kubectl, "kustomize", overlay).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", overlay, err)
		}
		rendered, err := rig.DecodeObjects(strings.NewReader(string(out)))
		if err != nil {
			t.Fatal(err)
		}
		alone := clitest.Run(t, "setup", "--dry-run=client", "-o", "yaml", "--approval=Automatic", "--context", r.Identity.Context)
		if alone.Code != 0 {
			t.Fatalf("%s: setup -o yaml: exit %d:\n%s", r.Identity.Context, alone.Code, alone.Stderr)
		}
		want, err := rig.DecodeObjects(strings.NewReader(alone.Stdout))
		if err != nil {
			t.Fatal(err)
		}
		if got, exp := shapes(rendered), shapes(want); !reflect.DeepEqual(got, exp) {
			t.Errorf("%s: the overlay renders\n%v\nsetup alone applies\n%v", r.Identity.Context, got, exp)
		}
		// A server dry run creates no namespace for the objects after it.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "openshift-adp"}}
		if _, err := r.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteNamespace(t, r, ns.Name) })
		cmd := exec.Command(kubectl, "apply", "-k", overlay, "--server-side", "--dry-run=server", "--context", r.Identity.Context)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+f.Kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: the API server refused the overlay: %v\n%s", r.Identity.Context, err, out)
		}
	}
}

// deleteNamespace deletes a namespace and waits until kube-controller-manager
// has finished, so the next test meets the cluster without it.
func deleteNamespace(t *testing.T, r *rig.Rig, name string) {
	t.Helper()
	ctx := context.Background()
	if err := r.Kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
		return
	}
	if err := wait.Deleted(ctx, r.Dynamic.Resource(gvr.Namespace), name, wait.Options{What: "namespace " + name, Timeout: time.Minute}); err != nil {
		t.Error(err)
	}
}

// shapes keys each object by kind, namespace and name, with what must agree.
func shapes(objs []*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		v := map[string]any{"labels": o.GetLabels(), "annotations": o.GetAnnotations()}
		for _, k := range []string{"spec", "data", "stringData", "type"} {
			if x, ok := o.Object[k]; ok {
				v[k] = x
			}
		}
		out[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = v
	}
	return out
}
