package backup_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

// Delete goes through a DeleteBackupRequest and ends when the Backup is gone.
func TestDeleteBackup(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbrs := r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(oadpNS)
	backups := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS)
	var seen *unstructured.Unstructured
	go func() {
		w, err := dbrs.Watch(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		defer w.Stop()
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			seen = u
			_ = patchStatus(ctx, r, gvr.Backup, "hello-world", map[string]any{"phase": "Deleting"})
			_ = backups.Delete(ctx, "hello-world", metav1.DeleteOptions{})
			return
		}
	}()

	res := clitest.Run(t, "delete", "backup", "hello-world", "--yes")
	if res.Code != 0 || !strings.Contains(res.Stdout, `Backup "hello-world" and its data deleted`) {
		t.Fatalf("exit %d", res.Code)
	}
	if _, err := backups.Get(ctx, "hello-world", metav1.GetOptions{}); err == nil {
		t.Error("the backup is still there")
	}
	l, _ := dbrs.List(ctx, metav1.ListOptions{})
	if len(l.Items) != 1 || seen == nil {
		t.Fatalf("%d delete requests, want 1", len(l.Items))
	}
	d := l.Items[0]
	if d.Object["spec"].(map[string]any)["backupName"] != "hello-world" || d.GetLabels()[velero.LabelBackupName] != "hello-world" || d.GetLabels()[velero.LabelBackupUID] == "" {
		t.Errorf("delete request = %v", d.Object)
	}
}

// Velero's errors on the request are shown and the exit code says failed.
func TestDeleteBackupErrors(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbrs := r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(oadpNS)
	go func() {
		w, err := dbrs.Watch(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		defer w.Stop()
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok {
				_ = patchStatus(ctx, r, gvr.DeleteBackupRequest, u.GetName(), map[string]any{"phase": "Processed", "errors": []any{"backup storage location is read-only"}})
				return
			}
		}
	}()
	res := clitest.Run(t, "delete", "backup", "hello-world", "--yes")
	if res.Code != exitcode.Failed || !strings.Contains(res.Stdout, "error: backup storage location is read-only") {
		t.Errorf("exit %d; want %d with Velero's error", res.Code, exitcode.Failed)
	}
}

// Without a terminal and without --yes nothing is deleted; unknown backups
// and bad timeouts are refused first.
func TestDeleteBackupRefused(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"delete", "backup", "hello-world"}, "no terminal to ask on; pass --yes"},
		{[]string{"delete", "backup", "nope", "--yes"}, `backups.velero.io "nope" not found`},
		{[]string{"delete", "backup", "hello-world", "--yes", "--timeout=-1s"}, "--timeout must be positive"},
	} {
		res := clitest.RunWithInput(t, "y\n", tc.args...)
		if res.Code != exitcode.Error || !strings.Contains(res.Stderr, tc.msg) {
			t.Errorf("%v: exit %d, want 1 and %q", tc.args, res.Code, tc.msg)
		}
	}
	if n := count(t, r, gvr.DeleteBackupRequest); n != 0 {
		t.Errorf("%d delete requests created", n)
	}
}
