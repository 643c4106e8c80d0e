//go:build unix

// Package sandbox is an AWS STS OpenShift cluster in a box, for trying the
// plugin and for the end-to-end test: the test rig (etcd, kube-apiserver,
// kube-controller-manager, moto, the real CRDs and an STS cluster's objects)
// with OADP 1.4 "installed" (its ClusterServiceVersion Succeeded), the real
// Velero server v1.18.3 with velero-plugin-for-aws v1.14.3 as a local process,
// and StandIn, a small stand-in for what the OADP operator does with the
// plugin's objects. No OpenShift or OADP operator code runs here.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// Versions of what the sandbox runs; the Velero cache directory is keyed by them.
const (
	VeleroVersion    = "v1.18.3"
	AWSPluginVersion = "v1.14.3"
	Namespace        = "openshift-adp"
	// OADPVersion is the operator the sandbox has "installed".
	OADPVersion = "1.4"
	CSVName     = "oadp-operator.v1.4.5"
	// ControllerRuntimeMetrics is the address Velero's controller manager
	// binds, with no flag to move it: one Velero server per machine at a time.
	ControllerRuntimeMetrics = ":8080"
)

// Options tune Start.
type Options struct {
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// LockWait is how long to wait for another sandbox's Velero server to
	// stop (they cannot run side by side); default 10 minutes.
	LockWait time.Duration
}

// Sandbox is a running sandbox.
type Sandbox struct {
	Rig *rig.Rig
	// Dir is the sandbox's own directory inside the rig's: the token,
	// Velero's plugin directory, TMPDIR and HOME, and the logs.
	Dir        string
	VeleroLog  string
	StandInLog string
	// STS is a proxy (internal/faults) in front of the emulator that
	// Velero's AWS plugin reaches STS through, faultless unless a test sets
	// it: IAM propagation (RefuseNewRoles) is modelled there. A test that
	// wants the plugin's IAM calls to start the propagation clock points
	// AWS_ENDPOINT_URL at STS.URL too.
	STS *faults.Proxy

	stopOnce sync.Once
	cancel   context.CancelFunc
	velero   *exec.Cmd
	veleroCh chan struct{}
	lock     *os.File
	logs     []*os.File
	// ownsRig: Start made the rig, so Stop stops it; StartOn's is the caller's.
	ownsRig bool
}

// VeleroBinDir finds the Velero server and AWS plugin: $OADP_STS_VELERO_BIN,
// else the cache directory where hack/rig-tools.sh velero builds them.
func VeleroBinDir() (string, error) {
	dir := os.Getenv("OADP_STS_VELERO_BIN")
	if dir == "" {
		cache, err := rig.CacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "velero-"+VeleroVersion+"-aws-"+AWSPluginVersion)
	}
	for _, b := range []string{"velero", "velero-plugin-for-aws"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", &rig.MissingError{What: b + " in " + dir, Fix: "run 'make velero-tools' (builds the Velero server and its AWS plugin from the Go module proxy, about 3 minutes once)"}
		}
	}
	return dir, nil
}

// prepare fills in opts' defaults and finds the Velero binaries, for Start
// and StartOn; logf writes to opts.Log, when there is one.
func prepare(opts Options) (_ Options, logf func(string, ...any), bins string, err error) {
	logf = func(format string, a ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", a...)
		}
	}
	if opts.LockWait == 0 {
		opts.LockWait = 10 * time.Minute
	}
	bins, err = VeleroBinDir()
	return opts, logf, bins, err
}

// Start brings the sandbox up; on error everything already started is stopped.
func Start(ctx context.Context, opts Options) (sb *Sandbox, err error) {
	opts, logf, bins, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := rig.Start(ctx, rig.Options{ControllerManager: true})
	if err != nil {
		return nil, err
	}
	logf("control plane %s at %s, moto at %s (%s)", rig.KubeVersion, r.APIServerURL, r.AWSEndpoint, time.Since(start).Round(time.Millisecond))
	return start1(ctx, r, true, bins, opts, logf)
}

