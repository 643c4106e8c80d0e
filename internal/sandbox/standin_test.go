package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

var opts = manifests.Options{
	ClusterName: rig.InfraName, Region: rig.Region, OADPVersion: OADPVersion, WriteSecret: true,
	RoleARN: "arn:aws:iam::" + rig.AWSAccount + ":role/oadp", Snapshots: manifests.SnapshotsNative,
	Tags: map[string]string{"team": "backup"},
}.WithDefaults()

// standIn runs the stand-in on the rig with setup's objects applied (no Velero).
func standIn(t *testing.T) (*rig.Rig, *StandIn) {
	t.Helper()
	r := rig.Get(t)
	r.Fresh(t)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	s := &StandIn{Dynamic: r.Dynamic, Kube: r.Kube, Namespace: Namespace, OADPVersion: OADPVersion,
		S3URL: r.AWSEndpoint, Dir: filepath.Join(dir, "stand-in"), VeleroTempDir: filepath.Join(dir, "tmp")}
	for _, o := range manifests.Build(opts) {
		if err := r.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		// Leave no CloudStorage held by a finalizer for the next test.
		cs := r.Dynamic.Resource(gvr.CloudStorage).Namespace(Namespace)
		_, _ = cs.Patch(context.Background(), opts.CloudStorageName, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = cs.Delete(context.Background(), opts.CloudStorageName, metav1.DeleteOptions{})
		_ = r.Dynamic.Resource(gvr.DPA).Namespace(Namespace).Delete(context.Background(), opts.DPAName, metav1.DeleteOptions{})
	})
	return r, s
}

