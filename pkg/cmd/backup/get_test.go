package backup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

func TestGetAndDescribe(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("PartiallyFailed", map[string]any{"errors": int64(2), "warnings": int64(1)}))
	putBackup(t, r, "broken", map[string]any{"phase": "FailedValidation", "validationErrors": []any{"invalid included namespace"}})
	rs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Restore",
		"metadata": map[string]any{"name": "hello-world", "namespace": oadpNS},
		"spec":     map[string]any{"backupName": "hello-world", "namespaceMapping": map[string]any{"hello-world": "copy"}},
		"status":   ended("Completed", nil),
	}}
	if _, err := r.Dynamic.Resource(gvr.Restore).Namespace(oadpNS).Create(context.Background(), rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	res := clitest.Run(t, "get", "backups")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.Code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, %d lines; want a header and 2 rows", res.Code, len(lines))
	}
	for _, h := range []string{"NAME", "PHASE", "ITEMS", "ERRORS", "WARNINGS", "STARTED", "DURATION", "EXPIRES", "STORAGE LOCATION"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header lacks %s: %q", h, lines[0])
		}
	}
	row := strings.Fields(lines[2])
	if lines[2] == "" || row[0] != "hello-world" || row[1] != "PartiallyFailed" || row[2] != "10/10" || row[3] != "2" || row[4] != "1" || row[len(row)-1] != bslName || !strings.Contains(lines[2], "65s") {
		t.Errorf("row = %q", lines[2])
	}

	if res := clitest.Run(t, "get", "backup", "hello-world", "-o", "name"); strings.TrimSpace(res.Stdout) != "backup.velero.io/hello-world" {
		t.Errorf("-o name = %q", res.Stdout)
	}
	if res := clitest.Run(t, "get", "backups", "-o", "json"); !strings.Contains(res.Stdout, `"kind": "List"`) && !strings.Contains(res.Stdout, `"kind": "BackupList"`) {
		t.Errorf("-o json should print a list: %.200s", res.Stdout)
	}
	if res := clitest.Run(t, "get", "restores"); !strings.Contains(res.Stdout, "BACKUP") || !strings.Contains(res.Stdout, "Completed") {
		t.Errorf("get restores:\n%s", res.Stdout)
	}
	if res := clitest.Run(t, "get", "backups", "nope"); res.Code != exitcode.Error || !strings.Contains(res.Stderr, "not found") {
		t.Errorf("unknown backup: exit %d", res.Code)
	}

	res = clitest.Run(t, "describe", "backup", "broken")
	for _, s := range []string{"Phase:", "FailedValidation", "invalid included namespace", "Included namespaces:", "hello-world", "Storage location:", bslName, "rig-bucket/velero", "Region:"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("describe backup lacks %q", s)
		}
	}
	res = clitest.Run(t, "describe", "restore", "hello-world")
	for _, s := range []string{"Backup:", "Namespace mappings:", "hello-world:copy", "Items restored:", "10 of 10", "Backup storage location:"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("describe restore lacks %q", s)
		}
	}
}

// Ctrl-C stops the waiting, says so, and leaves the backup to Velero.
func TestBackupInterrupted(t *testing.T) {
	r := setup(t)
	play(t, r, gvr.Backup, "hello-world", inProgress(1, 10))
	// The deadline only bounds a test whose cue never comes.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := clitest.RunReacting(ctx, t, func(line string) {
		if strings.Contains(line, "1/10 items") {
			cancel() // Ctrl-C once the wait shows progress
		}
	}, "backup", "hello-world")
	if res.Code == 0 || !strings.Contains(res.Stderr, "stopped waiting for backup \"hello-world\"; it continues in the background") {
		t.Errorf("exit %d; want an error saying only the waiting stopped", res.Code)
	}
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Get(context.Background(), "hello-world", metav1.GetOptions{}); err != nil {
		t.Errorf("the backup must stay: %v", err)
	}
}