// StartOn runs the sandbox's OADP (the CSV), operator stand-in and Velero
// server on a rig the caller started and keeps (one cluster of a fleet);
// Stop stops them and leaves the rig. Only one Velero runs per machine, so
// a test with two clusters stops the first one's before it starts the
// second's.
func StartOn(ctx context.Context, r *rig.Rig, opts Options) (*Sandbox, error) {
	opts, logf, bins, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	return start1(ctx, r, false, bins, opts, logf)
}

func start1(ctx context.Context, r *rig.Rig, ownsRig bool, bins string, opts Options, logf func(string, ...any)) (sb *Sandbox, err error) {
	// A variable of its own: every "return nil, err" below sets the named
	// result sb to nil before this deferred cleanup runs.
	started := &Sandbox{Rig: r, Dir: filepath.Join(r.Dir, "sandbox"), ownsRig: ownsRig}
	sb = started
	defer func() {
		if err != nil {
			started.Stop()
			sb = nil
		}
	}()
	for _, d := range []string{"plugins", "tmp", "home"} {
		if err := os.MkdirAll(filepath.Join(sb.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := sb.seedOADP(ctx); err != nil {
		return nil, err
	}
	logf("OADP %s installed (CSV %s Succeeded in %s)", OADPVersion, CSVName, Namespace)

	sb.StandInLog = filepath.Join(sb.Dir, "stand-in.log")
	sil, err := sb.openLog(sb.StandInLog)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	sb.cancel = cancel
	si := &StandIn{
		Dynamic: r.Dynamic, Kube: r.Kube, Namespace: Namespace, OADPVersion: OADPVersion,
		S3URL: r.AWSEndpoint, Dir: filepath.Join(sb.Dir, "stand-in"), VeleroTempDir: filepath.Join(sb.Dir, "tmp"), Log: sil,
	}
	if err := si.Run(runCtx); err != nil {
		return nil, err
	}
	logf("OADP operator stand-in watching %s (log %s)", Namespace, sb.StandInLog)

	if err := sb.acquireVeleroLock(ctx, opts.LockWait, logf); err != nil {
		return nil, err
	}
	if err := sb.startVelero(ctx, bins); err != nil {
		return nil, err
	}
	logf("Velero server %s with velero-plugin-for-aws %s running (log %s)", VeleroVersion, AWSPluginVersion, sb.VeleroLog)
	return sb, nil
}

// Stop kills Velero and the stand-in, and the rig with its directories when
// Start made it.
func (sb *Sandbox) Stop() {
	if sb == nil {
		return
	}
	sb.stopOnce.Do(func() {
		if sb.cancel != nil {
			sb.cancel()
		}
		if sb.velero != nil && sb.velero.Process != nil {
			// The group: Velero runs its plugins as child processes.
			_ = syscall.Kill(-sb.velero.Process.Pid, syscall.SIGKILL)
			<-sb.veleroCh
		}
		if sb.lock != nil {
			sb.lock.Close()
		}
		if sb.STS != nil {
			sb.STS.Close()
		}
		for _, f := range sb.logs {
			f.Close()
		}
		if sb.ownsRig {
			sb.Rig.Stop()
		}
	})
}

func (sb *Sandbox) openLog(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err == nil {
		sb.logs = append(sb.logs, f)
	}
	return f, err
}

// seedOADP makes OADP look installed by OLM: the namespace and a Succeeded
// ClusterServiceVersion, which is what the plugin checks.
func (sb *Sandbox) seedOADP(ctx context.Context) error {
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": Namespace},
	}}
	csv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": CSVName, "namespace": Namespace},
		"spec": map[string]any{
			"displayName": "OADP Operator (sandbox stand-in)",
			"version":     strings.TrimPrefix(CSVName, "oadp-operator.v"),
			"install":     map[string]any{"strategy": "deployment"},
		},
		"status": map[string]any{"phase": "Succeeded", "reason": "InstallSucceeded"},
	}}
	for _, o := range []*unstructured.Unstructured{ns, csv} {
		if err := sb.Rig.Apply(ctx, o); err != nil {
			return fmt.Errorf("seed %s: %w", o.GetKind(), err)
		}
	}
	return sb.Rig.ApplyStatus(ctx, csv)
}

