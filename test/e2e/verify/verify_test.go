//go:build unix

// Package verify_test runs `kubectl oadp-sts verify` against the sandbox: a
// real kube-apiserver and kube-controller-manager, moto for IAM, STS and S3,
// the stand-in for the OADP operator (internal/sandbox; it turns the DPA into
// the storage location) and the real Velero server v1.18.3 with its AWS
// plugin, which reaches the bucket through AssumeRoleWithWebIdentity. Every
// assertion reads the API server and the bucket, not verify's own report.
//
// What moto does not do, and so what these tests do not prove: moto 5 answers
// AssumeRoleWithWebIdentity for any token whatever the role's trust policy
// says, and it enforces no IAM policy on the assumed role's S3 calls (IAM
// authorization is off unless the whole server runs with
// INITIAL_NO_AUTH_ACTION_COUNT, which would also refuse the rig's own
// unsigned set-up calls). A broken trust or a detached policy therefore does
// not make the real Velero fail here: the tests show that verify still fails
// (exit 4), names the link from status's checks, and cleans up; the failure
// driven by Velero's own status is shown with a lost bucket, which Velero
// does fail on.
package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/sandbox"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

const (
	ns      = sandbox.Namespace
	bucket  = rig.InfraName + "-oadp"
	bslName = rig.InfraName + "-dpa-1"
	role    = rig.InfraName + "-openshift-oadp-aws-cloud-credentials"
	prefix  = "velero"
)

var (
	once     sync.Once
	shared   *sandbox.Sandbox
	startErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

// get starts the package's sandbox and sets OADP up on first use.
func get(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		shared, startErr = sandbox.Start(ctx, sandbox.Options{Log: os.Stderr})
	})
	if startErr != nil {
		rig.SkipOrFail(t, startErr)
	}
	sb := shared
	sb.Rig.UseEnv(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{sb.StandInLog, sb.VeleroLog} {
				b, _ := os.ReadFile(f)
				if len(b) > 5000 {
					b = b[len(b)-5000:]
				}
				t.Logf("%s ends:\n%s", f, b)
			}
		}
	})
	// setup converges: the first test sets OADP up, later ones put back
	// whatever an earlier one broke.
	if res := clitest.Run(t, "setup", "--yes"); res.Code != 0 {
		t.Fatalf("setup: exit %d\n%s", res.Code, res.Stderr)
	}
	return sb
}

func report(t *testing.T, res clitest.Result) verify.Report {
	t.Helper()
	var rep verify.Report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("verify -o json printed no report (%v):\n%s\nstderr:\n%s", err, res.Stdout, res.Stderr)
	}
	return rep
}

// nothingLeft checks the API server and the bucket for anything of verify.
func nothingLeft(t *testing.T, r *rig.Rig, canaries ...string) {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: verify.AnySelector}
	nss, err := r.Kube.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nss.Items {
		t.Errorf("namespace %s of verify left (phase %s)", n.Name, n.Status.Phase)
	}
	for _, res := range []struct {
		name string
		sel  metav1.ListOptions
	}{{"backups", sel}, {"restores", sel}, {"deletebackuprequests", metav1.ListOptions{}}} {
		g := map[string]func() (*unstructured.UnstructuredList, error){
			"backups": func() (*unstructured.UnstructuredList, error) {
				return r.Dynamic.Resource(gvr.Backup).Namespace(ns).List(ctx, res.sel)
			},
			"restores": func() (*unstructured.UnstructuredList, error) {
				return r.Dynamic.Resource(gvr.Restore).Namespace(ns).List(ctx, res.sel)
			},
			"deletebackuprequests": func() (*unstructured.UnstructuredList, error) {
				return r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(ns).List(ctx, res.sel)
			},
		}[res.name]
		l, err := g()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Items {
			if strings.HasPrefix(o.GetName(), verify.Prefix) {
				t.Errorf("%s: %s of verify left", res.name, o.GetName())
			}
		}
	}
	out, err := r.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		if strings.Contains(aws.ToString(o.Key), verify.Prefix) {
			t.Errorf("bucket %s still holds %s", bucket, aws.ToString(o.Key))
		}
	}
	for _, c := range canaries {
		if c == "" {
			t.Error("a run reported no canary name")
		}
	}
}

