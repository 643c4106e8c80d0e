//go:build unix

package e2e

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// TestDayTwo is what comes after the chapter, on the real Velero server:
// the log of a backup, what Velero stored about it, a backup that partially
// fails, and scheduled backups. It runs before the walkthrough (file order)
// and removes what it made, leaving setup's objects for the walkthrough to
// converge over.
//
//nolint:funlen // one story on one Velero server, each step on what the one before left
func TestDayTwo(t *testing.T) {
	sb := get(t)
	r := sb.Rig
	r.UseEnv(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{sb.StandInLog, sb.VeleroLog} {
				t.Logf("%s ends:\n%s", f, tailOf(f, 8000))
			}
		}
		// The chapter's path leaves a CloudStorage in setup's record, which
		// a later setup of the same cluster would follow: the walkthrough
		// after this test starts, as it did before day two, from a cluster
		// set up on the default path (the operator stays).
		for _, args := range [][]string{
			{"cleanup", "--yes", "--keep-operator"},
			{"setup", "--yes", "--cluster-name", clusterName},
		} {
			if res := clitest.Run(t, args...); res.Code != 0 {
				t.Errorf("%s after day two: exit %d: %s", args[0], res.Code, res.Stderr)
			}
		}
	})
	// The walkthrough's own setup (it reruns it, converging): the names of the
	// constants, which the walkthrough and this test share.
	// The chapter's path, end to end: the operator (here its stand-in) makes
	// the bucket from a CloudStorage.
	mustRun(t, exitcode.OK, "setup", "--yes", "--cluster-name", clusterName, "--cloudstorage")
	createHelloWorld(t, r)
	mustRun(t, exitcode.OK, "backup", app)
	b := get1(t, r, gvr.Backup, app)
	items, _, _ := unstructured.NestedInt64(b.Object, "status", "progress", "itemsBackedUp")

	// The log Velero uploaded, streamed: lines only Velero writes, with the
	// count the Backup's status has.
	res := mustRun(t, exitcode.OK, "logs", "backup", app)
	for _, s := range []string{"Backed up a total of " + strconv.FormatInt(items, 10) + " items", "level=info", "backup=" + ns + "/" + app} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("logs backup %s lacks %q; it has:\n%s", app, s, head(res.Stdout, 3000))
		}
	}
	noDownloadRequests(t, r)

	// --details: the resource list is the one Velero uploaded to the bucket.
	res = mustRun(t, exitcode.OK, "describe", "backup", app, "--details")
	for _, s := range []string{"Resource list:", "apps/v1/Deployment", "hello-world/hello-openshift", "v1/Service", "Volumes:", "Results:"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("describe --details lacks %q:\n%s", s, res.Stdout)
		}
	}
	res = mustRun(t, exitcode.OK, "describe", "backup", app, "--details", "-o", "json")
	var desc struct {
		Backup  map[string]any `json:"backup"`
		Details struct {
			Resources   map[string][]string `json:"resources"`
			Unavailable map[string]string   `json:"unavailable"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &desc); err != nil {
		t.Fatalf("describe -o json: %v\n%s", err, res.Stdout)
	}
	var inBucket map[string][]string
	if err := json.Unmarshal(gunzipObject(t, r, manifests.DefaultPrefix+"/backups/"+app+"/"+app+"-resource-list.json.gz"), &inBucket); err != nil {
		t.Fatal(err)
	}
	for k := range inBucket {
		slices.Sort(inBucket[k])
	}
	if !reflect.DeepEqual(desc.Details.Resources, inBucket) || !slices.Contains(inBucket["apps/v1/Deployment"], "hello-world/hello-openshift") ||
		!slices.Contains(inBucket["v1/Service"], "hello-world/hello-openshift") {
		t.Errorf("resources = %v\nthe bucket's list = %v", desc.Details.Resources, inBucket)
	}
	if desc.Backup["kind"] != "Backup" {
		t.Errorf("-o json has no backup object: %v", desc.Backup["kind"])
	}
	noDownloadRequests(t, r)

	// A restore's log and results, beside its backup's files.
	mustRun(t, exitcode.OK, "restore", app, "--name", "hw-copy", "--namespace-mappings", app+":hello-copy")
	res = mustRun(t, exitcode.OK, "logs", "restore", "hw-copy")
	if !strings.Contains(res.Stdout, "Starting restore of backup "+ns+"/"+app) || !strings.Contains(res.Stdout, "restore="+ns+"/hw-copy") {
		t.Errorf("logs restore hw-copy lacks Velero's lines:\n%s", head(res.Stdout, 3000))
	}
	res = mustRun(t, exitcode.OK, "describe", "restore", "hw-copy", "--details")
	for _, s := range []string{"Results:", "Errors:", "Pod volume restores:", "Data downloads:"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("describe restore --details lacks %q:\n%s", s, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "Not available") {
		t.Errorf("describe restore --details could not read Velero's files:\n%s", res.Stdout)
	}
	noDownloadRequests(t, r)

	// A backup Velero has not finished: no log yet, so refused, and no
	// DownloadRequest made. Velero leaves a Backup another server runs
	// (phase InProgress) alone, which is how this one is held in progress.
	running := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": "running", "namespace": ns},
		"spec":     map[string]any{"includedNamespaces": []any{app}, "storageLocation": bslName},
		"status":   map[string]any{"phase": "InProgress"},
	}}
	if _, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Create(ctx, running, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res = mustRun(t, exitcode.Error, "logs", "backup", "running")
	if !strings.Contains(res.Stderr, `backup "running" is InProgress: Velero uploads its log when it ends`) {
		t.Errorf("stderr %q", res.Stderr)
	}
	res = mustRun(t, exitcode.Error, "logs", "backup", "nope")
	if !strings.Contains(res.Stderr, `backups.velero.io "nope" not found: list them with 'kubectl oadp-sts get backups'`) {
		t.Errorf("stderr %q", res.Stderr)
	}
	noDownloadRequests(t, r)
	if err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Delete(ctx, "running", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// Schedules: one every minute, which Velero validates and backs up from.
	mustRun(t, exitcode.OK, "schedule", "create", "every-minute", "--schedule", "@every 1m", "--include-namespaces", app, "--ttl", "1h")
	first := scheduledBackup(t, r, "every-minute", 3*time.Minute)
	if p := str(get1(t, r, gvr.Schedule, "every-minute"), "status", "phase"); p != "Enabled" {
		t.Errorf("schedule phase %q, want Velero's Enabled", p)
	}
	res = mustRun(t, exitcode.OK, "get", "schedules")
	if row := rowOf(res.Stdout, "every-minute"); !strings.Contains(row, first) || !strings.Contains(row, "Completed") || !strings.Contains(row, "Enabled") {
		t.Errorf("get schedules row %q lacks the last backup %s, Completed, Enabled", row, first)
	}
	mustRun(t, exitcode.OK, "schedule", "pause", "every-minute")
	pausedAt := time.Now()

	// While the paused schedule is watched for a new backup: a backup that
	// partially fails.
	partiallyFailed(t, r)

	// backup --from-schedule: the template of a paused schedule, now.
	mustRun(t, exitcode.OK, "schedule", "create", "on-demand", "--schedule", "0 3 * * *", "--include-namespaces", app, "--paused")
	before := countBackups(t, r)
	for _, bad := range [][]string{
		{"backup", app, "--from-schedule", "on-demand"},
		{"backup", "--from-schedule", "nope"},
		{"backup", "--from-schedule", "on-demand", "--ttl", "1h"},
		{"schedule", "create", "bad", "--schedule", "61 * * * *", "--include-namespaces", app},
	} {
		res := mustRun(t, exitcode.Error, bad...)
		if lines := strings.Split(strings.TrimSpace(res.Stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
			t.Errorf("%v: want a one-line error, got %q", bad, res.Stderr)
		}
	}
	if n := countBackups(t, r); n != before {
		t.Errorf("bad input made %d backups", n-before)
	}
	if _, err := r.Dynamic.Resource(gvr.Schedule).Namespace(ns).Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("schedule bad: %v, want not created", err)
	}
	mustRun(t, exitcode.OK, "backup", "--from-schedule", "on-demand")
	res = mustRun(t, exitcode.OK, "get", "backups", "--schedule", "on-demand", "-o", "name")
	names := strings.Fields(res.Stdout)
	if len(names) != 1 {
		t.Fatalf("get backups --schedule on-demand: %v, want the one backup", names)
	}
	od := get1(t, r, gvr.Backup, strings.TrimPrefix(names[0], "backup.velero.io/"))
	if p := str(od, "status", "phase"); p != "Completed" || !strings.HasPrefix(od.GetName(), "on-demand-") {
		t.Errorf("backup from schedule: %s %s", od.GetName(), p)
	}

	// Paused: no backup of every-minute made after the pause, over two of
	// its periods (Velero looks at schedules once a minute).
	time.Sleep(time.Until(pausedAt.Add(2*time.Minute + 5*time.Second)))
	l, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "velero.io/schedule-name=every-minute"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range l.Items {
		if c := b.GetCreationTimestamp(); c.After(pausedAt.Add(2 * time.Second)) {
			t.Errorf("backup %s made at %s, after the schedule was paused at %s", b.GetName(), c.UTC(), pausedAt.UTC())
		}
	}

	// Delete the schedules with their backups, through Velero.
	mustRun(t, exitcode.OK, "delete", "schedule", "every-minute", "--delete-backups", "--yes")
	mustRun(t, exitcode.OK, "delete", "sched", "on-demand", "--delete-backups", "--yes")
	if l, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "velero.io/schedule-name"}); err != nil || len(l.Items) != 0 {
		t.Errorf("backups of the schedules after delete --delete-backups: %d (%v)", len(l.Items), err)
	}
	if keys := list(t, r, bucket, manifests.DefaultPrefix+"/backups/"+first+"/"); len(keys) != 0 {
		t.Errorf("the bucket still holds %s: %v", first, keys)
	}

	// Leave the walkthrough a cluster without this test's objects.
	// The restore first: deleting its backup would take it along.
	if err := r.Dynamic.Resource(gvr.Restore).Namespace(ns).Delete(ctx, "hw-copy", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err := wait.Deleted(ctx, r.Dynamic.Resource(gvr.Restore).Namespace(ns), "hw-copy", wait.Options{What: "restore hw-copy", Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, exitcode.OK, "delete", "backup", app, "--yes")
	mustRun(t, exitcode.OK, "delete", "backup", "partial", "--yes")
	// No kubelet confirms the "running" pod's end: delete it at once.
	if err := r.Kube.CoreV1().Pods("partial").Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: aws.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{app, "partial", "hello-copy"} {
		if err := r.Kube.CoreV1().Namespaces().Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := wait.Deleted(ctx, r.Dynamic.Resource(gvr.Namespace), n, wait.Options{What: "namespace " + n, Timeout: 2 * time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	noDownloadRequests(t, r)
}

// partiallyFailed makes a backup Velero cannot fully take: a running pod
// whose volume is marked for file-system backup (backup.velero.io/backup-volumes).
// Velero then needs its node agent on the pod's node; the sandbox runs none
// (there are no nodes, and no kubelet to run a DaemonSet), so Velero records
// "daemonset pod not found in running state in node ..." as an error of
// that item, backs up everything else and ends PartiallyFailed. The pod is
// "running" because the test writes its status; nothing else in the rig
// touches a pod's status.
func partiallyFailed(t *testing.T, r *rig.Rig) {
	t.Helper()
	ctx := context.Background()
	const pns, node = "partial", "sandbox-node-1"
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: pns, Annotations: map[string]string{"backup.velero.io/backup-volumes": "data"}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "web", Image: "docker.io/openshift/hello-openshift", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	created, err := r.Kube.CoreV1().Pods(pns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodRunning
	if _, err := r.Kube.CoreV1().Pods(pns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, exitcode.PartiallyFailed, "backup", pns)
	for _, s := range []string{`Backup "partial" PartiallyFailed`, "First errors, from Velero's results file:",
		"Velero's log of it: 'kubectl oadp-sts logs backup partial'"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("backup partial: stdout lacks %q:\n%s", s, res.Stdout)
		}
	}
	// Velero files this item error under its own messages, not the
	// namespace's: the line is whatever Velero wrote, with the cause.
	if line := rowWith(res.Stdout, "  error: "); !strings.Contains(line, "daemonset pod not found in running state in node "+node) {
		t.Errorf("backup partial: the first error %q is not Velero's reason", line)
	}
	if p := str(get1(t, r, gvr.Backup, pns), "status", "phase"); p != "PartiallyFailed" {
		t.Errorf("backup partial phase %s, want PartiallyFailed", p)
	}
	// The logs command it names works, and holds the same error.
	res = mustRun(t, exitcode.OK, "logs", "backup", pns)
	if !strings.Contains(res.Stdout, "daemonset pod not found in running state in node "+node) || !strings.Contains(res.Stdout, "level=error") {
		t.Errorf("logs backup partial lacks the error:\n%s", head(res.Stdout, 3000))
	}
	noDownloadRequests(t, r)
}

// scheduledBackup waits for the first backup the schedule makes to end,
// and returns its name; it must be Completed.
func scheduledBackup(t *testing.T, r *rig.Rig, schedule string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := r.Dynamic.Resource(gvr.Backup).Namespace(ns)
	sel := "velero.io/schedule-name=" + schedule
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			return c.Watch(ctx, o)
		},
	}
	ev, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(e watch.Event) (bool, error) {
		u, ok := e.Object.(*unstructured.Unstructured)
		if !ok || e.Type == watch.Deleted {
			return false, nil
		}
		switch p := str(u, "status", "phase"); p {
		case "Completed":
			return true, nil
		case "PartiallyFailed", "Failed", "FailedValidation":
			t.Fatalf("scheduled backup %s ended %s", u.GetName(), p)
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no Completed backup of schedule %s within %s: %v", schedule, timeout, err)
	}
	return ev.Object.(*unstructured.Unstructured).GetName()
}

func noDownloadRequests(t *testing.T, r *rig.Rig) {
	t.Helper()
	l, err := r.Dynamic.Resource(gvr.DownloadRequest).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 0 {
		var names []string
		for _, d := range l.Items {
			names = append(names, d.GetName())
		}
		t.Errorf("DownloadRequests left behind: %v", names)
	}
}

func countBackups(t *testing.T, r *rig.Rig) int {
	t.Helper()
	l, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

func gunzipObject(t *testing.T, r *rig.Rig, key string) []byte {
	t.Helper()
	out, err := r.S3().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	gz, err := gzip.NewReader(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rowWith(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func rowOf(table, name string) string {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return ""
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func tailOf(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
