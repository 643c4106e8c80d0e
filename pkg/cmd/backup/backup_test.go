package backup_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

// `backup hello-world` makes exactly the chapter's Backup, waits through the
// phases Velero writes and exits 0 on Completed with a summary.
func TestBackupCompleted(t *testing.T) {
	r := setup(t)
	play(t, r, gvr.Backup, "hello-world", inProgress(0, 10), inProgress(6, 10), ended("Completed", nil))

	res := clitest.Run(t, "backup", "hello-world")
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0", res.Code)
	}
	b, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Get(context.Background(), "hello-world", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"includedNamespaces": []any{"hello-world"}, "storageLocation": bslName, "ttl": "720h0m0s"}
	if got := b.Object["spec"]; !reflect.DeepEqual(got, want) {
		t.Errorf("spec = %v, want the chapter's %v", got, want)
	}
	for _, s := range []string{`Backup "hello-world" Completed in 1m05s: 10 of 10 items backed up, 0 warnings, 0 errors.`, "Next: kubectl oadp-sts restore hello-world"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	// Piped: plain progress lines with the item counts, and the Ctrl-C note.
	for _, s := range []string{"InProgress  6/10 items", "Ctrl-C stops the waiting, not the backup"} {
		if !strings.Contains(res.Stderr, s) {
			t.Errorf("stderr lacks %q", s)
		}
	}
	if strings.Contains(res.Stderr, "\r") {
		t.Error("a pipe got a live line")
	}
}

// Each way a backup can end has its own exit code and message.
func TestBackupEndings(t *testing.T) {
	cases := []struct {
		name   string
		status map[string]any
		args   []string
		code   int
		out    []string
	}{
		{name: "partially failed", status: ended("PartiallyFailed", map[string]any{"errors": int64(2), "warnings": int64(1)}),
			code: exitcode.PartiallyFailed, out: []string{"PartiallyFailed", "2 errors", "Some items failed", "describe backup hello-world"}},
		{name: "failed", status: ended("Failed", map[string]any{"failureReason": "bucket access denied"}),
			code: exitcode.Failed, out: []string{`Backup "hello-world" Failed`, "failure reason: bucket access denied"}},
		{name: "failed validation", status: map[string]any{"phase": "FailedValidation", "validationErrors": []any{"an existing backup storage location was not specified"}},
			code: exitcode.Failed, out: []string{"FailedValidation", "validation error: an existing backup storage location was not specified"}},
		{name: "timeout", status: inProgress(3, 10), args: []string{"--timeout", "1s"},
			code: exitcode.Timeout, out: []string{"timed out after 1s waiting for backup \"hello-world\"", "InProgress  3/10 items", "may still finish"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := setup(t)
			play(t, r, gvr.Backup, "hello-world", tc.status)
			res := clitest.Run(t, append([]string{"backup", "hello-world"}, tc.args...)...)
			if res.Code != tc.code {
				t.Errorf("exit %d, want %d", res.Code, tc.code)
			}
			all := res.Stdout + res.Stderr
			for _, s := range tc.out {
				if !strings.Contains(all, s) {
					t.Errorf("output lacks %q", s)
				}
			}
		})
	}
}

// A taken name gets a timestamp; -o yaml prints and creates nothing; flags
// reach the spec.
func TestBackupNamingAndFlags(t *testing.T) {
	r := setup(t)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	res := clitest.Run(t, "backup", "hello-world", "--wait=false", "--ttl", "24h", "--selector", "app=web", "--exclude-resources", "secrets", "--snapshot-volumes=false")
	if res.Code != 0 || !strings.Contains(res.Stderr, `naming this one "hello-world-2`) {
		t.Fatalf("exit %d; want a timestamped name announced", res.Code)
	}
	l, _ := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).List(context.Background(), metav1.ListOptions{})
	if len(l.Items) != 2 {
		t.Fatalf("%d backups, want 2", len(l.Items))
	}
	for _, b := range l.Items {
		if b.GetName() == "hello-world" {
			continue
		}
		spec := b.Object["spec"].(map[string]any)
		if spec["ttl"] != "24h0m0s" || spec["snapshotVolumes"] != false || !reflect.DeepEqual(spec["excludedResources"], []any{"secrets"}) || spec["labelSelector"] == nil {
			t.Errorf("spec = %v", spec)
		}
	}

}

