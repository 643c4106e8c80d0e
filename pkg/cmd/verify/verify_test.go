package verify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	verifycmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// The rig serves OADP 1.5's CRDs here, DataProtectionTest among them. No
// Velero and no OADP operator run in this package: the tests that need a
// backup to move are in test/e2e, against the real Velero server.
func TestMain(m *testing.M) {
	rig.Main(m, rig.Options{OADPCRDs: "oadp-1.5", ControllerManager: true})
}

const (
	ns      = "openshift-adp"
	bslName = "rig-dpa-1"
)

// location is a storage location as Velero marks it after validating it.
func location(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if err := r.Apply(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": bslName, "namespace": ns},
		"spec": map[string]any{"provider": "aws", "default": true,
			"objectStorage": map[string]any{"bucket": "rig-bucket", "prefix": "velero"},
			"config":        map[string]any{"region": rig.Region}},
	}}
	if err := r.Apply(ctx, bsl); err != nil {
		t.Fatal(err)
	}
	bsl.Object["status"] = map[string]any{"phase": "Available", "lastValidationTime": time.Now().UTC().Format(time.RFC3339)}
	if err := r.ApplyStatus(ctx, bsl); err != nil {
		t.Fatal(err)
	}
}

// nothingOfVerify fails when any object of a run is in the API server.
func nothingOfVerify(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: verify.AnySelector}
	nss, err := r.Kube.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nss.Items {
		if n.DeletionTimestamp == nil {
			t.Errorf("namespace %s of verify is still there", n.Name)
		}
	}
	for _, res := range []struct {
		name string
		l    func() (*unstructured.UnstructuredList, error)
	}{
		{"backups", func() (*unstructured.UnstructuredList, error) {
			return r.Dynamic.Resource(gvr.Backup).Namespace(ns).List(ctx, sel)
		}},
		{"restores", func() (*unstructured.UnstructuredList, error) {
			return r.Dynamic.Resource(gvr.Restore).Namespace(ns).List(ctx, sel)
		}},
		{"dataprotectiontests", func() (*unstructured.UnstructuredList, error) {
			return r.Dynamic.Resource(gvr.DataProtectionTest).Namespace(ns).List(ctx, sel)
		}},
	} {
		l, err := res.l()
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) > 0 {
			t.Errorf("%s of verify left: %d (%s)", res.name, len(l.Items), l.Items[0].GetName())
		}
	}
}

