package backup_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// A Completed backup restores; the wait and the summary work as for backups.
func TestRestoreCompleted(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	play(t, r, gvr.Restore, "hello-world",
		map[string]any{"phase": "InProgress", "progress": map[string]any{"itemsRestored": int64(4), "totalItems": int64(10)}},
		ended("Completed", map[string]any{"warnings": int64(2)}))

	res := clitest.Run(t, "restore", "hello-world", "--namespace-mappings", "hello-world:hello-copy", "--existing-resource-policy", "update")
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0", res.Code)
	}
	rs, err := r.Dynamic.Resource(gvr.Restore).Namespace(oadpNS).Get(context.Background(), "hello-world", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"backupName": "hello-world", "namespaceMapping": map[string]any{"hello-world": "hello-copy"}, "existingResourcePolicy": "update"}
	if !reflect.DeepEqual(rs.Object["spec"], want) {
		t.Errorf("spec = %v, want %v", rs.Object["spec"], want)
	}
	for _, s := range []string{`Restore "hello-world" Completed in 1m05s: 10 of 10 items restored, 2 warnings, 0 errors.`, "See the warnings with 'kubectl oadp-sts describe restore hello-world'"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	if !strings.Contains(res.Stderr, "InProgress  4/10 items") {
		t.Errorf("progress should count itemsRestored")
	}
}

// A restore that fails exits like a failed backup.
func TestRestoreFailed(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	play(t, r, gvr.Restore, "hello-world", ended("PartiallyFailed", map[string]any{"errors": int64(1)}))
	if res := clitest.Run(t, "restore", "hello-world"); res.Code != exitcode.PartiallyFailed {
		t.Errorf("exit %d, want %d", res.Code, exitcode.PartiallyFailed)
	}
}

// Backups that cannot be restored, and bad input, are refused before a
// Restore exists.
func TestRestoreRefused(t *testing.T) {
	cases := []struct {
		name   string
		status map[string]any // of backup hello-world; nil: no backup
		region string         // of the BSL, when not the cluster's
		args   []string
		msg    string
	}{
		{name: "in progress", status: inProgress(1, 10), msg: `backup "hello-world" is InProgress, not Completed`},
		{name: "failed", status: ended("Failed", nil), msg: `backup "hello-world" is Failed and cannot be restored`},
		{name: "partially failed", status: ended("PartiallyFailed", nil), msg: "--allow-partially-failed"},
		{name: "new", status: map[string]any{}, msg: "is New, not Completed"},
		{name: "other region", status: ended("Completed", nil), region: "eu-west-1", msg: "stored in AWS region eu-west-1"},
		{name: "malformed mapping", status: ended("Completed", nil), args: []string{"--namespace-mappings", "hello-world"}, msg: "malformed --namespace-mappings entry"},
		{name: "bad policy", status: ended("Completed", nil), args: []string{"--existing-resource-policy", "replace"}, msg: "--existing-resource-policy"},
		{name: "zero timeout", status: ended("Completed", nil), args: []string{"--timeout", "0"}, msg: "--timeout must be positive"},
		{name: "unknown backup, no sync wait", args: []string{"--sync-timeout", "0"}, msg: `backup "hello-world" not found in openshift-adp`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := setup(t)
			if tc.region != "" {
				putBSL(t, r, bslName, true, "Available", tc.region)
			}
			if tc.status != nil {
				putBackup(t, r, "hello-world", tc.status)
			}
			res := clitest.Run(t, append([]string{"restore", "hello-world"}, tc.args...)...)
			if res.Code != exitcode.Error || !strings.Contains(res.Stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", res.Code, res.Stderr, tc.msg)
			}
			if n := count(t, r, gvr.Restore); n != 0 {
				t.Errorf("%d restores created", n)
			}
		})
	}
}

// A backup made on another cluster is restored once Velero syncs it from
// the shared bucket; an unknown one fails after the sync brought nothing.
func TestRestoreWaitsForSync(t *testing.T) {
	r := setup(t)
	const waiting = "waiting up to 2m0s for Velero to sync it"
	ctx := context.Background()
	play(t, r, gvr.Restore, "hello-world", ended("Completed", nil))
	res := clitest.RunReacting(ctx, t, func(line string) {
		if strings.Contains(line, waiting) {
			putBackup(t, r, "hello-world", ended("Completed", nil))
		}
	}, "restore", "hello-world")
	if res.Code != 0 || !strings.Contains(res.Stderr, waiting) {
		t.Errorf("exit %d; want 0 after the sync, saying it waits", res.Code)
	}

	// Unknown: the sync completes without it.
	res = clitest.RunReacting(ctx, t, func(line string) {
		if strings.Contains(line, waiting) {
			if err := patchStatus(ctx, r, gvr.BSL, bslName, map[string]any{"lastSyncedTime": ts(time.Second)}); err != nil {
				t.Error(err)
			}
		}
	}, "restore", "no-such-backup")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, `backup "no-such-backup" not found`) || !strings.Contains(res.Stderr, "as of its last sync") {
		t.Errorf("exit %d; want a clear not-found after the sync", res.Code)
	}
	if n := count(t, r, gvr.Restore); n != 1 {
		t.Errorf("%d restores, want only the first", n)
	}
	_ = rig.Region
}

// restore and delete backup take the same --dry-run: client and server
// create and delete nothing (read back), server sends with dryRun=All.
func TestRestoreAndDeleteDryRun(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	reqs := r.RecordKube("kubectl-oadp_sts/")
	if res := clitest.Run(t, "restore", "hello-world", "--dry-run=client", "-o", "name"); res.Code != 0 || res.Stdout != "restore.velero.io/hello-world\n" {
		t.Errorf("restore --dry-run=client -o name: exit %d, stdout %q", res.Code, res.Stdout)
	}
	if res := clitest.Run(t, "restore", "hello-world", "--dry-run=server"); res.Code != 0 || !strings.Contains(res.Stdout, "restore.velero.io/hello-world created (server dry run)") {
		t.Errorf("restore --dry-run=server: exit %d, stdout %q", res.Code, res.Stdout)
	}
	for _, mode := range []string{"--dry-run=client", "--dry-run=server"} {
		// No --yes: a dry run deletes nothing, so it asks nothing.
		if res := clitest.Run(t, "delete", "backup", "hello-world", mode); res.Code != 0 || !strings.Contains(res.Stdout, "Velero would delete backup \"hello-world\"") {
			t.Errorf("delete backup %s: exit %d, stdout %q", mode, res.Code, res.Stdout)
		}
	}
	if n := count(t, r, gvr.Restore); n != 0 {
		t.Errorf("%d restores after dry runs", n)
	}
	if n := count(t, r, gvr.DeleteBackupRequest); n != 0 {
		t.Errorf("%d DeleteBackupRequests after dry runs", n)
	}
	got, err := reqs()
	if err != nil {
		t.Fatal(err)
	}
	var dry int
	for _, q := range got {
		if q.Mutating() {
			if !q.DryRun() {
				t.Errorf("%s %s sent without dryRun=All", q.Verb, q.Resource)
			}
			dry++
		}
	}
	if dry != 2 {
		t.Errorf("%d dry-run writes, want the restore's and the DeleteBackupRequest's", dry)
	}
}
