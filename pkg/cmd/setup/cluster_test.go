package setup_test

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/apply"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

var (
	dpaName = rig.InfraName + "-dpa"
	csName  = rig.InfraName + "-oadp"
)

// clusterObjects reads back what setup made in ns, with the namespace name
// replaced so two namespaces can be compared.
func clusterObjects(t *testing.T, r *rig.Rig, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	read := func(key string, obj *unstructured.Unstructured, err error, fields ...string) {
		if err != nil {
			t.Fatalf("read %s in %s: %v", key, ns, err)
		}
		v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, fields...)
		b, _ := yaml.Marshal(v)
		out[key] = strings.ReplaceAll(string(b), ns, "NS")
	}
	o, err := r.Dynamic.Resource(gvr.DPA).Namespace(ns).Get(ctx, dpaName, metav1.GetOptions{})
	read("dpa", o, err, "spec")
	o, err = r.Dynamic.Resource(gvr.CloudStorage).Namespace(ns).Get(ctx, csName, metav1.GetOptions{})
	read("cloudstorage", o, err, "spec")
	o, err = r.Dynamic.Resource(gvr.Secret).Namespace(ns).Get(ctx, "cloud-credentials", metav1.GetOptions{})
	read("secret", o, err, "data")
	o, err = r.Dynamic.Resource(gvr.Namespace).Get(ctx, ns, metav1.GetOptions{})
	read("namespace labels", o, err, "metadata", "labels")
	return out
}

// setup creates every object, the API server accepts each against the real
// CRDs, the content is the chapter's, and a second run changes nothing.
func TestSetupCreatesTheClusterObjects(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ns := "setup-objects"
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage", "-n", ns)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{"namespace/" + ns + " created", "secret/cloud-credentials created", "cloudstorage/" + csName + " created", "dataprotectionapplication/" + dpaName + " created"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	objs := clusterObjects(t, r, ns)
	roleARN := "arn:aws:iam::" + rig.AWSAccount + ":role/" + roleName
	wantSecret := manifests.CredentialsFile(roleARN, rig.Region)
	secret, _ := r.Kube.CoreV1().Secrets(ns).Get(context.Background(), "cloud-credentials", metav1.GetOptions{})
	if string(secret.Data["credentials"]) != wantSecret {
		t.Errorf("credentials:\n%s\nwant:\n%s", secret.Data["credentials"], wantSecret)
	}
	for _, want := range []string{"cloudStorageRef:\n      name: " + csName, "prefix: velero", "region: " + rig.Region, "- csi", "uploaderType: kopia", "key: credentials"} {
		if !strings.Contains(objs["dpa"], want) {
			t.Errorf("DPA spec lacks %q:\n%s", want, objs["dpa"])
		}
	}
	if strings.Contains(objs["dpa"], "features") || strings.Contains(objs["dpa"], "restic") {
		t.Errorf("DPA carries a block OADP 1.4 rejects:\n%s", objs["dpa"])
	}
	for _, want := range []string{"enableSharedConfig: true", "name: " + csName, "provider: aws", "oadp-sts.openshift.io/cluster-id: " + rig.ClusterID} {
		if !strings.Contains(objs["cloudstorage"], want) {
			t.Errorf("CloudStorage spec lacks %q:\n%s", want, objs["cloudstorage"])
		}
	}

	stop := r.RecordKube("kubectl-oadp_sts/")
	again := clitest.Run(t, "setup", "--wait=false", "-n", ns)
	if again.Code != 0 {
		t.Fatalf("second run: exit %d: %s", again.Code, again.Stderr)
	}
	for _, obj := range []string{"namespace/" + ns, "secret/cloud-credentials", "cloudstorage/" + csName, "dataprotectionapplication/" + dpaName} {
		if !strings.Contains(again.Stderr, obj+" unchanged") {
			t.Errorf("second run: %s not unchanged", obj)
		}
	}
	reqs, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range reqs {
		if q.Mutating() && q.Verb != "patch" {
			t.Errorf("second run made a %s on %s/%s", q.Verb, q.Resource, q.Name)
		}
	}
}

