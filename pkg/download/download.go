// Package download fetches the files Velero keeps beside a backup or restore
// in object storage (its log, results, resource list, volume infos) the way
// Velero's CLI does: a DownloadRequest that the Velero server answers with a
// signed URL, fetched over HTTPS with the storage location's CA certificate,
// gunzipped and streamed. The request is deleted afterwards, also when the
// caller gives up (Ctrl-C), so none is left behind.
package download

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// DefaultTimeout bounds the wait for Velero to sign the URL; Velero answers
// in well under a second when it runs.
const DefaultTimeout = time.Minute

// maxSmall caps what Fetch reads into memory: results, resource lists and
// volume infos are kilobytes; a log is streamed instead.
const maxSmall = 64 << 20

// Options shape one download.
type Options struct {
	// Timeout bounds the wait for the signed URL (exit code 5 when it runs out).
	Timeout time.Duration
	// CACert is the storage location's CA bundle (PEM), nil for the system's.
	CACert []byte
	// InsecureSkipTLSVerify skips the certificate check of object storage;
	// only ever set from an explicit flag.
	InsecureSkipTLSVerify bool
	// Progress receives the wait's progress lines; nil shows none.
	Progress io.Writer
	Live     bool
}

// NewRequest builds the DownloadRequest for the file of kind (velero.Target*)
// of the backup or restore called target.
func NewRequest(namespace, name, kind, target string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": velero.APIVersion, "kind": "DownloadRequest",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"target": map[string]any{"kind": kind, "name": target}},
	}}
}

// requestName keeps the target's name readable and the whole a valid name.
func requestName(target string) string {
	return target[:min(len(target), 200)] + "-" + utilrand.String(8)
}

// Stream writes the gunzipped file of kind for target to w as it arrives.
func Stream(ctx context.Context, dyn dynamic.Interface, namespace, kind, target string, w io.Writer, o Options) (err error) {
	url, done, err := signedURL(ctx, dyn, namespace, kind, target, o)
	if err != nil {
		return err
	}
	defer done()
	return fetch(ctx, url, o, w)
}

// Fetch returns the gunzipped file of kind for target. A file Velero never
// wrote (older backups have no volume infos) is ErrNotFound.
func Fetch(ctx context.Context, dyn dynamic.Interface, namespace, kind, target string, o Options) ([]byte, error) {
	var b strings.Builder
	lw := &limitWriter{w: &b, left: maxSmall}
	if err := Stream(ctx, dyn, namespace, kind, target, lw, o); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// ErrNotFound is a file that is not in the bucket.
var ErrNotFound = errors.New("not in object storage")

// signedURL creates the request, waits for Velero's URL and returns it with
// the function that deletes the request.
func signedURL(ctx context.Context, dyn dynamic.Interface, namespace, kind, target string, o Options) (string, func(), error) {
	c := dyn.Resource(gvr.DownloadRequest).Namespace(namespace)
	name := requestName(target)
	w, err := wait.Start(ctx, c, name)
	if err != nil {
		return "", nil, kube.Explain(err, gvr.DownloadRequest, name)
	}
	defer w.Stop()
	if _, err := c.Create(ctx, NewRequest(namespace, name, kind, target), metav1.CreateOptions{}); err != nil {
		return "", nil, fmt.Errorf("cannot ask Velero for the %s of %q: %w", kind, target, kube.Explain(err, gvr.DownloadRequest, ""))
	}
	done := func() {
		// Not the caller's context: after Ctrl-C the request must still go.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Delete(dctx, name, metav1.DeleteOptions{})
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	obj, err := w.For(ctx, func(u *unstructured.Unstructured) (bool, error) {
		return kube.Str(u.Object, "status", "downloadURL") != "", nil
	}, wait.Options{
		What: fmt.Sprintf("Velero to sign the URL of the %s of %q (downloadrequest %s)", kind, target, name), Timeout: timeout,
		Out: o.Progress, Live: o.Live,
		Progress: func(u *unstructured.Unstructured) string {
			return orDefault(kube.Str(u.Object, "status", "phase"), velero.PhaseNew)
		},
	})
	if err != nil {
		done()
		var te *wait.TimeoutError
		var ie *wait.InterruptedError
		if errors.As(err, &ie) {
			return "", nil, fmt.Errorf("stopped waiting for Velero's answer; downloadrequest %s deleted", name)
		}
		if errors.As(err, &te) {
			return "", nil, fmt.Errorf("%w (is the Velero server running? 'kubectl oadp-sts status' checks it)", err)
		}
		return "", nil, err
	}
	return kube.Str(obj.Object, "status", "downloadURL"), done, nil
}

func fetch(ctx context.Context, url string, o Options, w io.Writer) error {
	tr, err := transport(o)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("velero signed a URL that cannot be fetched: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		err = redact(err)
		var ue x509.UnknownAuthorityError
		if errors.As(err, &ue) {
			return fmt.Errorf("object storage's certificate is not trusted: set the storage location's caCert, or pass --insecure-skip-tls-verify if you accept the risk: %w", err)
		}
		return fmt.Errorf("cannot fetch from object storage: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("object storage answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		return fmt.Errorf("the file in object storage is not gzipped as Velero writes it: %w", err)
	}
	defer gz.Close()
	if _, err := io.Copy(w, gz); err != nil {
		return fmt.Errorf("reading from object storage: %w", err)
	}
	return nil
}

func transport(o Options) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipTLSVerify} //nolint:gosec // only from the explicit flag
	if len(o.CACert) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(o.CACert) {
			return nil, errors.New("the storage location's caCert holds no PEM certificate: fix spec.objectStorage.caCert of the BackupStorageLocation")
		}
		cfg.RootCAs = pool
	}
	tr.TLSClientConfig = cfg
	return tr, nil
}

// redact keeps the signature of a signed URL out of messages: it is a
// credential for as long as it lives.
func redact(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		if base, _, signed := strings.Cut(ue.URL, "?"); signed {
			ue.URL = base + "?<signature>"
		}
	}
	return err
}

// CACert reads a BackupStorageLocation's CA bundle (spec.objectStorage.caCert,
// base64 in the API), nil when it has none.
func CACert(bsl *unstructured.Unstructured) ([]byte, error) {
	s := kube.Str(bsl.Object, "spec", "objectStorage", "caCert")
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("backupstoragelocation %q: spec.objectStorage.caCert is not base64: %w", bsl.GetName(), err)
	}
	return b, nil
}

// LocationCACert finds the CA bundle of the storage location a backup uses.
// A location that cannot be read leaves the system's roots, which is what
// Velero's CLI does too.
func LocationCACert(ctx context.Context, dyn dynamic.Interface, namespace, location string) ([]byte, error) {
	if location == "" {
		return nil, nil
	}
	bsl, err := dyn.Resource(gvr.BSL).Namespace(namespace).Get(ctx, location, metav1.GetOptions{})
	if err != nil {
		return nil, nil //nolint:nilerr // no location to read: the system's roots
	}
	return CACert(bsl)
}

type limitWriter struct {
	w    io.Writer
	left int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		return 0, fmt.Errorf("file larger than %d MiB", maxSmall>>20)
	}
	l.left -= len(p)
	return l.w.Write(p)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
