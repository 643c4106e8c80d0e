//go:build unix

// Package e2e runs the chapter's hello-world walkthrough with the plugin's own
// commands against the sandbox: a real kube-apiserver, moto, the stand-in for
// the OADP operator and the real Velero server with its AWS plugin, which
// reaches the bucket through AssumeRoleWithWebIdentity with the credentials
// setup wrote. Assertions read the API server and the bucket.
//
// The DPA's Reconciled condition here is written by the stand-in, which judges
// with the plugin's own rule engine (pkg/dparules): it is the plugin's
// prediction of the operator, checked against the real operator's verdicts
// only by pkg/dparules' conformance test, never the real operator's word.
package e2e

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/sandbox"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	oiam "github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// The walkthrough runs setup with --cluster-name (what a hosted control
// plane's 32-character infrastructure name makes people do) and every later
// command without it: they find the names in what setup recorded.
const (
	ns          = sandbox.Namespace
	app         = "hello-world"
	clusterName = "mycluster"
	dpaName     = clusterName + "-dpa"
	csName      = clusterName + "-oadp"
	bucket      = clusterName + "-oadp"
	bslName     = dpaName + "-1"
	role        = clusterName + "-openshift-oadp-aws-cloud-credentials"
	// policy is the chapter's shared policy, of the --cloudstorage path;
	// scopedPolicy the per-cluster one of the bucket setup makes.
	policy       = "OadpVer1"
	scopedPolicy = clusterName + oiam.PolicySuffix
)

var (
	once     sync.Once
	shared   *sandbox.Sandbox
	startErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	twoClusters.Stop()
	os.Exit(code)
}

// releaseShared stops the package's sandbox, whose Velero would hold the
// machine's one Velero lock, for a test that runs Velero on other
// clusters; a later get starts it again.
func releaseShared() {
	shared.Stop()
	shared, startErr, once = nil, nil, sync.Once{}
}