// setup --dry-run=client -o yaml | kubectl apply -f - gives the objects setup
// makes, and the dry run itself reaches neither the cluster nor AWS mutably.
func TestSetupDryRunYAMLPipesIntoKubectlApply(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage", "-n", "via-setup"); res.Code != 0 {
		t.Fatalf("setup: %s", res.Stderr)
	}
	if err := r.ResetAWS(ctx); err != nil {
		t.Fatal(err)
	}
	stopKube := r.RecordKube("kubectl-oadp_sts/")
	stopAWS, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "setup", "--dry-run=client", "-o", "yaml", "--cloudstorage", "-n", "via-kubectl")
	if res.Code != 0 {
		t.Fatalf("dry run: exit %d: %s", res.Code, res.Stderr)
	}
	kreqs, _ := stopKube()
	areqs, _ := stopAWS()
	for _, q := range kreqs {
		if q.Mutating() {
			t.Errorf("dry run sent %s %s/%s to the cluster", q.Verb, q.Resource, q.Name)
		}
	}
	for _, q := range areqs {
		if q.Mutating() {
			t.Errorf("dry run sent %s to AWS", q.Action)
		}
	}
	if strings.Contains(res.Stdout, "would apply") || !strings.HasPrefix(res.Stdout, "apiVersion: v1\nkind: Namespace") {
		t.Errorf("stdout is not a clean manifest stream:\n%s", res.Stdout)
	}
	if n := strings.Count(res.Stdout, "\n---\n"); n != 3 {
		t.Errorf("%d document separators, want 3 (namespace, secret, cloudstorage, dpa)", n)
	}

	kubectl := exec.Command("kubectl", "--kubeconfig", r.Kubeconfig, "apply", "-f", "-")
	kubectl.Stdin = strings.NewReader(res.Stdout)
	var out bytes.Buffer
	kubectl.Stdout, kubectl.Stderr = &out, &out
	if err := kubectl.Run(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out.String())
	}
	viaSetup, viaKubectl := clusterObjects(t, r, "via-setup"), clusterObjects(t, r, "via-kubectl")
	for k, v := range viaSetup {
		if viaKubectl[k] != v {
			t.Errorf("%s differs:\nsetup:\n%s\nkubectl apply of the dry run:\n%s", k, v, viaKubectl[k])
		}
	}
}

// The tests play the operator and Velero by patching status.
func TestSetupWaits(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	cases := []struct {
		name     string
		play     func(ns string)
		wantCode int
		want     []string
	}{
		{name: "ready", wantCode: 0, want: []string{"dataprotectionapplication/" + dpaName + " reconciled", "backupstoragelocation/" + dpaName + "-1 Available", "kubectl oadp-sts backup <namespace>"},
			play: func(ns string) {
				setReconciled(t, r, ns, "True", "Complete", "Reconcile complete")
				setBSL(t, r, ns, "Available", "")
			}},
		{name: "dpa rejected", wantCode: exitcode.Error, want: []string{`the OADP operator rejected DataProtectionApplication "` + dpaName + `" (Error): Delete vsm from spec`},
			play: func(ns string) {
				setReconciled(t, r, ns, "False", "Error", "Delete vsm from spec.configuration.velero.defaultPlugins")
			}},
		{name: "bsl unavailable", wantCode: exitcode.Error, want: []string{"is Unavailable: rpc error: InvalidIdentityToken: No OpenIDConnect provider found", "IAM has no OIDC provider", "kubectl oadp-sts status"},
			play: func(ns string) {
				setReconciled(t, r, ns, "True", "Complete", "Reconcile complete")
				setBSL(t, r, ns, "Unavailable", "rpc error: InvalidIdentityToken: No OpenIDConnect provider found in your account")
			}},
		// The operator makes the location before the bucket exists, so
		// Velero's first validation may find none; setup waits it out.
		{name: "bucket not there yet", wantCode: 0, want: []string{"no bucket yet", "backupstoragelocation/" + dpaName + "-1 Available"},
			play: func(ns string) {
				setReconciled(t, r, ns, "True", "Complete", "Reconcile complete")
				setBSL(t, r, ns, "Unavailable", "rpc error: NoSuchBucket: The specified bucket does not exist")
				time.Sleep(1500 * time.Millisecond)
				setBSL(t, r, ns, "Available", "")
			}},
		{name: "nobody answers", wantCode: exitcode.Timeout, want: []string{"timed out after 2s waiting for DataProtectionApplication", "wait longer with --timeout"},
			play: func(string) {}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.Fresh(t)
			ns := "setup-wait-" + string(rune('a'+i))
			go func() {
				waitCreated(r.Dynamic.Resource(gvr.DPA).Namespace(ns), dpaName) // the DPA exists: the operator "reconciles"
				tc.play(ns)
			}()
			// Only the case that tests the timeout gets a short one, so a
			// loaded machine never turns the others into timeouts.
			timeout := "60s"
			if tc.wantCode == exitcode.Timeout {
				timeout = "2s"
			}
			res := clitest.Run(t, "setup", "--yes", "--timeout", timeout, "-n", ns)
			if res.Code != tc.wantCode {
				t.Errorf("exit %d, want %d", res.Code, tc.wantCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
		})
	}
}

func setReconciled(t *testing.T, r *rig.Rig, ns, status, reason, msg string) {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
		"metadata": map[string]any{"name": dpaName, "namespace": ns},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Reconciled", "status": status, "reason": reason, "message": msg,
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}},
	}}
	if err := r.ApplyStatus(context.Background(), o); err != nil {
		t.Error(err)
	}
}

