package logs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// These run on the rig's real kube-apiserver with Velero's CRDs. Velero's
// own answer to a DownloadRequest, and its real log, are tested on the real
// Velero server in test/e2e (TestDayTwo). Here a stand-in for Velero's
// DownloadRequest controller answers with the URL of a local HTTPS server,
// for what the sandbox cannot show: object storage behind a private CA
// (moto speaks plain HTTP), and Ctrl-C while Velero has not answered.

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

const (
	oadpNS = "openshift-adp"
	bsl    = "rig-dpa-1"
)

func setup(t *testing.T, caCert []byte) *rig.Rig {
	t.Helper()
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: oadpNS}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	clear := func() {
		for _, res := range []schema.GroupVersionResource{gvr.Backup, gvr.DownloadRequest, gvr.BSL} {
			if err := r.Dynamic.Resource(res).Namespace(oadpNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clear()
	t.Cleanup(clear)
	objStore := map[string]any{"bucket": "rig-bucket", "prefix": "velero"}
	if caCert != nil {
		objStore["caCert"] = base64.StdEncoding.EncodeToString(caCert)
	}
	create(t, r, gvr.BSL, map[string]any{"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": bsl, "namespace": oadpNS},
		"spec":     map[string]any{"provider": "aws", "default": true, "objectStorage": objStore}})
	for name, phase := range map[string]string{"done": "Completed", "running": "InProgress", "invalid": "FailedValidation"} {
		create(t, r, gvr.Backup, map[string]any{"apiVersion": "velero.io/v1", "kind": "Backup",
			"metadata": map[string]any{"name": name, "namespace": oadpNS},
			"spec":     map[string]any{"storageLocation": bsl}, "status": map[string]any{"phase": phase}})
	}
	return r
}

func create(t *testing.T, r *rig.Rig, res schema.GroupVersionResource, obj map[string]any) {
	t.Helper()
	if _, err := r.Dynamic.Resource(res).Namespace(oadpNS).Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// answer stands in for Velero's DownloadRequest controller: it gives every
// new request the URL url, as Velero does with a signed one.
func answer(t *testing.T, r *rig.Rig, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := r.Dynamic.Resource(gvr.DownloadRequest).Namespace(oadpNS).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type != watch.Added {
				continue
			}
			b, _ := json.Marshal(map[string]any{"status": map[string]any{"phase": "Processed", "downloadURL": url + "/" + u.GetName() + "?X-Amz-Signature=secret"}})
			_, _ = r.Dynamic.Resource(gvr.DownloadRequest).Namespace(oadpNS).Patch(ctx, u.GetName(), types.MergePatchType, b, metav1.PatchOptions{})
		}
	}()
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, _ = z.Write([]byte(s))
	_ = z.Close()
	return b.Bytes()
}

const veleroLog = `time="2026-12-01T10:00:00Z" level=info msg="Backed up a total of 7 items" backup=openshift-adp/done
`

// The log comes over HTTPS trusted through the location's caCert only,
// gunzipped, and the request is deleted after.
func TestLogsTrustsTheLocationsCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(gzipped(veleroLog)) }))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	r := setup(t, ca)
	answer(t, r, srv.URL)
	res := clitest.Run(t, "logs", "backup", "done")
	if res.Code != 0 || res.Stdout != veleroLog {
		t.Fatalf("exit %d, stdout %q; want 0 and the log", res.Code, res.Stdout)
	}
	noRequests(t, r)
}

// Without the CA the certificate is refused, naming both ways out; the
// signature in the URL is never shown.
func TestLogsUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(gzipped(veleroLog)) }))
	defer srv.Close()
	r := setup(t, nil)
	answer(t, r, srv.URL)
	res := clitest.Run(t, "logs", "backup", "done")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "caCert") || !strings.Contains(res.Stderr, "--insecure-skip-tls-verify") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	if strings.Contains(res.Stderr+res.Stdout, "secret") {
		t.Errorf("the URL's signature was printed: %s", res.Stderr)
	}
	noRequests(t, r)
	// The explicit opt-in.
	if res := clitest.Run(t, "logs", "backup", "done", "--insecure-skip-tls-verify"); res.Stdout != veleroLog {
		t.Errorf("--insecure-skip-tls-verify: exit %d, stdout %q", res.Code, res.Stdout)
	}
	noRequests(t, r)
}

// What has no log yet, or never will, is refused before any request.
func TestLogsRefusals(t *testing.T) {
	r := setup(t, nil)
	for name, want := range map[string]string{
		"running": `backup "running" is InProgress: Velero uploads its log when it ends`,
		"invalid": `backup "invalid" failed validation, and Velero stores no log for it`,
		"nope":    `backups.velero.io "nope" not found: list them with 'kubectl oadp-sts get backups'`,
	} {
		res := clitest.Run(t, "logs", "backup", name)
		if res.Code != exitcode.Error || !strings.Contains(res.Stderr, want) {
			t.Errorf("logs backup %s: exit %d, stderr %q; want 1 and %q", name, res.Code, res.Stderr, want)
		}
	}
	noRequests(t, r)
}

// Ctrl-C while Velero has not answered: the request goes anyway.
func TestLogsInterruptedDeletesTheRequest(t *testing.T) {
	r := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := clitest.RunReacting(ctx, t, func(line string) {
		if strings.Contains(line, "New") {
			cancel()
		}
	}, "logs", "backup", "done")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "deleted") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	noRequests(t, r)
	// And a Velero that never answers: the timeout, exit 5.
	res = clitest.Run(t, "logs", "backup", "done", "--timeout", "1s")
	if res.Code != exitcode.Timeout || !strings.Contains(res.Stderr, "is the Velero server running?") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	noRequests(t, r)
}

func noRequests(t *testing.T, r *rig.Rig) {
	t.Helper()
	l, err := r.Dynamic.Resource(gvr.DownloadRequest).Namespace(oadpNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 0 {
		t.Errorf("%d DownloadRequests left behind", len(l.Items))
	}
}