// acquireVeleroLock serialises Velero servers on this machine: each binds
// :8080 for its controller manager's metrics, and a second one would exit.
func (sb *Sandbox) acquireVeleroLock(ctx context.Context, wait time.Duration, logf func(string, ...any)) error {
	cache, err := rig.CacheDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	path := filepath.Join(cache, "velero-server.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited {
			holder, _ := os.ReadFile(path)
			logf("waiting for another sandbox's Velero server to stop (%s); only one runs at a time because Velero binds %s", strings.TrimSpace(string(holder)), ControllerRuntimeMetrics)
			waited = true
		}
		if time.Now().After(deadline) {
			f.Close()
			return fmt.Errorf("another sandbox's Velero server has held %s for %s; stop it ('make sandbox-stop') and retry", path, wait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	sb.lock = f
	_ = f.Truncate(0)
	_, _ = f.WriteAt(fmt.Appendf(nil, "pid %d, %s\n", os.Getpid(), sb.Dir), 0)
	l, err := net.Listen("tcp", ControllerRuntimeMetrics)
	if err != nil {
		return fmt.Errorf("port %s is taken by another program, and Velero's controller manager binds it: %w", ControllerRuntimeMetrics, err)
	}
	return l.Close()
}

func (sb *Sandbox) startVelero(ctx context.Context, bins string) error {
	// Velero loads every executable in its plugin directory, itself included
	// if it were there: a directory with only the AWS plugin.
	plugin := filepath.Join(sb.Dir, "plugins", "velero-plugin-for-aws")
	if err := os.Symlink(filepath.Join(bins, "velero-plugin-for-aws"), plugin); err != nil {
		return err
	}
	sts, err := faults.Start(sb.Rig.AWSEndpoint, faults.Options{})
	if err != nil {
		return err
	}
	sb.STS = sts
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	sb.VeleroLog = filepath.Join(sb.Dir, "velero.log")
	lf, err := sb.openLog(sb.VeleroLog)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bins, "velero"), "server",
		"--kubeconfig", sb.Rig.Kubeconfig, "-n", Namespace,
		"--plugin-dir", filepath.Dir(plugin), "--uploader-type", "kopia",
		"--metrics-address", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--profiler-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
	)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = veleroEnv(os.Environ(), map[string]string{
		// The AWS plugin assumes the role through STS at moto; S3 is reached
		// through the BSL's s3Url.
		"AWS_ENDPOINT_URL_STS":      sb.STS.URL,
		"AWS_EC2_METADATA_DISABLED": "true",
		// Velero writes credentials under $TMPDIR/credentials and reads
		// $HOME/.config/velero: both stay in the sandbox.
		"TMPDIR": filepath.Join(sb.Dir, "tmp"),
		"HOME":   filepath.Join(sb.Dir, "home"),
	})
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start velero: %w", err)
	}
	sb.velero, sb.veleroCh = cmd, make(chan struct{})
	// Its exit status is not an error here: stop signals it, and one that
	// dies early fails the readiness wait below with its log.
	go func() { _ = cmd.Wait(); close(sb.veleroCh) }()

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(sb.VeleroLog)
		if bytes.Contains(b, []byte("Server starting...")) {
			return nil
		}
		select {
		case <-sb.veleroCh:
			return fmt.Errorf("velero server exited during startup; its log (%s) ends:\n%s", sb.VeleroLog, tail(b))
		case <-ctx.Done():
			return fmt.Errorf("velero server not started after 90s; its log (%s) ends:\n%s", sb.VeleroLog, tail(b))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// veleroEnv is the environment without any AWS or kube setting of the caller:
// static keys in the environment would win over the web-identity profile and
// the STS chain would never run.
func veleroEnv(base []string, add map[string]string) []string {
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "KUBECONFIG" || add[k] != "" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range add {
		out = append(out, k+"="+v)
	}
	return out
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