func setBSL(t *testing.T, r *rig.Rig, ns, phase, msg string) {
	ctx := context.Background()
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": dpaName + "-1", "namespace": ns},
		"spec": map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": csName, "prefix": "velero"}, "default": true,
			"config": map[string]any{"region": rig.Region}},
	}}
	if err := r.Apply(ctx, bsl); err != nil {
		t.Error(err)
		return
	}
	bsl.Object["status"] = map[string]any{"phase": phase, "message": msg}
	if err := r.ApplyStatus(ctx, bsl); err != nil {
		t.Error(err)
	}
}

// Bad input is refused before anything is applied, in the cluster or in AWS.
func TestSetupClusterBadInput(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		args    []string
		prepare func(ns string)
		want    string
	}{
		{name: "unknown OADP version", args: []string{"--oadp-version", "2.0"}, want: `unknown OADP version "2.0": use --oadp-version with one of 1.2, 1.3, 1.4, 1.5`},
		{name: "native snapshots in another region", args: []string{"--snapshots=native", "--snapshot-region", "eu-west-1"}, want: `--snapshot-region "eu-west-1" differs from the cluster's region "us-east-2"`},
		{name: "bucket S3 refuses", args: []string{"--bucket", "My_Backups"}, want: `bucket name "My_Backups" is not valid for S3`},
		{name: "unknown snapshot mode", args: []string{"--snapshots=ebs"}, want: `unknown snapshot mode "ebs"`},
		{name: "zero timeout", args: []string{"--timeout=0s"}, want: "--timeout must be positive"},
		{name: "file-system backup on OADP 1.2", args: []string{"--fs-backup", "--oadp-version", "1.2"}, want: "--fs-backup needs OADP 1.3 or later: OADP 1.2 backs up file systems only with Restic, which is not supported on AWS STS"},
		{name: "another DPA in the namespace", want: `already has DataProtectionApplication "legacy-dpa": OADP runs one DPA per namespace`,
			prepare: func(ns string) {
				if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, nsObject(ns), metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				dpa := manifests.DPA(manifests.Options{Namespace: ns, ClusterName: "legacy", Region: rig.Region, OADPVersion: "1.4"}.WithDefaults())
				if err := r.Apply(ctx, dpa); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.Fresh(t)
			ns := "setup-bad-" + string(rune('a'+i))
			if tc.prepare != nil {
				tc.prepare(ns)
			}
			stopKube := r.RecordKube("kubectl-oadp_sts/")
			stopAWS, _ := r.RecordAWS(ctx)
			res := clitest.Run(t, append([]string{"setup", "--yes", "-n", ns}, tc.args...)...)
			kreqs, _ := stopKube()
			areqs, _ := stopAWS()
			if res.Code != exitcode.Error || !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", res.Code, res.Stderr, tc.want)
			}
			for _, q := range kreqs {
				if q.Mutating() {
					t.Errorf("sent %s %s/%s despite bad input", q.Verb, q.Resource, q.Name)
				}
			}
			for _, q := range areqs {
				if q.Mutating() {
					t.Errorf("sent %s to AWS despite bad input", q.Action)
				}
			}
		})
	}
}

