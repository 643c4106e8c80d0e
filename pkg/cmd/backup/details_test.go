package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// The backup side of --details, and the failure summary, run on the real
// Velero server in test/e2e (TestDayTwo). Here, on the rig's API server with
// Velero's real CRDs: the restore side (PodVolumeRestores, DataDownloads, the
// restore's results), the backup's transfers, and a summary of more errors
// than it shows. The files come from a stand-in for Velero's DownloadRequest
// controller (answerFiles), since no Velero server runs here.

// answerFiles stands in for Velero's DownloadRequest controller: each new
// request gets the URL of a local server holding files[kind], gzipped.
func answerFiles(t *testing.T, r *rig.Rig, files map[string]string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, ok := files[strings.TrimPrefix(req.URL.Path, "/")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		_, _ = z.Write([]byte(body))
		_ = z.Close()
		_, _ = w.Write(b.Bytes())
	}))
	ctx, cancel := context.WithCancel(context.Background())
	wt, err := r.Dynamic.Resource(gvr.DownloadRequest).Namespace(oadpNS).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); wt.Stop(); <-done; srv.Close() })
	go func() {
		defer close(done)
		for ev := range wt.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type != watch.Added {
				continue
			}
			kind, _, _ := unstructured.NestedString(u.Object, "spec", "target", "kind")
			b, _ := json.Marshal(map[string]any{"status": map[string]any{"phase": "Processed", "downloadURL": srv.URL + "/" + kind}})
			_, _ = r.Dynamic.Resource(gvr.DownloadRequest).Namespace(oadpNS).Patch(ctx, u.GetName(), types.MergePatchType, b, metav1.PatchOptions{})
		}
	}()
}

