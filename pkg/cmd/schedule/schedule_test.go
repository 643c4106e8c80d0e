package schedule_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// These run against the rig's real kube-apiserver with Velero's real CRDs,
// so every Schedule the plugin writes passes the CRD's schema; no Velero
// server runs here. What Velero does with a schedule (validating it, making
// backups, pausing) is tested on the real Velero server in test/e2e.

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

const (
	oadpNS  = "openshift-adp"
	bslName = rig.InfraName + "-dpa-1"
)

func setup(t *testing.T) *rig.Rig {
	t.Helper()
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	for _, ns := range []string{oadpNS, "hello-world"} {
		_, err := r.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	clear := func() {
		for _, res := range []schema.GroupVersionResource{gvr.Schedule, gvr.Backup, gvr.DeleteBackupRequest, gvr.BSL} {
			if err := r.Dynamic.Resource(res).Namespace(oadpNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Fatalf("clear %s: %v", res.Resource, err)
			}
		}
	}
	clear()
	t.Cleanup(clear)
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": bslName, "namespace": oadpNS},
		"spec": map[string]any{"provider": "aws", "default": true,
			"objectStorage": map[string]any{"bucket": "rig-bucket", "prefix": "velero"}, "config": map[string]any{"region": rig.Region}},
	}}
	if err := r.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	patch(t, r, gvr.BSL, bslName, map[string]any{"status": map[string]any{"phase": "Available"}})
	return r
}