// On OpenShift 4.14+ with the CredentialsRequest API and the operator to
// install, the role goes into the Subscription and no secret is written.
func TestSetupCCOFlow(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	if err := r.Apply(ctx, credentialsRequestCRD()); err != nil {
		t.Fatal(err)
	}
	defer deleteOrFail(t, func() error {
		return r.Dynamic.Resource(gvr.CRD).Delete(ctx, "credentialsrequests.cloudcredential.openshift.io", metav1.DeleteOptions{})
	})
	waitCRD(t, r)
	ns := "setup-cco"
	// No OLM runs here to make an InstallPlan: Automatic approval, so setup
	// approves nothing.
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--install-operator=true", "--approval=Automatic", "-n", ns)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	sub, err := r.Dynamic.Resource(gvr.Subscription).Namespace(ns).Get(ctx, "redhat-oadp-operator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env, _, _ := unstructured.NestedSlice(sub.Object, "spec", "config", "env")
	if len(env) != 1 || env[0].(map[string]any)["name"] != "ROLEARN" || !strings.HasSuffix(env[0].(map[string]any)["value"].(string), ":role/"+roleName) {
		t.Errorf("subscription env = %v, want ROLEARN of the role", env)
	}
	if ch, _, _ := unstructured.NestedString(sub.Object, "spec", "channel"); ch != "stable-1.4" {
		t.Errorf("channel %q, want stable-1.4", ch)
	}
	if _, err := r.Kube.CoreV1().Secrets(ns).Get(ctx, "cloud-credentials", metav1.GetOptions{}); err == nil {
		t.Errorf("the plugin wrote the secret; the Cloud Credential Operator should")
	}
	if _, err := r.Dynamic.Resource(gvr.OperatorGroup).Namespace(ns).Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("no OperatorGroup: %v", err)
	}
}