// -o prints what was (or would be) made and never by itself changes what
// happens: --dry-run=client creates nothing, =server sends the Backup with
// dryRun=All (seen in the API server's audit log) and stores nothing, and
// plain -o creates the Backup and prints the API server's copy.
func TestBackupDryRunAndOutput(t *testing.T) {
	r := setup(t)
	res := clitest.Run(t, "backup", "hello-world", "--name", "preview", "--dry-run=client", "-o", "yaml")
	if res.Code != 0 || !strings.Contains(res.Stdout, "kind: Backup") || !strings.Contains(res.Stdout, "storageLocation: "+bslName) {
		t.Errorf("--dry-run=client -o yaml: exit %d, stdout %q", res.Code, res.Stdout)
	}
	if n := count(t, r, gvr.Backup); n != 0 {
		t.Errorf("--dry-run=client created a backup (%d now)", n)
	}

	reqs := r.RecordKube("kubectl-oadp_sts/")
	res = clitest.Run(t, "backup", "hello-world", "--name", "probe", "--dry-run=server", "-o", "name")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "backup.velero.io/probe" {
		t.Errorf("--dry-run=server -o name: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	if n := count(t, r, gvr.Backup); n != 0 {
		t.Errorf("--dry-run=server stored a backup (%d now)", n)
	}
	got, err := reqs()
	if err != nil {
		t.Fatal(err)
	}
	var creates int
	for _, q := range got {
		if q.Resource == "backups" && q.Verb == "create" {
			creates++
			if !q.DryRun() {
				t.Errorf("create %s sent without dryRun=All", q.RequestURI)
			}
		}
	}
	if creates != 1 {
		t.Errorf("%d creates of backups, want the one dry-run create", creates)
	}

	res = clitest.Run(t, "backup", "hello-world", "--name", "made", "--wait=false", "-o", "jsonpath={.metadata.name} {.metadata.uid}")
	if res.Code != 0 {
		t.Fatalf("-o jsonpath: exit %d: %s", res.Code, res.Stderr)
	}
	b, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Get(context.Background(), "made", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("-o without --dry-run must create the backup: %v", err)
	}
	if want := "made " + string(b.GetUID()); res.Stdout != want {
		t.Errorf("stdout %q, want the created object's %q (what the API server returned)", res.Stdout, want)
	}
	if !strings.Contains(res.Stderr, "Follow it with") {
		t.Errorf("the human lines belong on stderr with -o: %q", res.Stderr)
	}
}

// Bad input fails with a clear message before anything is created.
func TestBackupBadInput(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		setup func(*testing.T, *rig.Rig)
		msg   string
	}{
		{name: "unknown namespace", args: []string{"backup", "no-such-ns"}, msg: `namespace "no-such-ns" does not exist`},
		{name: "zero timeout", args: []string{"backup", "hello-world", "--timeout", "0s"}, msg: "--timeout must be positive"},
		{name: "negative timeout", args: []string{"backup", "hello-world", "--timeout=-5m"}, msg: "--timeout must be positive"},
		{name: "no available location", args: []string{"backup", "hello-world"}, msg: "not Available",
			setup: func(t *testing.T, r *rig.Rig) { putBSL(t, r, bslName, true, "Unavailable", rig.Region) }},
		{name: "unknown location", args: []string{"backup", "hello-world", "--storage-location", "nope"}, msg: `no backup storage location "nope"`},
		{name: "bad selector", args: []string{"backup", "hello-world", "-l", "a=b=c"}, msg: "invalid --selector"},
		{name: "bad output", args: []string{"backup", "hello-world", "-o", "table"}, msg: `unknown output format "table" for -o: use one of`},
		{name: "bad dry-run", args: []string{"backup", "hello-world", "--dry-run=maybe"}, msg: `--dry-run must be none, client or server, not "maybe"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := setup(t)
			if tc.setup != nil {
				tc.setup(t, r)
			}
			res := clitest.Run(t, tc.args...)
			if res.Code != exitcode.Error || !strings.Contains(res.Stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", res.Code, res.Stderr, tc.msg)
			}
			if n := count(t, r, gvr.Backup); n != 0 {
				t.Errorf("%d backups created on bad input", n)
			}
		})
	}
}

// The wait outlives an API server restart in the middle of `backup --wait`
// and still ends on the status written after it.
func TestBackupWaitSurvivesAPIServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the API server")
	}
	r := setup(t)
	r.UseEnv(t)
	ctx := context.Background()
	restarted := make(chan error, 1)
	// The plugin runs as a process of its own; the restart starts when it
	// says it is waiting, so the create has been answered (a restart during
	// the create would fail the create, which is not what this test is about).
	res := clitest.RunProcess(t, clitest.Binary(t), func(line string) bool {
		if strings.HasPrefix(line, "Waiting for backup") {
			go func() {
				err := r.RestartAPIServer(ctx, time.Second)
				if err == nil {
					err = patchStatus(ctx, r, gvr.Backup, "hello-world", ended("Completed", nil))
				}
				restarted <- err
			}()
		}
		return false
	}, nil, "backup", "hello-world", "--timeout", "2m")
	// The next tests need the API server back.
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if res.Code != 0 || !slices.ContainsFunc(res.Lines, func(l string) bool { return strings.Contains(l, "Completed") }) {
		t.Errorf("exit %d; want Completed after the restart:\n%s", res.Code, strings.Join(res.Lines, "\n"))
	}
}

// File-system backup is refused while the DPA keeps the node agent off
// (Velero would fail every pod volume), and asked for once it runs.
func TestBackupFileSystemNeedsTheNodeAgent(t *testing.T) {
	r := setup(t)
	ctx := context.Background()
	dpa := func(fsBackup bool) {
		t.Helper()
		o := manifests.Options{Namespace: oadpNS, ClusterName: rig.InfraName, Region: rig.Region, OADPVersion: "1.4", FSBackup: fsBackup}
		if err := r.Apply(ctx, manifests.DPA(o.WithDefaults())); err != nil {
			t.Fatal(err)
		}
	}
	dpa(false)
	t.Cleanup(func() {
		_ = r.Dynamic.Resource(gvr.DPA).Namespace(oadpNS).Delete(context.Background(), rig.InfraName+"-dpa", metav1.DeleteOptions{})
	})
	res := clitest.Run(t, "backup", "hello-world", "--default-volumes-to-fs-backup", "--wait=false")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "--default-volumes-to-fs-backup needs OADP's node agent, and dataprotectionapplication/"+rig.InfraName+"-dpa keeps it off: run 'kubectl oadp-sts setup --fs-backup' first") {
		t.Errorf("exit %d; want a refusal naming the fix", res.Code)
	}
	if n := count(t, r, gvr.Backup); n != 0 {
		t.Errorf("%d backups created despite the refusal", n)
	}

	dpa(true)
	if res := clitest.Run(t, "backup", "hello-world", "--default-volumes-to-fs-backup", "--wait=false"); res.Code != 0 {
		t.Fatalf("exit %d with the node agent on", res.Code)
	}
	b, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Get(ctx, "hello-world", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, found, _ := unstructured.NestedBool(b.Object, "spec", "defaultVolumesToFsBackup"); !found || !v {
		t.Errorf("spec = %v, want defaultVolumesToFsBackup true", b.Object["spec"])
	}
}