func TestVerifyPassesAndLeavesNothing(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	ctx := context.Background()
	stopRec, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The witness of the round trip beside verify's own compare: when the
	// restore step ends, the test reads both canary namespaces itself.
	var witnessed []string
	res := clitest.RunReacting(ctx, t, func(line string) {
		if !strings.HasPrefix(line, verify.StepRestore+" ") || !strings.Contains(line, " ok ") {
			return
		}
		nss, err := r.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: verify.AnySelector})
		if err != nil {
			witnessed = append(witnessed, err.Error())
			return
		}
		for _, n := range nss.Items {
			if strings.HasSuffix(n.Name, verify.RestoredSuffix) {
				src := strings.TrimSuffix(n.Name, verify.RestoredSuffix)
				witnessed = append(witnessed, sameData(ctx, r, src, n.Name))
			}
		}
	}, "verify", "-o", "json")
	calls, err := stopRec()
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != exitcode.OK {
		t.Fatalf("verify: exit %d, want 0\n%s", res.Code, res.Stderr)
	}
	rep := report(t, res)
	if !rep.Verdict.Verified || !strings.HasPrefix(rep.Verdict.Line, "verified: ") {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	if len(witnessed) != 1 || witnessed[0] != "" {
		t.Errorf("the test's own read of the restored canary: %q, want one identical pair", witnessed)
	}
	for _, s := range []string{verify.StepLeftovers, verify.StepChain, verify.StepLocation, verify.StepCanary, verify.StepBackup, verify.StepBucket, verify.StepRestore, verify.StepCompare, verify.StepCleanup} {
		if st := rep.Step(s); st == nil || st.Result != verify.OK {
			t.Errorf("step %s: %+v, want ok", s, st)
		}
	}
	// The sandbox runs OADP 1.4: no DataProtectionTest API, so verify says so and goes on.
	if d := rep.Step(verify.StepDPT); d == nil || d.Result != verify.Skipped || !strings.Contains(d.Message, "not served") {
		t.Errorf("dpt step %+v, want skipped as not served", d)
	}
	if rep.Backup == nil || rep.Backup.Phase != "Completed" || rep.Restore == nil || rep.Restore.Phase != "Completed" {
		t.Errorf("backup %+v restore %+v, want both Completed", rep.Backup, rep.Restore)
	}
	if rep.Bucket == nil || rep.Bucket.Objects == 0 || rep.Bucket.Bytes == 0 || rep.Bucket.AfterCleanup != 0 {
		t.Errorf("bucket usage %+v: want objects and bytes under the backup's prefix, none after cleanup", rep.Bucket)
	}
	if rep.Location != bslName {
		t.Errorf("location %q, want the DPA's %s", rep.Location, bslName)
	}
	if !hasAction(calls, "AssumeRoleWithWebIdentity") {
		t.Errorf("nobody called AssumeRoleWithWebIdentity during verify: the chain was not exercised")
	}
	if rep.OverheadSeconds <= 0 || rep.OverheadSeconds > rep.Seconds {
		t.Errorf("overhead %.2fs of %.2fs wall: want a positive share", rep.OverheadSeconds, rep.Seconds)
	}
	nothingLeft(t, r, rep.Canary)
}

// sameData is "" when the restored namespace's ConfigMap and Secret equal
// the source's, else how they differ.
func sameData(ctx context.Context, r *rig.Rig, src, dst string) string {
	a, err1 := r.Kube.CoreV1().ConfigMaps(src).Get(ctx, verify.ConfigMapName(), metav1.GetOptions{})
	b, err2 := r.Kube.CoreV1().ConfigMaps(dst).Get(ctx, verify.ConfigMapName(), metav1.GetOptions{})
	s1, err3 := r.Kube.CoreV1().Secrets(src).Get(ctx, verify.SecretName(), metav1.GetOptions{})
	s2, err4 := r.Kube.CoreV1().Secrets(dst).Get(ctx, verify.SecretName(), metav1.GetOptions{})
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return err.Error()
		}
	}
	switch {
	case string(a.BinaryData[verify.KeyBinary]) != string(b.BinaryData[verify.KeyBinary]) || len(a.BinaryData[verify.KeyBinary]) != verify.ContentSize:
		return "configmap binaryData differs"
	case a.Data[verify.KeyText] != b.Data[verify.KeyText] || a.Data[verify.KeyText] == "":
		return "configmap data differs"
	case string(s1.Data[verify.KeyBinary]) != string(s2.Data[verify.KeyBinary]) || len(s1.Data[verify.KeyBinary]) != verify.ContentSize:
		return "secret differs"
	}
	return ""
}

func hasAction(calls []rig.AWSRequest, action string) bool {
	for _, c := range calls {
		if c.Action == action {
			return true
		}
	}
	return false
}

