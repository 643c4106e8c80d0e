package verify

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

func canary(t *testing.T, sc string) *Canary {
	t.Helper()
	id, err := NewRunID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCanary(id, "openshift-adp", sc, time.Now().Add(time.Hour), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNamesCannotClashAndFitLabels(t *testing.T) {
	a, b := canary(t, ""), canary(t, "")
	if a.Namespace == b.Namespace {
		t.Fatalf("two runs drew the same namespace %s", a.Namespace)
	}
	for _, n := range []string{a.Namespace, a.Restored, a.BackupName, a.RestoreName} {
		if !strings.HasPrefix(n, Prefix) || len(n) > 63 {
			t.Errorf("name %q: want the %s prefix and at most 63 characters (Velero puts names in labels)", n, Prefix)
		}
	}
	if bytes.Equal(a.Binary, b.Binary) || bytes.Equal(a.Secret, b.Secret) || bytes.Equal(a.Binary, a.Secret) {
		t.Error("the payloads are not independent random draws")
	}
	if _, err := NewRunID(bytes.NewReader(nil)); err == nil {
		t.Error("NewRunID without randomness: no error")
	}
}

func TestObjectsAreLabelledAsOurs(t *testing.T) {
	c := canary(t, "gp3-csi")
	objs := append(c.Objects(), c.BackupObject(BackupOptions{StorageLocation: "loc"}), c.RestoreObject(), c.DataProtectionTest("loc", "", time.Minute))
	kinds := []string{"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Pod", "Backup", "Restore", "DataProtectionTest"}
	if len(objs) != len(kinds) {
		t.Fatalf("%d objects, want %d", len(objs), len(kinds))
	}
	for i, o := range objs {
		if o.GetKind() != kinds[i] {
			t.Errorf("object %d is a %s, want %s (the namespace must come first)", i, o.GetKind(), kinds[i])
		}
		if o.GetLabels()[RunLabel] != c.ID || o.GetLabels()[manifests.ManagedByLabel] != manifests.ManagedByValue {
			t.Errorf("%s %s labels %v: want %s=%s and the managed-by label", o.GetKind(), o.GetName(), o.GetLabels(), RunLabel, c.ID)
		}
		if Leftover(o, time.Now()) {
			t.Errorf("%s %s is a leftover the moment it is made", o.GetKind(), o.GetName())
		}
	}
	b := objs[5].Object
	if got, _, _ := unstructured.NestedStringSlice(b, "spec", "includedNamespaces"); len(got) != 1 || got[0] != c.Namespace {
		t.Errorf("backup includes %v, want only %s", got, c.Namespace)
	}
	if got, _, _ := unstructured.NestedString(b, "spec", "storageLocation"); got != "loc" {
		t.Errorf("backup location %q", got)
	}
	if snap, _, _ := unstructured.NestedBool(b, "spec", "snapshotVolumes"); !snap {
		t.Error("with a volume and no file-system backup the backup must snapshot it")
	}
	fs := c.BackupObject(BackupOptions{FSBackup: true}).Object
	if v, _, _ := unstructured.NestedBool(fs, "spec", "defaultVolumesToFsBackup"); !v {
		t.Error("FSBackup does not set defaultVolumesToFsBackup")
	}
	m, _, _ := unstructured.NestedStringMap(objs[6].Object, "spec", "namespaceMapping")
	if m[c.Namespace] != c.Restored || len(m) != 1 {
		t.Errorf("restore mapping %v, want %s:%s", m, c.Namespace, c.Restored)
	}
	plain := canary(t, "")
	if n := len(plain.Objects()); n != 3 {
		t.Errorf("without a volume %d objects, want namespace, configmap, secret", n)
	}
	if snap, _, _ := unstructured.NestedBool(plain.BackupObject(BackupOptions{}).Object, "spec", "snapshotVolumes"); snap {
		t.Error("without a volume the backup snapshots volumes")
	}
}

func TestLeftover(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	obj := func(labels map[string]string, until string) metav1.Object {
		o := &metav1.ObjectMeta{Labels: labels}
		if until != "" {
			o.Annotations = map[string]string{UntilAnnotation: until}
		}
		return o
	}
	ours := map[string]string{RunLabel: "abcd1234"}
	for _, tc := range []struct {
		name string
		o    metav1.Object
		want bool
	}{
		{"running", obj(ours, now.Add(time.Minute).Format(time.RFC3339)), false},
		{"past its end", obj(ours, now.Add(-time.Second).Format(time.RFC3339)), true},
		{"abandoned at this second", obj(ours, now.Format(time.RFC3339)), true},
		{"no end: made by hand", obj(ours, ""), true},
		{"mangled end", obj(ours, "tomorrow"), true},
		{"not ours", obj(map[string]string{"app": "x"}, now.Add(-time.Hour).Format(time.RFC3339)), false},
	} {
		if got := Leftover(tc.o, now); got != tc.want {
			t.Errorf("%s: Leftover = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	c := canary(t, "")
	whole := func() (*corev1.ConfigMap, *corev1.Secret) {
		return &corev1.ConfigMap{Data: map[string]string{KeyText: c.ConfigMap[KeyText]}, BinaryData: map[string][]byte{KeyBinary: bytes.Clone(c.Binary)}},
			&corev1.Secret{Data: map[string][]byte{KeyBinary: bytes.Clone(c.Secret)}}
	}
	for _, tc := range []struct {
		name   string
		break_ func(*corev1.ConfigMap, *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret)
		want   string
	}{
		{"identical", func(cm *corev1.ConfigMap, s *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret) { return cm, s }, ""},
		{"one bit flipped in the secret", func(cm *corev1.ConfigMap, s *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret) {
			s.Data[KeyBinary][100] ^= 1
			return cm, s
		}, "secret oadp-sts-verify data.canary.bin differs from byte 100 on"},
		{"truncated binary", func(cm *corev1.ConfigMap, s *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret) {
			cm.BinaryData[KeyBinary] = cm.BinaryData[KeyBinary][:10]
			return cm, s
		}, "came back with 10 bytes, 4096 went in"},
		{"text changed", func(cm *corev1.ConfigMap, s *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret) {
			cm.Data[KeyText] = "x"
			return cm, s
		}, "data.canary.txt came back with 1 bytes"},
		{"secret not restored", func(cm *corev1.ConfigMap, _ *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret) { return cm, nil }, "secret oadp-sts-verify was not restored"},
		{"configmap not restored", func(_ *corev1.ConfigMap, s *corev1.Secret) (*corev1.ConfigMap, *corev1.Secret) { return nil, s }, "configmap oadp-sts-verify was not restored"},
	} {
		cm, s := tc.break_(whole())
		diffs := Compare(c, cm, s)
		switch {
		case tc.want == "" && len(diffs) > 0:
			t.Errorf("%s: differences %v, want none", tc.name, diffs)
		case tc.want != "" && (len(diffs) != 1 || !strings.Contains(diffs[0], tc.want)):
			t.Errorf("%s: differences %v, want one naming %q", tc.name, diffs, tc.want)
		}
	}
}

func TestParseChecksum(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for log, want := range map[string]string{
		"sha256 " + sum + "\n":               sum,
		"starting\n  sha256 " + sum + "  \n": sum,
		"sha256 " + sum[:10]:                 "",
		"sha256 " + strings.Repeat("zz", 32): "",
		"":                                   "",
	} {
		if got, _ := ParseChecksum(log); got != want {
			t.Errorf("ParseChecksum(%q) = %q, want %q", log, got, want)
		}
	}
}

func TestDecide(t *testing.T) {
	ok := func(name string) Step { return Step{Name: name, Result: OK} }
	trust := status.Check{Area: status.AreaIAM, Name: status.CheckTrustSubjects, Result: status.Failed,
		Cause: "the trust policy admits system:serviceaccount:other:sa", Fix: "run 'kubectl oadp-sts setup --yes' to put the trust policy back"}
	detached := status.Check{Area: status.AreaIAM, Name: status.CheckPolicyAttached, Result: status.Failed, Cause: "not attached", Fix: "attach it"}
	all := []Step{ok(StepLeftovers), ok(StepChain), ok(StepLocation), ok(StepCanary), ok(StepBackup), ok(StepBucket), ok(StepRestore), ok(StepCompare), {Name: StepDPT, Result: Skipped}}
	failedBackup := append(all[:4:4], Step{Name: StepBackup, Result: Failed, Message: "backup x Failed", Cause: "Velero: AccessDenied", Fix: "describe it"})
	for _, tc := range []struct {
		name     string
		steps    []Step
		broken   []status.Check
		code     int
		verified bool
		link     string
		line     string
	}{
		{"every step held", all, nil, exitcode.OK, true, "", "verified: the canary made the round trip through loc"},
		{"cleanup trouble does not undo the proof", append(all, Step{Name: StepCleanup, Result: Warning}), nil, exitcode.OK, true, "", "verified"},
		{"backup failed, status names the trust", failedBackup, []status.Check{trust, detached}, exitcode.Failed, false, status.CheckTrustSubjects, "broken link: trust subjects: the trust policy admits system:serviceaccount:other:sa; fix: run 'kubectl oadp-sts setup --yes'"},
		{"backup failed, status finds nothing: Velero's words", failedBackup, nil, exitcode.Failed, false, StepBackup, "broken link: backup: Velero: AccessDenied; fix: describe it"},
		{"round trip held on a broken chain", all, []status.Check{detached}, exitcode.Failed, false, status.CheckPolicyAttached, "the canary made the round trip, but policy attached is broken: not attached"},
		{"backup wait timed out", append(all[:4:4], Step{Name: StepBackup, Result: Timeout, Message: "timed out after 10m"}), nil, exitcode.Timeout, false, StepBackup, "the backup step timed out"},
		{"timed out on a broken chain names it", append(all[:4:4], Step{Name: StepBackup, Result: Timeout, Message: "timed out"}), []status.Check{trust}, exitcode.Timeout, false, status.CheckTrustSubjects, "status finds trust subjects broken"},
		{"Ctrl-C", append(all[:4:4], Step{Name: StepBackup, Result: Interrupted}), []status.Check{trust}, exitcode.Error, false, StepBackup, "interrupted during backup"},
		{"API error creating the canary", append(all[:3:3], Step{Name: StepCanary, Result: Error, Message: "forbidden"}), nil, exitcode.Error, false, StepCanary, "could not run the canary step: forbidden"},
		{"compare found a difference", append(all[:7:7], Step{Name: StepCompare, Result: Failed, Message: "what came back differs", Cause: "secret differs"}), nil, exitcode.Failed, false, StepCompare, "the compare step failed"},
	} {
		v := Decide(Evidence{Steps: tc.steps, Broken: tc.broken, Location: "loc", Seconds: 3})
		if v.Code != tc.code || v.Verified != tc.verified || v.Link != tc.link || !strings.Contains(v.Line, tc.line) {
			t.Errorf("%s: got code %d verified %v link %q line %q; want %d %v %q containing %q", tc.name, v.Code, v.Verified, v.Link, v.Line, tc.code, tc.verified, tc.link, tc.line)
		}
	}
}

func TestOverhead(t *testing.T) {
	if got := Overhead(10, &Operation{VeleroSeconds: 3}, nil, &Operation{VeleroSeconds: 2.5}); got != 4.5 {
		t.Errorf("Overhead = %v, want 4.5", got)
	}
	if got := Overhead(1, &Operation{VeleroSeconds: 3}); got != 0 {
		t.Errorf("Overhead with skewed clocks = %v, want 0", got)
	}
}

func TestDPTSummary(t *testing.T) {
	d := &DPTResult{UploadSuccess: true, UploadSpeedMbps: 42, UploadDuration: "2s", Encryption: "AES256", Versioning: "Enabled", S3Vendor: "AWS",
		Snapshots: []DPTSnapshot{{PVC: "ns/pvc", Status: "Ready", ReadyDuration: "5s"}}}
	want := "upload 42 Mbps (2s), encryption AES256, versioning Enabled, vendor AWS, snapshot of ns/pvc Ready in 5s"
	if got := d.Summary(); got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	failed := &DPTResult{UploadError: "AccessDenied"}
	if got := failed.Summary(); !strings.HasPrefix(got, "upload failed: AccessDenied, encryption none") {
		t.Errorf("failed Summary = %q", got)
	}
}
