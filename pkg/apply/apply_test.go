package apply_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/apply"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{NoMoto: true}) }

func options(ns, version, snapshots string) manifests.Options {
	return manifests.Options{
		Namespace: ns, ClusterName: "prod", ClusterID: "id", Region: "us-east-2",
		RoleARN:     "arn:aws:iam::123456789012:role/prod-openshift-oadp-aws-cloud-credentials",
		OADPVersion: version, Snapshots: snapshots, BackupImages: true,
		// The node agent on in one mode, off in the other: both reach the schema.
		FSBackup:        snapshots == manifests.SnapshotsNative,
		InstallOperator: true, SubscriptionRoleARN: true, WriteSecret: true,
		VeleroRequests:     map[string]string{"cpu": "200m", "memory": "256Mi"},
		VeleroLimits:       map[string]string{"cpu": "1", "memory": "1024Mi"},
		VeleroNodeSelector: map[string]string{"node-role.kubernetes.io/worker": ""},
		Tags:               map[string]string{"cluster_id": "id"},
	}
}

func applyAll(t *testing.T, a *apply.Applier, objs []*unstructured.Unstructured) []apply.Result {
	t.Helper()
	ctx := context.Background()
	existing, err := a.Existing(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	var out []apply.Result
	for i, o := range objs {
		res, err := a.Apply(ctx, o, existing[i])
		if err != nil {
			t.Fatalf("apply %s: %v", o.GetKind(), err)
		}
		out = append(out, res)
	}
	return out
}

// The API server validates every generated object against the real CRD
// schemas of each OADP version, in both snapshot modes; a second apply changes
// nothing.
func TestGeneratedObjectsAcceptedByRealCRDs(t *testing.T) {
	r := rig.Get(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if err := r.InstallCRDs(ctx, rig.DefaultOADPCRDs); err != nil {
			t.Errorf("putting the default OADP CRDs back: %v", err)
		}
	})
	for _, v := range []string{"1.3", "1.4", "1.5"} {
		files, err := rig.OADPCRDFiles("oadp-" + v)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.ApplyCRDFiles(ctx, files...); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{manifests.SnapshotsCSI, manifests.SnapshotsNative} {
			t.Run(v+"/"+mode, func(t *testing.T) {
				ns := fmt.Sprintf("oadp-%s-%s", strings.ReplaceAll(v, ".", ""), mode)
				objs := manifests.Build(options(ns, v, mode))
				a := &apply.Applier{Client: r.Dynamic}
				first := applyAll(t, a, objs)
				for _, res := range first {
					if res.Action != apply.Created {
						t.Errorf("%s: %s, want created", res.Object.GetKind(), res.Action)
					}
				}
				// Read back: the DPA is stored as built (no field pruned by the schema).
				dpa, err := r.Dynamic.Resource(schemaDPA).Namespace(ns).Get(ctx, "prod-dpa", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				want := manifests.DPA(options(ns, v, mode).WithDefaults())
				if missing := notIn(want.Object["spec"], dpa.Object["spec"], "spec"); len(missing) > 0 {
					t.Errorf("the OADP %s schema pruned or changed fields we set: %v", v, missing)
				}
				for _, res := range applyAll(t, a, objs) {
					if res.Action != apply.Unchanged {
						t.Errorf("second apply: %s %s, want unchanged", res.Object.GetKind(), res.Action)
					}
				}
				if err := r.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Error(err)
				}
			})
		}
	}
}

// The chapter's DPA is schema-valid (the API server takes it) yet rejected by
// the operator: only the client-side rules catch it.
func TestChaptersDPAPassesSchemaButNotRules(t *testing.T) {
	r := rig.Get(t)
	ctx := context.Background()
	o := options("chapter", "1.4", manifests.SnapshotsCSI).WithDefaults()
	dpa := manifests.DPA(o)
	dpa.Object["spec"].(map[string]any)["features"] = map[string]any{"dataMover": map[string]any{"enable": false}}
	applyAll(t, &apply.Applier{Client: r.Dynamic}, []*unstructured.Unstructured{manifests.Namespace(o)})
	a := &apply.Applier{Client: r.Dynamic, DryRun: true}
	if _, err := a.Apply(ctx, dpa, nil); err != nil {
		t.Fatalf("the API server should accept the chapter's DPA (it has no webhook): %v", err)
	}
	ns := manifests.SetupNamespace(o)
	ns.DPA = dpa
	if v := dparules.Judge(ctx, ns, "1.4", nil); v.Accepted() {
		t.Fatal("the operator's rules accept the chapter's DPA")
	}
}

func TestServerDryRunStoresNothing(t *testing.T) {
	r := rig.Get(t)
	ctx := context.Background()
	objs := manifests.Build(options("dryrun-ns", "1.4", manifests.SnapshotsCSI))
	a := &apply.Applier{Client: r.Dynamic, DryRun: true}
	for _, res := range applyAll(t, a, objs[:1]) {
		if res.Action != apply.Created {
			t.Errorf("dry-run namespace: %s", res.Action)
		}
	}
	if _, err := r.Kube.CoreV1().Namespaces().Get(ctx, "dryrun-ns", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run=server stored the namespace: %v", err)
	}
}

func TestConflictIsReportedNotOverwritten(t *testing.T) {
	r := rig.Get(t)
	ctx := context.Background()
	o := options("conflict-ns", "1.4", manifests.SnapshotsCSI).WithDefaults()
	a := &apply.Applier{Client: r.Dynamic}
	applyAll(t, a, []*unstructured.Unstructured{manifests.Namespace(o)})
	// Someone made the secret by hand, as the chapter does with
	// 'oc create secret generic --from-file', with other content.
	if _, err := r.Kube.CoreV1().Secrets("conflict-ns").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cloud-credentials"},
		Data:       map[string][]byte{"credentials": []byte("[default]\nrole_arn = arn:aws:iam::1:role/theirs\n")},
	}, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	other, err := r.Dynamic.Resource(gvr.Secret).Namespace("conflict-ns").Get(ctx, "cloud-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Apply(ctx, manifests.Secret(o), other)
	if err == nil || !strings.Contains(err.Error(), "secret/cloud-credentials exists and another manager owns fields") ||
		!strings.Contains(err.Error(), "--force-conflicts") || !strings.Contains(err.Error(), "kubectl-create") {
		t.Fatalf("error = %v, want a conflict naming the owner and --force-conflicts", err)
	}
	s, _ := r.Kube.CoreV1().Secrets("conflict-ns").Get(ctx, "cloud-credentials", metav1.GetOptions{})
	if !strings.Contains(string(s.Data["credentials"]), "theirs") {
		t.Errorf("the secret was overwritten without --force-conflicts")
	}
	a.Force = true
	if res, err := a.Apply(ctx, manifests.Secret(o), other); err != nil || res.Action != apply.Configured {
		t.Fatalf("with --force-conflicts: %v %v", res.Action, err)
	}
	s, _ = r.Kube.CoreV1().Secrets("conflict-ns").Get(ctx, "cloud-credentials", metav1.GetOptions{})
	if !strings.Contains(string(s.Data["credentials"]), o.RoleARN) {
		t.Errorf("secret not taken over: %s", s.Data["credentials"])
	}
}