// brokenLink runs verify on a chain broken by breakIt and checks the exit
// code, the link named, and that cleanup still ran.
func brokenLink(t *testing.T, breakIt func(context.Context, *rig.Rig), wantLink, wantCause string) verify.Report {
	t.Helper()
	sb := get(t)
	r := sb.Rig
	breakIt(context.Background(), r)
	res := clitest.Run(t, "verify", "-o", "json")
	if res.Code != exitcode.Failed {
		t.Fatalf("verify on a broken chain: exit %d, want %d\n%s", res.Code, exitcode.Failed, res.Stderr)
	}
	rep := report(t, res)
	if rep.Verdict.Verified || rep.Verdict.Link != wantLink || !strings.Contains(rep.Verdict.Cause, wantCause) {
		t.Errorf("verdict %+v: want link %q with a cause naming %q", rep.Verdict, wantLink, wantCause)
	}
	if !strings.Contains(res.Stderr, rep.Verdict.Line) || !strings.Contains(rep.Verdict.Line, wantLink) {
		t.Errorf("the verdict line %q is not printed, or does not name %s:\n%s", rep.Verdict.Line, wantLink, res.Stderr)
	}
	// The same cause and fix as status gives.
	st := clitest.Run(t, "status", "-o", "json")
	var srep status.Report
	if err := json.Unmarshal([]byte(st.Stdout), &srep); err != nil {
		t.Fatal(err)
	}
	if f := srep.Failed(); len(f) == 0 || f[0].Name != wantLink || f[0].Cause != rep.Verdict.Cause || !strings.HasPrefix(rep.Verdict.Fix, f[0].Fix) {
		t.Errorf("status's first failed check %+v differs from verify's verdict %+v", f, rep.Verdict)
	}
	if c := rep.Step(verify.StepCleanup); c == nil || c.Result != verify.OK {
		t.Errorf("cleanup step %+v, want ok", c)
	}
	nothingLeft(t, r, rep.Canary)
	return rep
}

func TestVerifyTrustForAnotherServiceAccount(t *testing.T) {
	rep := brokenLink(t, func(ctx context.Context, r *rig.Rig) {
		out, err := r.IAM().GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
		if err != nil {
			t.Fatal(err)
		}
		other := strings.NewReplacer(
			"system:serviceaccount:"+ns+":openshift-adp-controller-manager", "system:serviceaccount:other:intruder",
			"system:serviceaccount:"+ns+":velero", "system:serviceaccount:other:intruder",
		).Replace(doc)
		if other == doc {
			t.Fatalf("the trust policy names no OADP service account:\n%s", doc)
		}
		if _, err := r.IAM().UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(other)}); err != nil {
			t.Fatal(err)
		}
	}, status.CheckTrustSubjects, "system:serviceaccount:other:intruder")
	// moto let Velero assume the role anyway (see the package comment): the
	// round trip itself held, and the verdict comes from the chain's checks.
	if rep.Backup == nil || rep.Backup.Phase != "Completed" {
		t.Logf("moto refused the mismatched trust after all: backup %+v", rep.Backup)
	}
}

func TestVerifyPolicyDetached(t *testing.T) {
	brokenLink(t, func(ctx context.Context, r *rig.Rig) {
		out, err := r.IAM().ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
		if err != nil || len(out.AttachedPolicies) == 0 {
			t.Fatalf("attached policies: %v, %v", out, err)
		}
		for _, p := range out.AttachedPolicies {
			if _, err := r.IAM().DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(role), PolicyArn: p.PolicyArn}); err != nil {
				t.Fatal(err)
			}
		}
	}, status.CheckPolicyAttached, "")
}