func waitFor(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, name string, cond wait.Condition) *unstructured.Unstructured {
	t.Helper()
	o, err := wait.For(context.Background(), r.Dynamic.Resource(res).Namespace(Namespace), name, cond, wait.Options{What: name, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func exists(*unstructured.Unstructured) (bool, error) { return true, nil }

func TestDPABecomesLocations(t *testing.T) {
	r, s := standIn(t)
	ctx := context.Background()
	dpa := waitFor(t, r, gvr.DPA, opts.DPAName, reconciled("True"))
	if c := cond(dpa); c["reason"] != "Complete" || c["message"] != "Reconcile complete" {
		t.Errorf("Reconciled = %v", c)
	}
	bsl := waitFor(t, r, gvr.BSL, manifests.BSLName(opts.DPAName), exists)
	spec, _, _ := unstructured.NestedMap(bsl.Object, "spec")
	want := map[string]any{
		"provider":      "aws",
		"default":       true,
		"objectStorage": map[string]any{"bucket": opts.Bucket, "prefix": "velero"},
		"config": map[string]any{"region": rig.Region, "enableSharedConfig": "true",
			"s3Url": r.AWSEndpoint, "s3ForcePathStyle": "true"},
		"credential": map[string]any{"name": "cloud-credentials-sandbox", "key": "credentials"},
	}
	for k, v := range want {
		if !equalJSON(spec[k], v) {
			t.Errorf("BSL spec.%s = %v, want %v", k, spec[k], v)
		}
	}
	if refs := bsl.GetOwnerReferences(); len(refs) != 1 || refs[0].Name != opts.DPAName {
		t.Errorf("BSL owners %v, want the DPA", refs)
	}
	vsl := waitFor(t, r, gvr.VSL, opts.DPAName+"-1", exists)
	if cf, _, _ := unstructured.NestedString(vsl.Object, "spec", "config", "credentialsFile"); cf != filepath.Join(s.VeleroTempDir, "credentials", Namespace, "cloud-credentials-sandbox-credentials") {
		t.Errorf("VSL credentialsFile %q, want the sandbox copy as Velero materialises it", cf)
	}

	// The copy points at a token the API server issued; the original is untouched.
	cp, err := r.Kube.CoreV1().Secrets(Namespace).Get(ctx, "cloud-credentials-sandbox", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cp.Data["credentials"]); !strings.Contains(got, "web_identity_token_file = "+s.TokenPath()) || !strings.Contains(got, "role_arn = "+opts.RoleARN) {
		t.Errorf("sandbox credentials:\n%s", got)
	}
	orig, _ := r.Kube.CoreV1().Secrets(Namespace).Get(ctx, manifests.SecretName, metav1.GetOptions{})
	if got := string(orig.Data["credentials"]); got != manifests.CredentialsFile(opts.RoleARN, opts.Region) {
		t.Errorf("the plugin's secret changed:\n%s", got)
	}
	tok, err := os.ReadFile(s.TokenPath())
	if err != nil || strings.Count(string(tok), ".") != 2 {
		t.Errorf("token file: %v %q", err, tok)
	}
	if _, err := r.Kube.AppsV1().Deployments(Namespace).Get(ctx, "velero", metav1.GetOptions{}); err != nil {
		t.Errorf("deployment velero (Velero reads it to restore): %v", err)
	}
}

// A DPA the operator would reject shows Reconciled False with the rule.
func TestBadDPAIsNotReconciled(t *testing.T) {
	r, _ := standIn(t)
	waitFor(t, r, gvr.DPA, opts.DPAName, reconciled("True"))
	_, err := r.Dynamic.Resource(gvr.DPA).Namespace(Namespace).Patch(context.Background(), opts.DPAName, types.MergePatchType,
		[]byte(`{"spec":{"features":{"dataMover":{"enable":false}}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dpa := waitFor(t, r, gvr.DPA, opts.DPAName, reconciled("False"))
	if c := cond(dpa); c["reason"] != "Error" || !strings.Contains(c["message"].(string), "Delete vsm from spec.configuration.velero.defaultPlugins and dataMover object from spec.features") {
		t.Errorf("Reconciled = %v", c)
	}
}

// The stand-in judges with the plugin's rule engine on the namespace's real
// objects: a secret the location names going missing turns the DPA
// Reconciled False with the operator's own message (oracle case
// oadp-1.5-derived-040's rule, R12). This is the plugin's prediction of the
// operator, not the operator's word.
func TestStandInJudgesTheNamespacesObjects(t *testing.T) {
	r, _ := standIn(t)
	ctx := context.Background()
	waitFor(t, r, gvr.DPA, opts.DPAName, reconciled("True"))
	if err := r.Kube.CoreV1().Secrets(Namespace).Delete(ctx, manifests.SecretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	dpa := waitFor(t, r, gvr.DPA, opts.DPAName, reconciled("False"))
	if c := cond(dpa); c["message"] != `Secret "cloud-credentials" not found` {
		t.Errorf("Reconciled = %v, want the operator's message for the missing secret", c)
	}
}

// As the real operator does, the stand-in records BucketCreated on the
// CloudStorage once it made the bucket.
func TestCloudStorageEvents(t *testing.T) {
	r, _ := standIn(t)
	ctx := context.Background()
	cs := waitFor(t, r, gvr.CloudStorage, opts.CloudStorageName, func(o *unstructured.Unstructured) (bool, error) {
		n, _, _ := unstructured.NestedString(o.Object, "status", "name")
		return n == opts.Bucket, nil
	})
	// Earlier tests' CloudStorages of the same name left theirs.
	evs, err := r.Kube.CoreV1().Events(Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(cs.GetUID()) + ",reason=BucketCreated"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 1 || evs.Items[0].InvolvedObject.Kind != "CloudStorage" || !strings.Contains(evs.Items[0].Message, opts.Bucket) {
		t.Errorf("BucketCreated events: %+v", evs.Items)
	}

	// Without enableSharedConfig the SDK cannot use the web-identity
	// profile: the existence check fails first, BucketNotFound, no bucket.
	noShared := manifests.CloudStorage(opts)
	noShared.SetName("no-shared-config")
	_ = unstructured.SetNestedField(noShared.Object, "no-shared-config-bucket", "spec", "name")
	_ = unstructured.SetNestedField(noShared.Object, false, "spec", "enableSharedConfig")
	if err := r.Apply(ctx, noShared); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		res := r.Dynamic.Resource(gvr.CloudStorage).Namespace(Namespace)
		_, _ = res.Patch(context.Background(), "no-shared-config", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = res.Delete(context.Background(), "no-shared-config", metav1.DeleteOptions{})
	})
	ev := waitFor(t, r, gvr.Event, "no-shared-config.bucketnotfound", exists)
	if msg, _, _ := unstructured.NestedString(ev.Object, "message"); !strings.Contains(msg, "NoCredentialProviders") {
		t.Errorf("BucketNotFound message %q", msg)
	}
	if _, err := r.S3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("no-shared-config-bucket")}); err == nil {
		t.Error("the bucket was created although the operator could not have authenticated")
	}
}

// The bucket and the operator's finalizer; deletion only with the annotation
// and an empty bucket.
func TestCloudStorageBucket(t *testing.T) {
	r, _ := standIn(t)
	ctx := context.Background()
	res := r.Dynamic.Resource(gvr.CloudStorage).Namespace(Namespace)
	cs := waitFor(t, r, gvr.CloudStorage, opts.CloudStorageName, func(o *unstructured.Unstructured) (bool, error) {
		n, _, _ := unstructured.NestedString(o.Object, "status", "name")
		return n == opts.Bucket, nil
	})
	if f := cs.GetFinalizers(); len(f) != 1 || f[0] != manifests.CloudStorageFinalizer {
		t.Errorf("finalizers %v", f)
	}
	tags, err := r.S3().GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(opts.Bucket)})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "team" {
		t.Errorf("bucket tags %v, %v", tags, err)
	}
	if _, err := r.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(opts.Bucket), Key: aws.String("velero/x"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if err := res.Delete(ctx, opts.CloudStorageName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	stays := func(why string) {
		t.Helper()
		time.Sleep(time.Second)
		if _, err := res.Get(ctx, opts.CloudStorageName, metav1.GetOptions{}); err != nil {
			t.Fatalf("%s: the CloudStorage is gone (%v), want it Terminating", why, err)
		}
		if _, err := r.S3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(opts.Bucket)}); err != nil {
			t.Fatalf("%s: bucket gone: %v", why, err)
		}
	}
	stays("no annotation")
	if _, err := res.Patch(ctx, opts.CloudStorageName, types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+manifests.CloudStorageDeleteAnnotation+`":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	stays("bucket not empty")
	if _, err := r.S3().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(opts.Bucket), Key: aws.String("velero/x")}); err != nil {
		t.Fatal(err)
	}
	if err := wait.Deleted(ctx, res, opts.CloudStorageName, wait.Options{Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.S3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(opts.Bucket)}); err == nil {
		t.Error("bucket still exists")
	}
}

func reconciled(status string) wait.Condition {
	return func(o *unstructured.Unstructured) (bool, error) { return cond(o)["status"] == status, nil }
}

func cond(o *unstructured.Unstructured) map[string]any {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Reconciled" {
			return m
		}
	}
	return map[string]any{}
}

func equalJSON(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if len(am) != len(bm) {
			return false
		}
		for k := range am {
			if !equalJSON(am[k], bm[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// A velero-type location (the bucket setup makes) becomes a location as the
// operator makes it: the spec as written, the operator's labels for
// velero-type locations, checksumAlgorithm empty for aws.
func TestVeleroLocationBecomesALabelledLocation(t *testing.T) {
	r, _ := standIn(t)
	o := opts
	o.BucketLocation, o.BackupImages, o.CloudStorageName = true, false, ""
	if err := r.Apply(context.Background(), manifests.DPA(o)); err != nil {
		t.Fatal(err)
	}
	bsl := waitFor(t, r, gvr.BSL, manifests.BSLName(o.DPAName), func(u *unstructured.Unstructured) (bool, error) {
		return u.GetLabels()["app.kubernetes.io/component"] == "bsl", nil
	})
	for k, v := range VeleroLocationLabels {
		if bsl.GetLabels()[k] != v {
			t.Errorf("BSL label %s=%q, want %q", k, bsl.GetLabels()[k], v)
		}
	}
	spec, _, _ := unstructured.NestedMap(bsl.Object, "spec")
	want := map[string]any{
		"provider":      "aws",
		"objectStorage": map[string]any{"bucket": o.Bucket, "prefix": "velero"},
		"config": map[string]any{"region": rig.Region, "profile": "default", "checksumAlgorithm": "",
			"s3Url": r.AWSEndpoint, "s3ForcePathStyle": "true"},
		"credential": map[string]any{"name": "cloud-credentials-sandbox", "key": "credentials"},
	}
	for k, v := range want {
		if !equalJSON(spec[k], v) {
			t.Errorf("BSL spec.%s = %v, want %v", k, spec[k], v)
		}
	}
}
