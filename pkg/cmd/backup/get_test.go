package backup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
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

// get prints through kubectl's printers: -o name, jsonpath, go-template and
// custom-columns, the table
// printer's --no-headers and --show-labels, -l sent to the API server as a
// label selector; a bad -o is refused naming the flag and the formats.
func TestGetPrinters(t *testing.T) {
	r := setup(t)
	putLabelledBackup(t, r, "shop-daily", map[string]any{"app": "shop"})
	putBackup(t, r, "hello-world", ended("Completed", nil))

	if res := clitest.Run(t, "get", "backups", "-o", "jsonpath={.items[*].metadata.name}"); res.Code != 0 || res.Stdout != "hello-world shop-daily" {
		t.Errorf("-o jsonpath: exit %d, stdout %q", res.Code, res.Stdout)
	}
	if res := clitest.Run(t, "get", "backups", "-o", "name"); res.Stdout != "backup.velero.io/hello-world\nbackup.velero.io/shop-daily\n" {
		t.Errorf("-o name: %q", res.Stdout)
	}
	if res := clitest.Run(t, "get", "backup", "shop-daily", "-o", "go-template={{.metadata.labels.app}}"); res.Stdout != "shop" {
		t.Errorf("-o go-template: %q", res.Stdout)
	}
	if res := clitest.Run(t, "get", "backups", "-o", "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app", "-l", "app=shop"); res.Code != 0 || strings.Fields(res.Stdout)[2] != "shop-daily" || strings.Fields(res.Stdout)[3] != "shop" {
		t.Errorf("-o custom-columns: exit %d, stdout %q", res.Code, res.Stdout)
	}
	res := clitest.Run(t, "get", "backups", "--no-headers")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "hello-world ") || !strings.HasPrefix(lines[1], "shop-daily ") {
		t.Errorf("--no-headers: %q", res.Stdout)
	}
	res = clitest.Run(t, "get", "backups", "-l", "app=shop", "--show-labels")
	lines = strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 2 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "LABELS") || !strings.HasPrefix(lines[1], "shop-daily ") || !strings.HasSuffix(lines[1], "app=shop") {
		t.Errorf("-l app=shop --show-labels: %q", res.Stdout)
	}
	if res := clitest.Run(t, "get", "backups", "-l", "app=none"); res.Code != 0 || res.Stdout != "" || !strings.Contains(res.Stderr, "No backups in "+oadpNS) {
		t.Errorf("-l matching nothing: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	res = clitest.Run(t, "get", "backups", "-o", "table")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, `unknown output format "table" for -o`) || !strings.Contains(res.Stderr, "jsonpath") {
		t.Errorf("-o table: exit %d, stderr %q", res.Code, res.Stderr)
	}
}

// get -w lists, then prints each change the API server's watch reports
// until interrupted: a Backup created after the listing shows up, and the
// plugin watched rather than listed again.
func TestGetWatch(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	reqs := r.RecordKube("kubectl-oadp_sts/")
	// The deadline only bounds a test whose cue never comes.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := clitest.RunReactingStdout(ctx, t, func(line string) {
		switch {
		case strings.HasPrefix(line, "hello-world "):
			putBackup(t, r, "late", inProgress(1, 10))
		case strings.HasPrefix(line, "late "):
			cancel() // Ctrl-C once the new backup is shown
		}
	}, "get", "backups", "-w")
	if ctx.Err() != context.Canceled {
		t.Fatalf("the watch never showed the backup created after it started; stdout %q", res.Stdout)
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.Code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[2], "InProgress") {
		t.Errorf("exit %d, stdout %q; want exit 0, the header, the listed row and the new one", res.Code, res.Stdout)
	}
	got, err := reqs()
	if err != nil {
		t.Fatal(err)
	}
	var lists, watches int
	for _, q := range got {
		if q.Resource == "backups" {
			switch q.Verb {
			case "list":
				lists++
			case "watch":
				watches++
			}
		}
	}
	if lists != 1 || watches < 1 {
		t.Errorf("%d lists and %d watches of backups; want one list, then a watch", lists, watches)
	}
}

func putLabelledBackup(t *testing.T, r *rig.Rig, name string, labels map[string]any) {
	t.Helper()
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": name, "namespace": oadpNS, "labels": labels},
		"spec":     map[string]any{"includedNamespaces": []any{"hello-world"}, "storageLocation": bslName},
		"status":   ended("Completed", nil),
	}}
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Create(context.Background(), b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