// get starts the package's sandbox on first use; a missing prerequisite
// skips, except under CI=true where it fails.
func get(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		shared, startErr = sandbox.Start(ctx, sandbox.Options{Log: os.Stderr})
		if startErr == nil {
			fmt.Fprintf(os.Stderr, "sandbox up in %s\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if startErr != nil {
		rig.SkipOrFail(t, startErr)
	}
	return shared
}

//nolint:funlen // the chapter's walkthrough in its order, each step on what the one before left
func TestHelloWorldWalkthrough(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	r.UseEnv(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{sb.StandInLog, sb.VeleroLog} {
				b, _ := os.ReadFile(f)
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("%s ends:\n%s", f, b)
			}
		}
	})

	mustRun(t, exitcode.OK, "status")
	mustRun(t, exitcode.OK, "setup", "--yes", "--cluster-name", clusterName)
	// A plain status checks what setup made under the other name. The DPA's
	// Reconciled condition is the sandbox's stand-in operator's verdict
	// (internal/sandbox), not the real operator's; the location's Available
	// is the real Velero server's.
	mustRun(t, exitcode.OK, "status")

	// What setup made, as the stand-in turned it into Velero's objects.
	// Reconciled=True is the stand-in's (the rule engine's) verdict.
	dpa := get1(t, r, gvr.DPA, dpaName)
	if c := condition(dpa, "Reconciled"); c["status"] != "True" || c["reason"] != "Complete" {
		t.Fatalf("DPA Reconciled = %v, want True/Complete", c)
	}
	bsl := get1(t, r, gvr.BSL, bslName)
	if got := str(bsl, "status", "phase"); got != "Available" {
		t.Fatalf("BSL %s phase %q, want Available (message %q)", bslName, got, str(bsl, "status", "message"))
	}
	// The default: setup made the bucket, the DPA names it in a velero
	// location, and no CloudStorage is involved.
	if got := str(bsl, "spec", "objectStorage", "bucket"); got != bucket {
		t.Errorf("BSL bucket %q, want %q (the DPA's velero.objectStorage)", got, bucket)
	}
	if got := str(bsl, "spec", "config", "profile"); got != "default" {
		t.Errorf("BSL config profile %q, want default", got)
	}
	if css, e := r.Dynamic.Resource(gvr.CloudStorage).Namespace(ns).List(ctx, metav1.ListOptions{}); e != nil || len(css.Items) != 0 {
		t.Errorf("CloudStorages after a default setup: %v (err %v), want none", css, e)
	}
	checkBucketHardened(t, r)
	checkScopedPolicy(t, r)
	sec, e := r.Kube.CoreV1().Secrets(ns).Get(ctx, manifests.SecretName, metav1.GetOptions{})
	if e != nil {
		t.Fatal(e)
	}
	if !strings.Contains(string(sec.Data[manifests.SecretKey]), "web_identity_token_file = "+manifests.WebIdentityToken) {
		t.Errorf("the plugin's secret was changed:\n%s", sec.Data[manifests.SecretKey])
	}
	if b, e := r.S3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); e != nil || b == nil {
		t.Fatalf("bucket %s: %v", bucket, e)
	}

	// The chapter's workload.
	want := createHelloWorld(t, r)

	stopRec, e := r.RecordAWS(ctx)
	if e != nil {
		t.Fatal(e)
	}
	mustRun(t, exitcode.OK, "backup", app)
	calls, e := stopRec()
	if e != nil {
		t.Fatal(e)
	}
	if !hasAction(calls, "AssumeRoleWithWebIdentity") {
		t.Errorf("Velero's AWS plugin never called AssumeRoleWithWebIdentity; the calls were %v", calls)
	}
	b := get1(t, r, gvr.Backup, app)
	items, _, _ := unstructured.NestedInt64(b.Object, "status", "progress", "itemsBackedUp")
	total, _, _ := unstructured.NestedInt64(b.Object, "status", "progress", "totalItems")
	if p := str(b, "status", "phase"); p != "Completed" || items != total || total == 0 {
		t.Fatalf("backup phase %s, %d of %d items; want Completed with all of more than 0", p, items, total)
	}
	keys := list(t, r, bucket, manifests.DefaultPrefix+"/backups/"+app+"/")
	for _, k := range []string{"velero-backup.json", app + ".tar.gz", app + "-resource-list.json.gz"} {
		if !keys[manifests.DefaultPrefix+"/backups/"+app+"/"+k] {
			t.Errorf("bucket %s lacks %s/backups/%s/%s; it has %v", bucket, manifests.DefaultPrefix, app, k, keys)
		}
	}

	// Lose the namespace, restore it.
	if e := r.Kube.CoreV1().Namespaces().Delete(ctx, app, metav1.DeleteOptions{}); e != nil {
		t.Fatal(e)
	}
	if e := wait.Deleted(ctx, r.Dynamic.Resource(gvr.Namespace), app, wait.Options{What: "namespace " + app, Timeout: 2 * time.Minute}); e != nil {
		t.Fatal(e)
	}
	mustRun(t, exitcode.OK, "restore", app)
	rs := get1(t, r, gvr.Restore, app)
	if p := str(rs, "status", "phase"); p != "Completed" {
		t.Fatalf("restore phase %s, want Completed", p)
	}
	checkRestored(t, r, want)

	lostBucket(t, r)

	mustRun(t, exitcode.OK, "cleanup", "--workload", app, "--yes")
	if _, e := r.S3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); e == nil {
		t.Errorf("bucket %s still exists after cleanup", bucket)
	}
	if _, e := r.IAM().GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)}); e == nil {
		t.Errorf("role %s still exists after cleanup", role)
	}
	if _, e := r.IAM().GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + rig.AWSAccount + ":policy/" + scopedPolicy)}); e == nil {
		t.Errorf("policy %s still exists after cleanup", scopedPolicy)
	}
	crds, e := r.Dynamic.Resource(gvr.CRD).List(ctx, metav1.ListOptions{})
	if e != nil {
		t.Fatal(e)
	}
	for _, c := range crds.Items {
		if g := str(&c, "spec", "group"); g == "velero.io" || g == "oadp.openshift.io" {
			t.Errorf("CRD %s still exists after cleanup", c.GetName())
		}
	}
	if _, e := r.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(e) {
		t.Errorf("namespace %s after cleanup: %v, want not found", ns, e)
	}
}