func patch(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, name string, body map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	if _, err := r.Dynamic.Resource(res).Namespace(oadpNS).Patch(context.Background(), name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := r.Dynamic.Resource(res).Namespace(oadpNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustRun(t *testing.T, code int, args ...string) clitest.Result {
	t.Helper()
	res := clitest.Run(t, args...)
	if res.Code != code {
		t.Fatalf("%v: exit %d, want %d\n%s", args, res.Code, code, res.Stderr)
	}
	return res
}

// `schedule create` writes the Schedule the flags describe, which the real
// CRD accepts, and says when the first backup is due.
func TestCreate(t *testing.T) {
	r := setup(t)
	res := mustRun(t, 0, "schedule", "create", "hello-nightly", "--schedule", "@every 1h", "--include-namespaces", "hello-world",
		"--ttl", "168h", "--snapshot-move-data", "--use-owner-references-in-backup", "-l", "app=web")
	s := get(t, r, gvr.Schedule, "hello-nightly")
	want := map[string]any{
		"schedule": "@every 1h", "useOwnerReferencesInBackup": true,
		"template": map[string]any{"includedNamespaces": []any{"hello-world"}, "ttl": "168h0m0s", "snapshotMoveData": true,
			"labelSelector": map[string]any{"matchLabels": map[string]any{"app": "web"}}},
	}
	if !reflect.DeepEqual(s.Object["spec"], want) {
		t.Errorf("spec =\n%v\nwant\n%v", s.Object["spec"], want)
	}
	next := s.GetCreationTimestamp().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, w := range []string{"schedule.velero.io/hello-nightly created", "location " + bslName, "First backup due at " + next} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	// The same name again: refused, the first one untouched.
	res = mustRun(t, exitcode.Error, "schedule", "create", "hello-nightly", "--schedule", "@daily", "--include-namespaces", "hello-world")
	if !strings.Contains(res.Stderr, "exists already") {
		t.Errorf("stderr %q", res.Stderr)
	}
	if got := get(t, r, gvr.Schedule, "hello-nightly"); got.Object["spec"].(map[string]any)["schedule"] != "@every 1h" {
		t.Error("the existing schedule was changed")
	}
}

// Bad input is refused before anything is created.
func TestCreateBadInput(t *testing.T) {
	r := setup(t)
	cases := map[string][]string{
		"above maximum (59)":                     {"--schedule", "61 * * * *", "--include-namespaces", "hello-world"},
		"expected exactly 5 fields":              {"--schedule", "0 0 1 * * *", "--include-namespaces", "hello-world"},
		"--schedule is required":                 {"--include-namespaces", "hello-world"},
		"--include-namespaces is required":       {"--schedule", "@daily"},
		"--ttl must be positive":                 {"--schedule", "@daily", "--include-namespaces", "hello-world", "--ttl", "0s"},
		`no backup storage location "elsewhere"`: {"--schedule", "@daily", "--include-namespaces", "hello-world", "--storage-location", "elsewhere"},
	}
	for want, args := range cases {
		res := clitest.Run(t, append([]string{"schedule", "create", "s1"}, args...)...)
		if res.Code != exitcode.Error || !strings.Contains(res.Stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", args, res.Code, res.Stderr, want)
		}
	}
	l, err := r.Dynamic.Resource(gvr.Schedule).Namespace(oadpNS).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(l.Items) != 0 {
		t.Errorf("schedules after bad input: %d (%v), want none", len(l.Items), err)
	}
}

// pause and unpause flip spec.paused, which is what Velero's controller reads.
func TestPauseUnpause(t *testing.T) {
	r := setup(t)
	mustRun(t, 0, "schedule", "create", "s1", "--schedule", "@every 1m", "--include-namespaces", "hello-world")
	paused := func() bool {
		p, _, _ := unstructured.NestedBool(get(t, r, gvr.Schedule, "s1").Object, "spec", "paused")
		return p
	}
	mustRun(t, 0, "schedule", "pause", "s1")
	if !paused() {
		t.Error("not paused after pause")
	}
	if res := mustRun(t, 0, "sched", "pause", "s1"); !strings.Contains(res.Stdout, "already paused") {
		t.Errorf("stdout %q", res.Stdout)
	}
	mustRun(t, 0, "schedule", "unpause", "s1")
	if paused() {
		t.Error("paused after unpause")
	}
	res := mustRun(t, exitcode.Error, "schedule", "pause", "nope")
	if !strings.Contains(res.Stderr, `schedules.velero.io "nope" not found: list them with 'kubectl oadp-sts get schedules'`) {
		t.Errorf("stderr %q", res.Stderr)
	}
}

// get schedules shows each schedule's newest backup and its phase, found by
// Velero's label; describe lists the backups; the nouns have kubectl's aliases.
func TestGetAndDescribe(t *testing.T) {
	r := setup(t)
	mustRun(t, 0, "schedule", "create", "s1", "--schedule", "@every 1h", "--include-namespaces", "hello-world")
	mustRun(t, 0, "schedule", "create", "s2", "--schedule", "0 1 * * *", "--include-namespaces", "hello-world", "--paused")
	ctx := context.Background()
	for i, name := range []string{"s1-20261201100000", "s1-20261201110000"} {
		b := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "velero.io/v1", "kind": "Backup",
			"metadata": map[string]any{"name": name, "namespace": oadpNS, "labels": map[string]any{"velero.io/schedule-name": "s1"}},
			"spec":     map[string]any{"includedNamespaces": []any{"hello-world"}},
			"status":   map[string]any{"phase": []string{"Completed", "PartiallyFailed"}[i]},
		}}
		if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // creation timestamps have second resolution
	}
	res := mustRun(t, 0, "get", "schedules")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("table:\n%s", res.Stdout)
	}
	for _, w := range []string{"s1", "@every 1h", "s1-20261201110000", "PartiallyFailed", "in 59m"} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("row %q lacks %q", lines[1], w)
		}
	}
	for _, w := range []string{"s2", "Paused", "paused", "<none>"} {
		if !strings.Contains(lines[2], w) {
			t.Errorf("row %q lacks %q", lines[2], w)
		}
	}
	res = mustRun(t, 0, "get", "sched", "s1", "-o", "json")
	var obj map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &obj); err != nil || obj["kind"] != "Schedule" {
		t.Errorf("-o json: %v %v", err, obj["kind"])
	}
	res = mustRun(t, 0, "describe", "schedule", "s1")
	for _, w := range []string{"Schedule:", "@every 1h", "Backups:", "s1-20261201100000", "Completed", "s1-20261201110000"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("describe lacks %q:\n%s", w, res.Stdout)
		}
	}
	res = mustRun(t, 0, "get", "backups", "--schedule", "s1", "-o", "name")
	if got := strings.Fields(res.Stdout); len(got) != 2 {
		t.Errorf("get backups --schedule s1: %v, want its 2 backups", got)
	}
	res = mustRun(t, exitcode.Error, "get", "backups", "--schedule", "nope")
	if !strings.Contains(res.Stderr, `schedules.velero.io "nope" not found`) {
		t.Errorf("stderr %q", res.Stderr)
	}
}

