package velero

import (
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// What Velero v1.18.3's schedule controller accepts, this accepts: the same
// parser. The rejections name the expression and what is wrong with it.
func TestParseCron(t *testing.T) {
	for _, ok := range []string{"@every 1h", "@every 1m", "0 1 * * *", "*/15 * * * 1-5", "@daily", "CRON_TZ=Europe/Paris 0 1 * * *"} {
		if _, err := ParseCron(ok); err != nil {
			t.Errorf("ParseCron(%q) = %v, want accepted", ok, err)
		}
	}
	for expr, why := range map[string]string{
		"61 * * * *":   "above maximum (59)",
		"* * *":        "expected exactly 5 fields, found 3",
		"0 0 1 * * *":  "expected exactly 5 fields, found 6", // seconds: Velero's parser has none
		"@every 0s":    "at least 1s",
		"@fortnightly": "unrecognized descriptor",
	} {
		_, err := ParseCron(expr)
		if err == nil {
			t.Errorf("ParseCron(%q) accepted, want refused", expr)
			continue
		}
		for _, s := range []string{`--schedule "` + expr + `"`, why, "@every 1h"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("ParseCron(%q) = %q, want it to contain %q", expr, err, s)
			}
		}
	}
	if _, err := ParseCron("  "); err == nil || !strings.Contains(err.Error(), "--schedule is empty") {
		t.Errorf("ParseCron(blank) = %v", err)
	}
}

func TestNewSchedule(t *testing.T) {
	no := false
	s, err := NewSchedule(ScheduleOptions{Name: "nightly", Namespace: "openshift-adp", Cron: "0 1 * * *", Paused: true, UseOwnerReferences: &no,
		Template: BackupOptions{IncludedNamespaces: []string{"hello-world"}, TTL: 168 * time.Hour, StorageLocation: "dpa-1", SnapshotMoveData: &no}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schedule": "0 1 * * *", "paused": true, "useOwnerReferencesInBackup": false,
		"template": map[string]any{"includedNamespaces": []any{"hello-world"}, "storageLocation": "dpa-1", "ttl": "168h0m0s", "snapshotMoveData": false},
	}
	if got := s.Object["spec"]; !reflect.DeepEqual(got, want) {
		t.Errorf("spec =\n%v\nwant\n%v", got, want)
	}
	if _, err := NewSchedule(ScheduleOptions{Name: "x", Cron: "bogus"}); err == nil {
		t.Error("a malformed cron was accepted")
	}
}

func schedule(spec, status map[string]any, created time.Time) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion, "kind": "Schedule",
		"metadata": map[string]any{"name": "nightly", "namespace": "openshift-adp"},
		"spec":     spec, "status": status,
	}}
	u.SetCreationTimestamp(metav1.NewTime(created))
	return u
}

// The next run as Velero's getNextRunTime works it out.
func TestReadScheduleNextRun(t *testing.T) {
	created := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	cases := []struct {
		name   string
		spec   map[string]any
		status map[string]any
		want   time.Time
	}{
		{"first run one period after creation", map[string]any{"schedule": "@every 1m"}, nil, created.Add(time.Minute)},
		{"after the last backup", map[string]any{"schedule": "0 1 * * *"}, map[string]any{"lastBackup": "2026-12-05T01:00:02Z"}, time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)},
		{"after a later skipped run", map[string]any{"schedule": "@every 1h"}, map[string]any{"lastBackup": "2026-12-01T11:00:00Z", "lastSkipped": "2026-12-01T11:30:00Z"}, time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC)},
		{"paused: none", map[string]any{"schedule": "@every 1m", "paused": true}, nil, time.Time{}},
		{"malformed: none", map[string]any{"schedule": "61 * * * *"}, map[string]any{"phase": "FailedValidation"}, time.Time{}},
	}
	for _, tc := range cases {
		st := ReadSchedule(schedule(tc.spec, tc.status, created))
		if !st.NextRun.Equal(tc.want) {
			t.Errorf("%s: next run %v, want %v", tc.name, st.NextRun, tc.want)
		}
	}
	if st := ReadSchedule(schedule(map[string]any{"schedule": "@daily"}, nil, created)); st.Phase != PhaseNew {
		t.Errorf("phase %q before Velero saw it, want New", st.Phase)
	}
}

// The backup Velero's builder makes from a schedule: the template's spec,
// the template's labels over the schedule's, the schedule-name label, and an
// owner reference only when asked for.
func TestBackupFromSchedule(t *testing.T) {
	tmpl := map[string]any{"includedNamespaces": []any{"hello-world"}, "ttl": "168h0m0s"}
	s := schedule(map[string]any{"schedule": "@daily", "template": tmpl}, nil, time.Now())
	s.SetLabels(map[string]string{"team": "a"})
	s.SetUID(types.UID("uid-1"))
	b := BackupFromSchedule(s, "nightly-20261201010000")
	if got := b.Object["spec"]; !reflect.DeepEqual(got, tmpl) {
		t.Errorf("spec = %v, want the template %v", got, tmpl)
	}
	if want := map[string]string{"team": "a", LabelScheduleName: "nightly"}; !reflect.DeepEqual(b.GetLabels(), want) {
		t.Errorf("labels = %v, want %v", b.GetLabels(), want)
	}
	if len(b.GetOwnerReferences()) != 0 {
		t.Errorf("owner references without useOwnerReferencesInBackup: %v", b.GetOwnerReferences())
	}
	if s.GetLabels()[LabelScheduleName] != "" {
		t.Error("the schedule's own labels were changed")
	}

	tmpl2 := map[string]any{"includedNamespaces": []any{"a"}, "metadata": map[string]any{"labels": map[string]any{"tier": "gold"}}}
	s2 := schedule(map[string]any{"schedule": "@daily", "template": tmpl2, "useOwnerReferencesInBackup": true}, nil, time.Now())
	s2.SetLabels(map[string]string{"team": "a"})
	s2.SetUID(types.UID("uid-2"))
	b2 := BackupFromSchedule(s2, "n")
	if want := map[string]string{"tier": "gold", LabelScheduleName: "nightly"}; !reflect.DeepEqual(b2.GetLabels(), want) {
		t.Errorf("labels = %v, want the template's %v", b2.GetLabels(), want)
	}
	if _, has := b2.Object["spec"].(map[string]any)["metadata"]; has {
		t.Error("the template's metadata leaked into the backup's spec")
	}
	refs := b2.GetOwnerReferences()
	if len(refs) != 1 || refs[0].Kind != "Schedule" || refs[0].UID != "uid-2" || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("owner references = %v, want the schedule as controller", refs)
	}
	if got := TimestampedName("nightly", time.Date(2026, 12, 1, 1, 2, 3, 0, time.UTC)); got != "nightly-20261201010203" {
		t.Errorf("TimestampedName = %q", got)
	}
}