// checkBucketHardened reads the bucket setup made back from moto.
func checkBucketHardened(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	c := r.S3()
	pab, e := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	if e != nil {
		t.Errorf("bucket %s public access block: %v", bucket, e)
	} else if p := pab.PublicAccessBlockConfiguration; !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("bucket %s public access block not all on: %+v", bucket, p)
	}
	enc, e := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if e != nil {
		t.Errorf("bucket %s encryption: %v", bucket, e)
	} else if a := enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm; a != "AES256" {
		t.Errorf("bucket %s default encryption %s, want AES256", bucket, a)
	}
	tags, e := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if e != nil {
		t.Fatalf("bucket %s tags: %v", bucket, e)
	}
	got := map[string]string{}
	for _, tg := range tags.TagSet {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if got[oiam.TagManagedBy] != oiam.ManagedBy || got[oiam.TagOwnerClusterID] != rig.ClusterID {
		t.Errorf("bucket %s tags %v lack the ownership tags", bucket, got)
	}
}

// checkScopedPolicy reads the role's policy back from IAM: it names only the
// bucket, and in CSI mode no EC2 action.
func checkScopedPolicy(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	arn := aws.String("arn:aws:iam::" + rig.AWSAccount + ":policy/" + scopedPolicy)
	p, e := r.IAM().GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn})
	if e != nil {
		t.Fatalf("policy %s: %v", scopedPolicy, e)
	}
	v, e := r.IAM().GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: p.Policy.DefaultVersionId})
	if e != nil {
		t.Fatal(e)
	}
	doc, e := oiam.DecodeDocument(aws.ToString(v.PolicyVersion.Document))
	if e != nil {
		t.Fatal(e)
	}
	for _, st := range doc.(map[string]any)["Statement"].([]any) {
		m := st.(map[string]any)
		for _, a := range anyList(m["Action"]) {
			if strings.HasPrefix(a, "ec2:") {
				t.Errorf("CSI mode, yet the policy allows %s", a)
			}
		}
		for _, res := range anyList(m["Resource"]) {
			if res != "arn:aws:s3:::"+bucket && !strings.HasPrefix(res, "arn:aws:s3:::"+bucket+"/") {
				t.Errorf("the policy names %s, beyond bucket %s", res, bucket)
			}
		}
	}
}

func anyList(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// lostBucket is the failing case: the location's bucket is gone. While the
// location still shows Available (Velero validates it only every
// validationFrequency), Velero takes the backup and fails it: exit 4. Once
// Velero has marked it Unavailable, the plugin refuses before creating
// anything: exit 1. The location is then put back.
func lostBucket(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	bsls := r.Dynamic.Resource(gvr.BSL).Namespace(ns)
	patch := func(p string) {
		t.Helper()
		if _, e := bsls.Patch(ctx, bslName, types.MergePatchType, []byte(p), metav1.PatchOptions{FieldManager: "e2e"}); e != nil {
			t.Fatal(e)
		}
	}
	phase := func(want string) {
		t.Helper()
		_, e := wait.For(ctx, bsls, bslName, func(o *unstructured.Unstructured) (bool, error) {
			return str(o, "status", "phase") == want, nil
		}, wait.Options{What: "BSL " + bslName, Timeout: time.Minute})
		if e != nil {
			t.Fatal(e)
		}
	}

	patch(`{"spec":{"validationFrequency":"1h","objectStorage":{"bucket":"` + bucket + `-lost"}}}`)
	res := clitest.Run(t, "backup", app, "--name", "lost-bucket")
	if res.Code != exitcode.Failed {
		t.Errorf("backup to a lost bucket: exit %d, want %d (Failed)", res.Code, exitcode.Failed)
	}
	if p := str(get1(t, r, gvr.Backup, "lost-bucket"), "status", "phase"); p != "Failed" {
		t.Errorf("backup lost-bucket phase %s, want Failed", p)
	}

	patch(`{"spec":{"validationFrequency":"1s"}}`)
	phase("Unavailable")
	res = clitest.Run(t, "backup", app, "--name", "unavailable")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "Unavailable") {
		t.Errorf("backup to an Unavailable location: exit %d, stderr %q; want %d naming the location's state", res.Code, res.Stderr, exitcode.Error)
	}
	if _, e := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Get(ctx, "unavailable", metav1.GetOptions{}); !apierrors.IsNotFound(e) {
		t.Errorf("backup unavailable: %v, want not created", e)
	}

	// Put the bucket back, as the operator's next reconcile would.
	patch(`{"spec":{"objectStorage":{"bucket":"` + bucket + `"}}}`)
	phase("Available")
	patch(`{"spec":{"validationFrequency":null}}`)
}