// The chapter's storage check: PVCs on an in-tree EBS class are not covered by
// CSI snapshots, and setup says so (a server dry run stores nothing).
func TestSetupStorageCheckWarns(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	for _, o := range []map[string]any{
		{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": map[string]any{"name": "gp2"}, "provisioner": "kubernetes.io/aws-ebs"},
		{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "app-intree"}},
		{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data", "namespace": "app-intree"},
			"spec": map[string]any{"storageClassName": "gp2", "accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}},
	} {
		if err := r.Apply(ctx, &unstructured.Unstructured{Object: o}); err != nil {
			t.Fatal(err)
		}
	}
	defer deleteOrFail(t, func() error { return r.Dynamic.Resource(gvr.StorageClass).Delete(ctx, "gp2", metav1.DeleteOptions{}) })
	defer deleteOrFail(t, func() error {
		return r.Kube.CoreV1().PersistentVolumeClaims("app-intree").Delete(ctx, "data", metav1.DeleteOptions{})
	})

	fresh := clitest.Run(t, "setup", "--dry-run=server", "-n", "setup-storage-new")
	if fresh.Code != 0 || !strings.Contains(fresh.Stderr, "dataprotectionapplication/"+dpaName+" not checked (server dry run: namespace setup-storage-new does not exist yet)") {
		t.Errorf("server dry run into a new namespace: exit %d\n%s", fresh.Code, fresh.Stderr)
	}
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, nsObject("setup-storage"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "setup", "--dry-run=server", "-n", "setup-storage")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{"secret/cloud-credentials created (server dry run)", "dataprotectionapplication/" + dpaName + " created (server dry run)"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if !strings.Contains(res.Stderr, "warning: PVCs use non-CSI storage classes that CSI snapshots do not cover: gp2 (1 PVCs, kubernetes.io/aws-ebs): rerun setup with --snapshots=native, or rerun setup with --fs-backup") {
		t.Errorf("no storage warning:\n%s", res.Stderr)
	}
	if !strings.Contains(res.Stderr, "server dry run: the API server accepted every object; nothing was stored") {
		t.Errorf("no server dry-run summary")
	}
	if !r.NamespaceGone(ctx, "setup-storage-new") {
		t.Errorf("--dry-run=server stored the namespace")
	}
	if _, err := r.Dynamic.Resource(gvr.DPA).Namespace("setup-storage").Get(ctx, dpaName, metav1.GetOptions{}); err == nil {
		t.Errorf("--dry-run=server stored the DPA")
	}
	native := clitest.Run(t, "setup", "--dry-run=server", "--snapshots=native", "-n", "setup-storage")
	if strings.Contains(native.Stderr, "warning: PVCs") {
		t.Errorf("native snapshots cover in-tree EBS, yet setup warned:\n%s", native.Stderr)
	}
}

// deleteOADPCRDs deletes the operator's CRDs, waits for those not held by
// a leftover object to be gone, and puts them back when the test ends. CRD
// deletion is asynchronous (the API server first removes every object of
// the type); a stand-in OLM applying onto a CRD that is still terminating
// would see its work vanish.
func deleteOADPCRDs(t *testing.T, r *rig.Rig, held ...string) []string {
	t.Helper()
	ctx := context.Background()
	files, err := rig.OADPCRDFiles(rig.DefaultOADPCRDs)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{gvr.OADPCRDName, "cloudstorages.oadp.openshift.io"}
	for _, n := range names {
		if err := r.Dynamic.Resource(gvr.CRD).Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := r.ApplyCRDFiles(context.Background(), files...); err != nil {
			t.Errorf("putting the CRDs back: %v", err)
		}
	})
	for _, n := range names {
		if !slices.Contains(held, n) {
			waitCRDGone(t, r, n)
		}
	}
	return files
}

func waitCRDGone(t *testing.T, r *rig.Rig, name string) {
	if err := wait.Deleted(context.Background(), r.Dynamic.Resource(gvr.CRD), name, wait.Options{What: "CRD " + name, Timeout: 30 * time.Second}); err != nil {
		t.Error(err)
	}
}

// waitCreated waits for setup to create an object, as the operator or OLM
// would before acting on it.
func waitCreated(res dynamic.ResourceInterface, name string) bool {
	_, err := wait.For(context.Background(), res, name, func(*unstructured.Unstructured) (bool, error) { return true, nil }, wait.Options{Timeout: 30 * time.Second})
	return err == nil
}

// CSI mode needs a VolumeSnapshotClass Velero can choose for each driver in
// use; the seeded cluster has OpenShift's default one, so only the broken
// variants warn.
func TestSetupSnapshotClassCheck(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	vscs := r.Dynamic.Resource(gvr.VolumeSnapshotClass)
	// Fresh seeds OpenShift's csi-aws-vsc again when the test ends.
	t.Cleanup(func() {
		for _, n := range []string{"ebs-a", "ebs-b"} {
			_ = vscs.Delete(ctx, n, metav1.DeleteOptions{})
		}
	})
	t.Cleanup(func() {
		_ = r.Kube.CoreV1().Namespaces().Delete(context.Background(), "setup-vsc", metav1.DeleteOptions{})
	})
	// An application's PVC on the default CSI class: its driver needs a class.
	for _, o := range []map[string]any{
		{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "setup-vsc"}},
		{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data", "namespace": "setup-vsc"},
			"spec": map[string]any{"storageClassName": "gp3-csi", "accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}},
	} {
		must(t, r.Apply(ctx, &unstructured.Unstructured{Object: o}))
	}
	run := func() string {
		t.Helper()
		res := clitest.Run(t, "setup", "--dry-run=server", "-n", "setup-vsc")
		if res.Code != 0 {
			t.Fatalf("warnings must not stop setup: exit %d", res.Code)
		}
		return res.Stderr
	}
	if out := run(); strings.Contains(out, "VolumeSnapshotClass") {
		t.Errorf("OpenShift's default class is enough, yet setup warned:\n%s", out)
	}
	must(t, vscs.Delete(ctx, "csi-aws-vsc", metav1.DeleteOptions{}))
	if out := run(); !strings.Contains(out, "warning: no VolumeSnapshotClass for CSI driver ebs.csi.aws.com, so Velero cannot snapshot its volumes: create one for that driver labelled velero.io/csi-volumesnapshot-class=true") {
		t.Errorf("no warning for a driver without a class:\n%s", out)
	}
	for _, n := range []string{"ebs-b", "ebs-a"} {
		must(t, r.Apply(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
			"metadata": map[string]any{"name": n}, "driver": "ebs.csi.aws.com", "deletionPolicy": "Retain"}}))
	}
	if out := run(); !strings.Contains(out, "warning: 2 VolumeSnapshotClasses for CSI driver ebs.csi.aws.com (ebs-a, ebs-b) and none is labelled velero.io/csi-volumesnapshot-class or marked default, so Velero cannot choose: label the one Velero should use, e.g. 'oc label volumesnapshotclass ebs-a velero.io/csi-volumesnapshot-class=true'") {
		t.Errorf("no warning for an ambiguous choice:\n%s", out)
	}
	if out := clitest.Run(t, "setup", "--dry-run=server", "--snapshots=native", "-n", "setup-vsc").Stderr; strings.Contains(out, "VolumeSnapshotClass") {
		t.Errorf("native snapshots need no VolumeSnapshotClass, yet setup warned:\n%s", out)
	}
	_, err := vscs.Patch(ctx, "ebs-b", types.MergePatchType, []byte(`{"metadata":{"labels":{"velero.io/csi-volumesnapshot-class":"true"}}}`), metav1.PatchOptions{})
	must(t, err)
	if out := run(); strings.Contains(out, "VolumeSnapshotClass") {
		t.Errorf("a labelled class settles the choice, yet setup warned:\n%s", out)
	}
}

// setup converges on its flags, so a rerun without --fs-backup would turn
// the node agent off: it says so before doing it.
func TestSetupWarnsBeforeTurningFSBackupOff(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "setup-fs"
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, nsObject(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--fs-backup", "-n", ns); res.Code != 0 {
		t.Fatalf("setup --fs-backup: exit %d", res.Code)
	}
	const warning = "warning: dataprotectionapplication/" + rig.InfraName + "-dpa runs the node agent for file-system backup, and this run turns it off: rerun with --fs-backup to keep it"
	if res := clitest.Run(t, "setup", "--dry-run=server", "-n", ns); res.Code != 0 || !strings.Contains(res.Stderr, warning) {
		t.Errorf("exit %d; want 0 and the warning", res.Code)
	}
	if res := clitest.Run(t, "setup", "--dry-run=server", "--fs-backup", "-n", ns); res.Code != 0 || strings.Contains(res.Stderr, "turns it off") {
		t.Errorf("exit %d; --fs-backup keeps the agent, yet setup warned", res.Code)
	}
}

// --install-operator=auto on a cluster without OADP: setup subscribes, waits
// for OLM to install the operator's CRDs (the test plays OLM with Automatic
// approval, so setup approves nothing), then applies the CloudStorage and DPA.
func TestSetupInstallsTheOperatorWhenAbsent(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	files := deleteOADPCRDs(t, r)
	ns := "setup-olm"
	go func() { // OLM: once subscribed, install the bundle's CRDs
		if waitCreated(r.Dynamic.Resource(gvr.Subscription).Namespace(ns), manifests.PackageName) {
			if err := r.ApplyCRDFiles(ctx, files...); err != nil {
				t.Error(err)
			}
		}
	}()
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--timeout", "30s", "--approval=Automatic", "-n", ns)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	sub := strings.Index(res.Stderr, "subscription/redhat-oadp-operator created")
	dpa := strings.Index(res.Stderr, "dataprotectionapplication/"+dpaName+" created")
	if sub < 0 || dpa < 0 || dpa < sub {
		t.Errorf("want the subscription created, then the DPA once the CRDs exist:\n%s", res.Stderr)
	}
	if _, err := r.Dynamic.Resource(gvr.DPA).Namespace(ns).Get(ctx, dpaName, metav1.GetOptions{}); err != nil {
		t.Errorf("DPA not created: %v", err)
	}
}

// crdReadAfterSubscribing reports whether the plugin read a CRD after
// creating its Subscription: the audit log is in completion order.
func crdReadAfterSubscribing(reqs func() ([]rig.KubeRequest, error)) bool {
	got, _ := reqs()
	sub := slices.IndexFunc(got, func(k rig.KubeRequest) bool { return k.Resource == "subscriptions" && k.Mutating() })
	return sub >= 0 && slices.ContainsFunc(got[sub:], func(k rig.KubeRequest) bool { return k.Resource == "customresourcedefinitions" })
}

// An operator uninstalled moments ago leaves its CRDs Terminating yet still
// Established; setup must wait for the reinstalled ones rather than apply
// onto a type that is about to vanish.
func TestSetupWaitsOutTerminatingCRDs(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns, old := "setup-terminating", "setup-terminating-old"
	// Leftovers of the uninstalled operator, in another namespace, whose
	// finalizers hold both CRDs in Terminating.
	must(t, r.Apply(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": old}}}))
	leftovers := manifests.Options{Namespace: old, ClusterName: "leftover", Region: rig.Region, OADPVersion: "1.4"}.WithDefaults()
	holders := []*unstructured.Unstructured{manifests.CloudStorage(leftovers), manifests.DPA(leftovers)}
	for _, h := range holders {
		h.SetFinalizers([]string{"example.com/hold"})
		must(t, r.Apply(ctx, h))
	}
	files := deleteOADPCRDs(t, r, gvr.OADPCRDName, "cloudstorages.oadp.openshift.io")
	released := make(chan struct{})
	reqs := r.RecordKube("kubectl-oadp_sts/")
	go func() { // OLM: reinstall once setup has looked at the old CRDs, and they are gone
		defer close(released)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if crdReadAfterSubscribing(reqs) {
				break
			}
		}
		for _, h := range holders {
			res, _ := apply.Resource(r.Dynamic, h)
			if _, err := res.Patch(ctx, h.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
				t.Error(err)
				return
			}
		}
		waitCRDGone(t, r, gvr.OADPCRDName)
		waitCRDGone(t, r, "cloudstorages.oadp.openshift.io")
		if err := r.ApplyCRDFiles(ctx, files...); err != nil {
			t.Error(err)
		}
	}()
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage", "--timeout", "30s", "--approval=Automatic", "-n", ns)
	<-released
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{
		"subscription/redhat-oadp-operator created", // a terminating CRD is no installed operator
		"customresourcedefinition/cloudstorages.oadp.openshift.io terminating",
		"dataprotectionapplication/" + dpaName + " created",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if _, err := r.Dynamic.Resource(gvr.CloudStorage).Namespace(ns).Get(ctx, csName, metav1.GetOptions{}); err != nil {
		t.Errorf("CloudStorage not created on the reinstalled CRD: %v", err)
	}
}

func TestSetupFlagCompletion(t *testing.T) {
	for flag, want := range map[string]string{
		"--oadp-version": "1.2\n1.3\n1.4\n1.5\n1.6\n", "--snapshots": "csi\nnative\n", "--approval": "Manual\nAutomatic\n",
		"--install-operator": "auto\ntrue\nfalse\n", "--credentials": "auto\nsecret\nsubscription\n",
	} {
		res := clitest.Run(t, "__complete", "setup", flag, "")
		if !strings.HasPrefix(res.Stdout, want) {
			t.Errorf("%s completes to %q, want %q", flag, res.Stdout, want)
		}
	}
}

// deleteOrFail runs a test's clean-up delete: gone already is fine, any other
// failure leaves an object the next test would trip over.
func deleteOrFail(t *testing.T, del func() error) {
	t.Helper()
	if err := del(); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
}