// A failure the real Velero produces: the location's bucket is gone while
// the location still shows Available (Velero validates it only every
// validationFrequency). Velero fails the backup; verify exits 4 and names the
// bucket with status's cause, read beside Velero's own failure.
func TestVerifyLostBucket(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	ctx := context.Background()
	bsls := r.Dynamic.Resource(gvr.BSL).Namespace(ns)
	patch := func(p string) {
		t.Helper()
		if _, err := bsls.Patch(ctx, bslName, types.MergePatchType, []byte(p), metav1.PatchOptions{FieldManager: "e2e"}); err != nil {
			t.Fatal(err)
		}
	}
	patch(`{"spec":{"validationFrequency":"1h","objectStorage":{"bucket":"` + bucket + `-lost"}}}`)
	t.Cleanup(func() {
		patch(`{"spec":{"validationFrequency":null,"objectStorage":{"bucket":"` + bucket + `"}}}`)
		if _, err := wait.For(ctx, bsls, bslName, func(o *unstructured.Unstructured) (bool, error) {
			p, _, _ := unstructured.NestedString(o.Object, "status", "phase")
			return p == "Available", nil
		}, wait.Options{What: "BSL", Timeout: 2 * time.Minute}); err != nil {
			t.Error(err)
		}
	})
	res := clitest.Run(t, "verify", "-o", "json")
	if res.Code != exitcode.Failed {
		t.Fatalf("verify to a lost bucket: exit %d, want %d\n%s", res.Code, exitcode.Failed, res.Stderr)
	}
	rep := report(t, res)
	// Velero revalidates a location whose bucket changed at once, so which
	// of its verdicts verify meets is a race: the location already marked
	// Unavailable with S3's NoSuchBucket (verify then refuses at its location
	// step and creates nothing), or the backup taken and failed (Failed) or
	// refused (FailedValidation). Each is Velero's own word.
	if b := rep.Step(verify.StepBackup); b != nil {
		if b.Result != verify.Failed || rep.Backup == nil || (rep.Backup.Phase != "Failed" && rep.Backup.Phase != "FailedValidation") {
			t.Fatalf("backup step %+v, backup %+v: want Velero's Failed or FailedValidation", b, rep.Backup)
		}
		if !strings.Contains(b.Cause, "NoSuchBucket") && !strings.Contains(b.Cause, "Unavailable") {
			t.Errorf("the backup step's cause %q does not carry Velero's own error", b.Cause)
		}
	} else {
		l := rep.Step(verify.StepLocation)
		if l == nil || l.Result != verify.Failed || !strings.Contains(l.Cause, "NoSuchBucket") {
			t.Fatalf("no backup step, and the location step %+v does not carry Velero's NoSuchBucket", l)
		}
	}
	if !strings.HasPrefix(rep.Verdict.Link, status.CheckBucket) || !strings.Contains(rep.Verdict.Cause, bucket+"-lost") {
		t.Errorf("verdict %+v: want the bucket check naming %s-lost", rep.Verdict, bucket)
	}
	// The Backup object Velero failed is removed; its data never reached a bucket.
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Get(ctx, rep.Canary, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the failed backup %s after cleanup: %v, want gone", rep.Canary, err)
	}
	if _, err := r.Kube.CoreV1().Namespaces().Get(ctx, rep.Canary, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the canary namespace after cleanup: %v, want gone", err)
	}
}

// SIGINT to the built binary while it waits for the backup; a second run
// then succeeds and nothing of either run is left.
func TestVerifyInterruptedThenRerun(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	bin := clitest.Binary(t)
	var cmd *exec.Cmd
	interrupted := false
	p := clitest.RunProcess(t, bin, func(line string) bool {
		if !interrupted && strings.HasPrefix(line, "Waiting for backup ") {
			interrupted = true
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Error(err)
			}
		}
		return false
	}, func(c *exec.Cmd) { cmd = c }, "verify", "-o", "json")
	t.Logf("interrupted run:\n%s", strings.Join(p.Lines, "\n"))
	if !interrupted {
		t.Fatal("verify never waited for its backup")
	}
	if p.Code != exitcode.Error || !strings.Contains(strings.Join(p.Lines, "\n"), "interrupted") {
		t.Errorf("interrupted run: exit %d, want 1 saying it was interrupted", p.Code)
	}
	res := clitest.Run(t, "verify", "-o", "json")
	if res.Code != exitcode.OK {
		t.Fatalf("second run: exit %d\n%s", res.Code, res.Stderr)
	}
	rep := report(t, res)
	nothingLeft(t, r, rep.Canary)
}

// SIGKILL leaves everything; the next run finds it a leftover only once it
// is past its run's end, so the test moves that end back as time would, and
// the next run removes it.
func TestVerifyKilledLeftoversRemovedByNextRun(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	ctx := context.Background()
	bin := clitest.Binary(t)
	p := clitest.RunProcess(t, bin, func(line string) bool { return strings.HasPrefix(line, "Waiting for backup ") }, nil, "verify", "-o", "json")
	if !p.Killed {
		t.Fatalf("verify was not killed at its backup wait:\n%s", strings.Join(p.Lines, "\n"))
	}
	nss, err := r.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: verify.AnySelector})
	if err != nil || len(nss.Items) != 1 {
		t.Fatalf("after SIGKILL: %d canary namespaces (%v), want the killed run's", len(nss.Items), err)
	}
	killed := nss.Items[0].Name
	past := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, verify.UntilAnnotation, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	if _, err := r.Kube.CoreV1().Namespaces().Patch(ctx, killed, types.MergePatchType, []byte(past), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Patch(ctx, killed, types.MergePatchType, []byte(past), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "verify", "-o", "json")
	if res.Code != exitcode.OK {
		t.Fatalf("next run: exit %d\n%s", res.Code, res.Stderr)
	}
	rep := report(t, res)
	l := rep.Step(verify.StepLeftovers)
	if l == nil || !strings.Contains(l.Message, "namespace "+killed) || !strings.Contains(l.Message, "backup "+killed+" with its data") {
		t.Errorf("leftovers step %+v: want the killed run's namespace and backup removed", l)
	}
	nothingLeft(t, r, rep.Canary)
}