func clearTransfers(t *testing.T, r *rig.Rig) {
	t.Helper()
	clear := func() {
		for _, res := range []schema.GroupVersionResource{gvr.PodVolumeBackup, gvr.PodVolumeRestore, gvr.DataUpload, gvr.DataDownload, gvr.DownloadRequest} {
			if err := r.Dynamic.Resource(res).Namespace(oadpNS).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clear()
	t.Cleanup(clear)
}

func put(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, obj map[string]any) {
	t.Helper()
	if _, err := r.Dynamic.Resource(res).Namespace(oadpNS).Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDescribeRestoreDetails(t *testing.T) {
	r := setup(t)
	clearTransfers(t, r)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	put(t, r, gvr.Restore, map[string]any{"apiVersion": "velero.io/v1", "kind": "Restore",
		"metadata": map[string]any{"name": "hello-world", "namespace": oadpNS}, "spec": map[string]any{"backupName": "hello-world"},
		"status": ended("PartiallyFailed", map[string]any{"errors": int64(1)})})
	labels := map[string]any{"velero.io/restore-name": "hello-world"}
	put(t, r, gvr.PodVolumeRestore, map[string]any{"apiVersion": "velero.io/v1", "kind": "PodVolumeRestore",
		"metadata": map[string]any{"name": "hello-world-pvr", "namespace": oadpNS, "labels": labels},
		"spec": map[string]any{"backupStorageLocation": bslName, "pod": map[string]any{"namespace": "hello-world", "name": "web"},
			"repoIdentifier": "x", "snapshotID": "s", "sourceNamespace": "hello-world", "volume": "cache"},
		"status": map[string]any{"phase": "Completed", "progress": map[string]any{"bytesDone": int64(2048), "totalBytes": int64(2048)}}})
	put(t, r, gvr.DataDownload, map[string]any{"apiVersion": "velero.io/v2alpha1", "kind": "DataDownload",
		"metadata": map[string]any{"name": "hello-world-dd", "namespace": oadpNS, "labels": labels},
		"spec": map[string]any{"backupStorageLocation": bslName, "operationTimeout": "10m", "snapshotID": "s", "sourceNamespace": "hello-world",
			"targetVolume": map[string]any{"namespace": "hello-world", "pvc": "data", "pv": ""}},
		"status": map[string]any{"phase": "InProgress", "progress": map[string]any{"bytesDone": int64(1 << 20), "totalBytes": int64(4 << 20)}}})
	answerFiles(t, r, map[string]string{
		"RestoreResults": `{"errors":{"namespaces":{"hello-world":["error restoring services/hello-world/web: already exists"]}},"warnings":{"velero":["a warning"]}}`,
	})

	res := clitest.Run(t, "describe", "restore", "hello-world", "--details")
	for _, s := range []string{"Pod volume restores:", "pod hello-world/web volume cache:", "Completed, 2.0 KiB of 2.0 KiB",
		"Data downloads:", "pvc hello-world/data:", "InProgress, 1.0 MiB of 4.0 MiB",
		"Errors:", "namespace hello-world: error restoring services/hello-world/web: already exists", "Warnings:", "velero: a warning"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("describe restore --details lacks %q:\n%s", s, res.Stdout)
		}
	}
	res = clitest.Run(t, "describe", "restore", "hello-world", "--details", "-o", "yaml")
	for _, s := range []string{"restore:", "kind: Restore", "details:", "podVolumes:", "dataTransfers:", "bytesDone: 1048576", "results:"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("-o yaml lacks %q:\n%s", s, res.Stdout)
		}
	}
	if n := count(t, r, gvr.DownloadRequest); n != 0 {
		t.Errorf("%d DownloadRequests left behind", n)
	}
}

// A backup's transfers are listed by Velero's label; a file Velero did not
// write is said to be missing, and the rest still shown.
func TestDescribeBackupTransfers(t *testing.T) {
	r := setup(t)
	clearTransfers(t, r)
	putBackup(t, r, "hello-world", ended("Completed", nil))
	labels := map[string]any{"velero.io/backup-name": "hello-world"}
	put(t, r, gvr.PodVolumeBackup, map[string]any{"apiVersion": "velero.io/v1", "kind": "PodVolumeBackup",
		"metadata": map[string]any{"name": "hello-world-pvb", "namespace": oadpNS, "labels": labels},
		"spec": map[string]any{"backupStorageLocation": bslName, "node": "w1", "pod": map[string]any{"namespace": "hello-world", "name": "web"},
			"repoIdentifier": "x", "volume": "cache"},
		"status": map[string]any{"phase": "Failed", "message": "node agent gone"}})
	put(t, r, gvr.DataUpload, map[string]any{"apiVersion": "velero.io/v2alpha1", "kind": "DataUpload",
		"metadata": map[string]any{"name": "hello-world-du", "namespace": oadpNS, "labels": labels},
		"spec":     map[string]any{"backupStorageLocation": bslName, "operationTimeout": "10m", "snapshotType": "CSI", "sourceNamespace": "hello-world", "sourcePVC": "data"},
		"status":   map[string]any{"phase": "Completed", "progress": map[string]any{"bytesDone": int64(3 << 30), "totalBytes": int64(3 << 30)}}})
	answerFiles(t, r, map[string]string{
		"BackupResourceList": `{"apps/v1/Deployment":["hello-world/hello-openshift"]}`,
		"BackupResults":      `{"errors":{},"warnings":{}}`,
	})
	res := clitest.Run(t, "describe", "backup", "hello-world", "--details")
	for _, s := range []string{"hello-world/hello-openshift", "Volumes:", "Not available:", "not in the storage location",
		"pod hello-world/web volume cache:", "Failed, no bytes counted (node agent gone)", "pvc hello-world/data:", "Completed, 3.0 GiB of 3.0 GiB"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("describe backup --details lacks %q:\n%s", s, res.Stdout)
		}
	}
}

// After a partial failure, the first errors of the results file and the
// logs command; more errors than that are a command away.
func TestBackupPartiallyFailedSummary(t *testing.T) {
	r := setup(t)
	clearTransfers(t, r)
	var errs []string
	for i := range 7 {
		errs = append(errs, fmt.Sprintf("%q", fmt.Sprintf("error %d", i)))
	}
	answerFiles(t, r, map[string]string{
		"BackupResults": `{"errors":{"namespaces":{"hello-world":[` + strings.Join(errs, ",") + `]}},"warnings":{}}`,
	})
	play(t, r, gvr.Backup, "hello-world", ended("PartiallyFailed", map[string]any{"errors": int64(7)}))
	res := clitest.Run(t, "backup", "hello-world")
	if res.Code != exitcode.PartiallyFailed {
		t.Fatalf("exit %d, want %d", res.Code, exitcode.PartiallyFailed)
	}
	for _, s := range []string{"First errors, from Velero's results file:", "  error: namespace hello-world: error 0", "error 4",
		"... and 2 more: 'kubectl oadp-sts describe backup hello-world --details'", "Velero's log of it: 'kubectl oadp-sts logs backup hello-world'"} {
		if !strings.Contains(res.Stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "error 5") {
		t.Error("more than the first five errors shown")
	}
	if n := count(t, r, gvr.DownloadRequest); n != 0 {
		t.Errorf("%d DownloadRequests left behind", n)
	}
}