func mustRun(t *testing.T, code int, args ...string) clitest.Result {
	t.Helper()
	res := clitest.Run(t, args...)
	if res.Code != code {
		t.Fatalf("kubectl oadp-sts %s: exit %d, want %d\nstderr:\n%s", strings.Join(args, " "), res.Code, code, res.Stderr)
	}
	return res
}

func createHelloWorld(t *testing.T, r *rig.Rig) (want helloWorld) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "hello-openshift"}
	want.deploy = appsv1.DeploymentSpec{
		Replicas: aws.Int32(1),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "hello-openshift", Image: "docker.io/openshift/hello-openshift",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			}}},
		},
	}
	want.svc = corev1.ServiceSpec{
		Selector: labels,
		Ports:    []corev1.ServicePort{{Name: "8080-tcp", Port: 8080, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
	}
	if _, e := r.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: app}}, metav1.CreateOptions{}); e != nil {
		t.Fatal(e)
	}
	if _, e := r.Kube.AppsV1().Deployments(app).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "hello-openshift", Labels: labels}, Spec: want.deploy}, metav1.CreateOptions{}); e != nil {
		t.Fatal(e)
	}
	if _, e := r.Kube.CoreV1().Services(app).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello-openshift", Labels: labels}, Spec: want.svc}, metav1.CreateOptions{}); e != nil {
		t.Fatal(e)
	}
	return want
}

type helloWorld struct {
	deploy appsv1.DeploymentSpec
	svc    corev1.ServiceSpec
}

func checkRestored(t *testing.T, r *rig.Rig, want helloWorld) {
	t.Helper()
	ctx := context.Background()
	d, e := r.Kube.AppsV1().Deployments(app).Get(ctx, "hello-openshift", metav1.GetOptions{})
	if e != nil {
		t.Fatalf("restored deployment: %v", e)
	}
	c := d.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Image != want.deploy.Template.Spec.Containers[0].Image || !reflect.DeepEqual(c[0].Ports, want.deploy.Template.Spec.Containers[0].Ports) ||
		!reflect.DeepEqual(d.Spec.Selector, want.deploy.Selector) || *d.Spec.Replicas != *want.deploy.Replicas ||
		!reflect.DeepEqual(d.Spec.Template.Labels, want.deploy.Template.Labels) {
		t.Errorf("restored deployment spec differs:\n got %+v\nwant %+v", d.Spec, want.deploy)
	}
	s, e := r.Kube.CoreV1().Services(app).Get(ctx, "hello-openshift", metav1.GetOptions{})
	if e != nil {
		t.Fatalf("restored service: %v", e)
	}
	if !reflect.DeepEqual(s.Spec.Selector, want.svc.Selector) || len(s.Spec.Ports) != 1 ||
		s.Spec.Ports[0].Port != 8080 || s.Spec.Ports[0].TargetPort != want.svc.Ports[0].TargetPort || s.Spec.Ports[0].Name != want.svc.Ports[0].Name {
		t.Errorf("restored service spec differs:\n got %+v\nwant %+v", s.Spec, want.svc)
	}
}

func get1(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, name string) *unstructured.Unstructured {
	t.Helper()
	o, e := r.Dynamic.Resource(res).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if e != nil {
		t.Fatal(e)
	}
	return o
}

func str(o *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(o.Object, path...)
	return s
}

func condition(o *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func hasAction(calls []rig.AWSRequest, action string) bool {
	for _, c := range calls {
		if c.Action == action {
			return true
		}
	}
	return false
}

func list(t *testing.T, r *rig.Rig, bucket, prefix string) map[string]bool {
	t.Helper()
	out, e := r.S3().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if e != nil {
		t.Fatal(e)
	}
	keys := map[string]bool{}
	for _, o := range out.Contents {
		keys[aws.ToString(o.Key)] = true
	}
	return keys
}