func TestVerifyDryRunClientContactsNothing(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	res := clitest.Run(t, "verify", "--dry-run=client", "--volume", "gp3-csi", "--storage-location", "loc")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var list struct {
		Kind  string                      `json:"kind"`
		Items []unstructured.Unstructured `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(res.Stdout), &list); err != nil {
		t.Fatalf("stdout is not a YAML List: %v\n%s", err, res.Stdout)
	}
	var kinds []string
	for _, o := range list.Items {
		kinds = append(kinds, o.GetKind())
	}
	want := "Namespace ConfigMap Secret PersistentVolumeClaim Pod Backup Restore DataProtectionTest"
	if got := strings.Join(kinds, " "); list.Kind != "List" || got != want {
		t.Errorf("printed %s of %s, want a List of %s", list.Kind, got, want)
	}
	if !strings.Contains(res.Stderr, "nothing created or read") {
		t.Errorf("stderr does not say that nothing was touched: %s", res.Stderr)
	}
}

func TestVerifyDryRunServerStoresNothing(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	location(t, r)
	res := clitest.Run(t, "verify", "--dry-run=server", "-o", "json")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Step(verify.StepCanary)
	if c == nil || c.Result != verify.OK {
		t.Fatalf("canary step %+v, want ok", c)
	}
	for _, want := range []string{"namespace/" + rep.Canary, "backup/" + rep.Canary, "restore/" + rep.Canary, "dataprotectiontest/" + rep.Canary} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("the API server did not accept %s with dryRun=All: %s", want, c.Message)
		}
	}
	if rep.Location != bslName || rep.Verdict.Verified {
		t.Errorf("location %q verified %v: want %s and not verified (no data moved)", rep.Location, rep.Verdict.Verified, bslName)
	}
	nothingOfVerify(t, r)
	if _, err := r.Kube.CoreV1().Namespaces().Get(context.Background(), rep.Canary, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after a server dry run: %v", rep.Canary, err)
	}
}

// The DataProtectionTest path up to the API server: the CRD of OADP 1.5
// accepts the object verify makes, and results shaped as the CRD's status are
// read and printed. No OADP operator runs in the rig, so the test writes the
// status the operator would (through the status subresource, which the CRD's
// schema validates) once the object appears.
func TestVerifyDataProtectionTest(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	location(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := verify.NewCanary("0dp70001", ns, "gp3-csi", time.Now().Add(time.Hour), strings.NewReader(strings.Repeat("x", 3*verify.ContentSize)))
	if err != nil {
		t.Fatal(err)
	}
	obj := c.DataProtectionTest(bslName, "csi-aws-vsc", 2*time.Minute)
	dpts := r.Dynamic.Resource(gvr.DataProtectionTest).Namespace(ns)
	t.Cleanup(func() { _ = dpts.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
	operator := make(chan error, 1)
	go func() {
		got, err := wait.For(ctx, dpts, obj.GetName(), func(*unstructured.Unstructured) (bool, error) { return true, nil }, wait.Options{What: "the DPT"})
		if err != nil {
			operator <- err
			return
		}
		got.Object["status"] = map[string]any{
			"phase": "Complete", "lastTested": time.Now().UTC().Format(time.RFC3339), "s3Vendor": "AWS",
			"uploadTest":      map[string]any{"success": true, "speedMbps": int64(87), "duration": "1.2s"},
			"bucketMetadata":  map[string]any{"encryptionAlgorithm": "AES256", "versioningStatus": "Enabled"},
			"snapshotSummary": "1/1 passed",
			"snapshotTests": []any{map[string]any{"persistentVolumeClaimName": "oadp-sts-verify", "persistentVolumeClaimNamespace": c.Namespace,
				"status": "Ready", "readyDuration": "4s"}},
		}
		_, err = dpts.UpdateStatus(ctx, got, metav1.UpdateOptions{})
		operator <- err
	}()
	noProgress := func(ctx context.Context, what string, p func(*unstructured.Unstructured) string) wait.Options {
		return wait.Options{What: what, Timeout: 30 * time.Second}
	}
	res, served, err := verifycmd.RunDPT(ctx, r.Dynamic, obj, noProgress)
	if err != nil || !served {
		t.Fatalf("runDPT: served %v, err %v", served, err)
	}
	if err := <-operator; err != nil {
		t.Fatalf("the operator's part: %v", err)
	}
	stored, err := dpts.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if loc, _, _ := unstructured.NestedString(stored.Object, "spec", "backupLocationName"); loc != bslName {
		t.Errorf("stored DPT's backupLocationName %q, want %s", loc, bslName)
	}
	cfgs, _, _ := unstructured.NestedSlice(stored.Object, "spec", "csiVolumeSnapshotTestConfigs")
	if len(cfgs) != 1 {
		t.Errorf("stored DPT has %d snapshot tests, want the canary PVC's", len(cfgs))
	}
	want := "upload 87 Mbps (1.2s), encryption AES256, versioning Enabled, vendor AWS, snapshot of " + c.Namespace + "/oadp-sts-verify Ready in 4s"
	if res.Phase != "Complete" || res.Summary() != want {
		t.Errorf("read %s %q, want Complete %q", res.Phase, res.Summary(), want)
	}
}

// Where OADP before 1.5 runs, the API is not served: verify says so and goes on.
func TestVerifyDataProtectionTestNotServed(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	c, err := verify.NewCanary("0dp70002", ns, "", time.Now().Add(time.Hour), strings.NewReader(strings.Repeat("x", 3*verify.ContentSize)))
	if err != nil {
		t.Fatal(err)
	}
	obj := c.DataProtectionTest(bslName, "", time.Minute)
	obj.SetAPIVersion("oadp.openshift.io/v1alpha9") // a version no CRD serves
	_, served, err := verifycmd.RunDPT(context.Background(), r.Dynamic, obj, func(context.Context, string, func(*unstructured.Unstructured) string) wait.Options {
		return wait.Options{Timeout: 5 * time.Second}
	})
	if served || err != nil {
		t.Errorf("an unserved DataProtectionTest API: served %v, err %v; want not served and no error, so verify goes on", served, err)
	}
}

// Without Velero nothing processes the Backup: the run times out (exit 5),
// says which step, and cleanup still removes the namespace; the Backup, which
// Velero must delete, is reported as left behind and marked for the next run.
func TestVerifyTimesOutAndStillCleansUp(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	location(t, r)
	res := clitest.Run(t, "verify", "--timeout", "3s", "--cleanup-timeout", "20s", "-o", "json")
	if res.Code != exitcode.Timeout {
		t.Fatalf("exit %d, want %d (timeout)\n%s", res.Code, exitcode.Timeout, res.Stderr)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if b := rep.Step(verify.StepBackup); b == nil || b.Result != verify.Timeout {
		t.Fatalf("backup step %+v, want timeout", b)
	}
	if rep.Verdict.Code != exitcode.Timeout || !strings.Contains(rep.Verdict.Line, "backup step timed out") {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	ctx := context.Background()
	if _, err := r.Kube.CoreV1().Namespaces().Get(ctx, rep.Canary, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("canary namespace %s after cleanup: %v, want gone", rep.Canary, err)
	}
	b, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Get(ctx, rep.Canary, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the unprocessed backup: %v", err)
	}
	// No Velero here to delete it through a request: the test removes it.
	t.Cleanup(func() {
		_ = r.Dynamic.Resource(gvr.Backup).Namespace(ns).Delete(ctx, rep.Canary, metav1.DeleteOptions{})
	})
	if !verify.Leftover(b, time.Now()) {
		t.Errorf("the backup left behind is not marked as a leftover: %v", b.GetAnnotations())
	}
	if len(rep.LeftBehind) != 1 || !strings.Contains(rep.LeftBehind[0], "backup "+rep.Canary) {
		t.Errorf("left behind %v, want the backup", rep.LeftBehind)
	}
	if !strings.Contains(res.Stderr, "the next 'kubectl oadp-sts verify' or 'kubectl oadp-sts cleanup' removes it") {
		t.Errorf("the verdict does not say who removes what is left: %s", res.Stderr)
	}
}

// --volume is refused before anything is created where no node could run
// the writer pod (the rig has none, like any cluster without a kubelet).
func TestVerifyVolumeRefusedWithoutNodes(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	location(t, r)
	sc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
		"metadata": map[string]any{"name": "verify-test-sc"}, "provisioner": "ebs.csi.aws.com",
	}}
	if err := r.Apply(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Kube.StorageV1().StorageClasses().Delete(context.Background(), "verify-test-sc", metav1.DeleteOptions{})
	})
	for _, tc := range []struct{ class, want string }{
		{"verify-test-sc", "--volume needs a Ready node to run the writer pod"},
		{"no-such-class", `--volume "no-such-class": no such storage class`},
	} {
		res := clitest.Run(t, "verify", "--volume", tc.class)
		if res.Code != exitcode.Error || !strings.Contains(res.Stdout, tc.want) {
			t.Errorf("--volume %s: exit %d, want 1 saying %q\n%s", tc.class, res.Code, tc.want, res.Stdout)
		}
		if !strings.Contains(res.Stdout, "cleanup   skipped") {
			t.Errorf("--volume %s: cleanup should have had nothing to do:\n%s", tc.class, res.Stdout)
		}
	}
	nothingOfVerify(t, r)
}

// On a cluster restoring from another's location (setup --from-cluster)
// the location is ReadOnly: verify says so and where to run it instead,
// before creating anything.
func TestVerifyRefusesAReadOnlyLocation(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	location(t, r)
	if _, err := r.Dynamic.Resource(gvr.BSL).Namespace(ns).Patch(context.Background(), bslName, types.MergePatchType,
		[]byte(`{"spec":{"accessMode":"ReadOnly"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "verify")
	if res.Code != exitcode.Error || !strings.Contains(res.Stdout, "which is ReadOnly") || !strings.Contains(res.Stdout, "run verify on the cluster that backs up to bucket rig-bucket") {
		t.Errorf("verify on a ReadOnly location: exit %d, want 1 naming the read-only location and where to verify:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	nothingOfVerify(t, r)
}