// delete schedule keeps the backups unless --delete-backups; without a
// terminal it needs --yes. (Deleting the backups through Velero is tested
// on the real server in test/e2e.)
func TestDeleteKeepsBackups(t *testing.T) {
	r := setup(t)
	mustRun(t, 0, "schedule", "create", "s1", "--schedule", "@every 1h", "--include-namespaces", "hello-world")
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": "s1-20261201100000", "namespace": oadpNS, "labels": map[string]any{"velero.io/schedule-name": "s1"}},
		"spec":     map[string]any{},
	}}
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Create(context.Background(), b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, exitcode.Error, "delete", "schedule", "s1")
	if !strings.Contains(res.Stderr, "pass --yes") {
		t.Errorf("stderr %q", res.Stderr)
	}
	get(t, r, gvr.Schedule, "s1")
	res = mustRun(t, 0, "delete", "schedule", "s1", "--yes")
	if !strings.Contains(res.Stdout, "Backups it made, kept: 1") {
		t.Errorf("stdout %q", res.Stdout)
	}
	if _, err := r.Dynamic.Resource(gvr.Schedule).Namespace(oadpNS).Get(context.Background(), "s1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("schedule after delete: %v", err)
	}
	get(t, r, gvr.Backup, "s1-20261201100000")
	if n, _ := r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(oadpNS).List(context.Background(), metav1.ListOptions{}); len(n.Items) != 0 {
		t.Errorf("%d DeleteBackupRequests without --delete-backups", len(n.Items))
	}
}

// --dry-run on schedule create and delete schedule: client and server store
// and delete nothing (read back from the API server), server sends every
// write with dryRun=All (the audit log), and -o prints the Schedule.
func TestScheduleDryRun(t *testing.T) {
	r := setup(t)
	reqs := r.RecordKube("kubectl-oadp_sts/")
	res := mustRun(t, 0, "schedule", "create", "s1", "--schedule", "@every 1h", "--include-namespaces", "hello-world", "--dry-run=client", "-o", "yaml")
	if !strings.Contains(res.Stdout, "kind: Schedule") || !strings.Contains(res.Stdout, "schedule: '@every 1h'") {
		t.Errorf("--dry-run=client -o yaml: %q", res.Stdout)
	}
	res = mustRun(t, 0, "schedule", "create", "s1", "--schedule", "@every 1h", "--include-namespaces", "hello-world", "--dry-run=server")
	if !strings.Contains(res.Stdout, "schedule.velero.io/s1 created (server dry run)") {
		t.Errorf("--dry-run=server: %q", res.Stdout)
	}
	if _, err := r.Dynamic.Resource(gvr.Schedule).Namespace(oadpNS).Get(context.Background(), "s1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a dry run stored the schedule: %v", err)
	}
	mustRun(t, 0, "schedule", "create", "s1", "--schedule", "@every 1h", "--include-namespaces", "hello-world")
	for _, mode := range []string{"--dry-run", "--dry-run=server"} {
		res = mustRun(t, 0, "delete", "schedule", "s1", "--delete-backups", mode)
		if !strings.Contains(res.Stdout, "schedule.velero.io/s1 deleted (") {
			t.Errorf("delete schedule %s: %q", mode, res.Stdout)
		}
		get(t, r, gvr.Schedule, "s1")
	}
	got, err := reqs()
	if err != nil {
		t.Fatal(err)
	}
	var dry, real int
	for _, q := range got {
		switch {
		case q.Resource != "schedules" || !q.Mutating():
		case q.DryRun():
			dry++
		default:
			real++
		}
	}
	if dry != 2 || real != 1 {
		t.Errorf("%d dry-run and %d real writes to schedules; want the server dry runs' create and delete, and the one real create", dry, real)
	}
}

// Schedule names complete wherever a command takes one, with Velero's phase.
func TestCompletion(t *testing.T) {
	r := setup(t)
	mustRun(t, 0, "schedule", "create", "nightly", "--schedule", "@daily", "--include-namespaces", "hello-world")
	mustRun(t, 0, "schedule", "create", "hourly", "--schedule", "@hourly", "--include-namespaces", "hello-world")
	patch(t, r, gvr.Schedule, "nightly", map[string]any{"status": map[string]any{"phase": "Enabled"}})
	for _, args := range [][]string{
		{"__complete", "schedule", "pause", "n"},
		{"__complete", "describe", "sched", "n"},
		{"__complete", "delete", "schedule", "n"},
		{"__complete", "backup", "--from-schedule", "n"},
		{"__complete", "get", "backups", "--schedule", "n"},
	} {
		res := mustRun(t, 0, args...)
		if got := strings.Split(strings.TrimSpace(res.Stdout), "\n"); len(got) != 2 || got[0] != "nightly\tEnabled" {
			t.Errorf("%v: %q, want nightly with its phase, then the directive", args, got)
		}
	}
}
