// Package rig runs real servers for tests and the sandbox: etcd, kube-apiserver
// and kube-controller-manager built from the Go module proxy, loaded with the
// real OpenShift, OLM, Velero and OADP CRDs and seeded with the objects of an
// AWS STS OpenShift cluster; and moto's server standing in for IAM, STS and S3,
// with an IAM OIDC provider for the cluster's issuer.
//
// Everything listens on free loopback ports and lives in one temporary
// directory; Stop kills every process and removes the directory.
package rig

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Versions of the servers the rig runs; the cache directory is keyed by them.
const (
	KubeVersion = "v1.37.2"
	// Facts of the seeded cluster.
	ClusterID       = "5a8f3c1e-9d2b-4e7a-8c6f-0b1d2e3f4a5b"
	InfraName       = "rig-x7k2p"
	OpenShiftVer    = "4.16.8"
	Region          = "us-east-2"
	IssuerHost      = "rig-oidc.s3.us-east-2.amazonaws.com/rig-x7k2p"
	Issuer          = "https://" + IssuerHost
	AdminToken      = "rig-admin-token"
	AWSAccount      = "123456789012"
	DefaultOADPCRDs = "oadp-1.4"
)

// Options choose what the rig starts.
type Options struct {
	// ControllerManager starts kube-controller-manager, so namespaces finish
	// deleting and Deployments get ReplicaSets.
	ControllerManager bool
	// NoMoto skips the AWS emulator.
	NoMoto bool
	// Bare skips the CRDs and seeded objects: a plain Kubernetes cluster.
	Bare bool
	// OADPCRDs is the subdirectory of the CRD fixture directory to install
	// ("oadp-1.3", "oadp-1.4", "oadp-1.5"); default oadp-1.4.
	OADPCRDs string
	// Identity is the cluster's facts and context name; DefaultIdentity
	// when empty.
	Identity Identity
	// AWS, when set, is the rig whose moto this one uses instead of
	// starting its own (one AWS account for a fleet). Its OIDC provider for
	// this cluster's issuer is made at start.
	AWS *Rig
}

// Rig is a running control plane and AWS emulator.
type Rig struct {
	Dir        string
	Kubeconfig string
	// APIServerURL is https://127.0.0.1:<port>.
	APIServerURL string
	// AWSEndpoint is moto's http://127.0.0.1:<port>, "" without moto.
	AWSEndpoint string
	// AuditLog is the API server's audit log: one JSON event per request.
	AuditLog string
	// Identity is this cluster's facts and kubeconfig context name.
	Identity Identity

	Config  *rest.Config
	Dynamic dynamic.Interface
	Kube    kubernetes.Interface

	opts    Options
	bins    string
	procs   []*proc
	etcdURL string
	apiPort int
	apiProc *proc
	apiArgs []string
	kcm     *proc
	moto    *proc
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// Start brings the rig up. On error, everything already started is stopped.
func Start(ctx context.Context, opts Options) (r *Rig, err error) {
	if opts.OADPCRDs == "" {
		opts.OADPCRDs = DefaultOADPCRDs
	}
	opts.Identity = opts.Identity.orDefault()
	if opts.AWS != nil {
		opts.NoMoto = true
	}
	bins, err := BinDir()
	if err != nil {
		return nil, err
	}
	if !opts.NoMoto {
		if _, err := motoCommand(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "oadp-sts-rig-")
	if err != nil {
		return nil, err
	}
	// A variable of its own: every "return nil, err" below sets the named
	// result r to nil before this deferred cleanup runs.
	started := &Rig{Dir: dir, opts: opts, bins: bins, Identity: opts.Identity}
	r = started
	defer func() {
		if err != nil {
			started.Stop()
			r = nil
		}
	}()
	if err := r.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err := r.writeAuthFiles(); err != nil {
		return nil, err
	}
	if err := r.startAPIServer(ctx); err != nil {
		return nil, err
	}
	if err := r.connect(); err != nil {
		return nil, err
	}
	if opts.ControllerManager {
		if err := r.startControllerManager(); err != nil {
			return nil, err
		}
	}
	// The emulator starts while the CRDs load: both take a second or two.
	motoErr := make(chan error, 1)
	go func() {
		switch {
		case opts.AWS != nil:
			r.AWSEndpoint = opts.AWS.AWSEndpoint
			motoErr <- r.CreateOIDCProvider(ctx)
		case opts.NoMoto:
			motoErr <- nil
		default:
			motoErr <- r.startMoto(ctx)
		}
	}()
	if !opts.Bare {
		if err := r.InstallCRDs(ctx, opts.OADPCRDs); err != nil {
			return nil, errors.Join(err, <-motoErr)
		}
		if err := r.Seed(ctx); err != nil {
			return nil, errors.Join(err, <-motoErr)
		}
	}
	if err := <-motoErr; err != nil {
		return nil, err
	}
	return r, nil
}

// Stop kills every process and removes the rig's directory.
func (r *Rig) Stop() {
	if r == nil {
		return
	}
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop()
	}
	r.procs = nil
	if os.Getenv("OADP_STS_RIG_KEEP") == "" {
		os.RemoveAll(r.Dir)
	}
}

// BinDir finds the control-plane binaries: $OADP_STS_RIG_BIN, else the user
// cache directory where hack/rig-tools.sh builds them.
func BinDir() (string, error) {
	dir := os.Getenv("OADP_STS_RIG_BIN")
	if dir == "" {
		cache, err := CacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "controlplane-"+KubeVersion)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", &MissingError{What: b + " in " + dir, Fix: "run 'make rig-tools' (builds etcd, kube-apiserver and kube-controller-manager from the Go module proxy, about 5 minutes once)"}
		}
	}
	return dir, nil
}

// CacheDir is where built tools are cached: $OADP_STS_CACHE, else
// <user cache dir>/kubectl-oadp_sts (the same rule as hack/rig-tools.sh).
func CacheDir() (string, error) {
	if d := os.Getenv("OADP_STS_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "kubectl-oadp_sts"), nil
}

// MissingError says a prerequisite of the rig is absent and how to get it.
type MissingError struct{ What, Fix string }

func (e *MissingError) Error() string { return "missing " + e.What + ": " + e.Fix }

// IsMissing reports whether err is a missing prerequisite (tests skip on it
// outside CI).
func IsMissing(err error) bool {
	var m *MissingError
	return errors.As(err, &m)
}

func (r *Rig) startEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	r.etcdURL = "http://127.0.0.1:" + itoa(ports[0])
	p, err := r.start("etcd", filepath.Join(r.bins, "etcd"), []string{
		"--data-dir", filepath.Join(r.Dir, "etcd"),
		"--listen-client-urls", r.etcdURL, "--advertise-client-urls", r.etcdURL,
		// A peer port of its own, or two rigs collide on 2380.
		"--listen-peer-urls", "http://127.0.0.1:" + itoa(ports[1]),
		"--initial-advertise-peer-urls", "http://127.0.0.1:" + itoa(ports[1]),
		"--initial-cluster", "default=http://127.0.0.1:" + itoa(ports[1]),
		"--unsafe-no-fsync", "--log-level", "warn",
	}, nil)
	if err != nil {
		return err
	}
	return waitHTTP(ctx, p, http.DefaultClient, r.etcdURL+"/health", 30*time.Second, func(resp *http.Response) bool { return resp.StatusCode == 200 })
}

func (r *Rig) writeAuthFiles() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(AdminToken + `,rig-admin,rig-admin-uid,"system:masters"` + "\n"),
		// Metadata for every request is enough to count who called what;
		// but a delete's DeleteOptions (with dryRun) travel in its body, so
		// deletes are logged at Request level; everything else at Metadata.
		"audit-policy.yaml": []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Request\n  verbs: [delete, deletecollection]\n- level: Metadata\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(r.Dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rig) startAPIServer(ctx context.Context) error {
	if r.apiPort == 0 {
		port, err := freePort()
		if err != nil {
			return err
		}
		r.apiPort = port
		r.APIServerURL = "https://127.0.0.1:" + itoa(port)
		r.AuditLog = filepath.Join(r.Dir, "audit.log")
		r.apiArgs = []string{
			"--etcd-servers", r.etcdURL,
			"--secure-port", itoa(port), "--bind-address", "127.0.0.1",
			"--cert-dir", filepath.Join(r.Dir, "certs"),
			"--token-auth-file", filepath.Join(r.Dir, "tokens.csv"),
			"--authorization-mode", "RBAC",
			"--service-account-issuer", r.Identity.Issuer(),
			"--service-account-key-file", filepath.Join(r.Dir, "sa.pub"),
			"--service-account-signing-key-file", filepath.Join(r.Dir, "sa.key"),
			"--service-cluster-ip-range", "10.0.0.0/24",
			"--audit-policy-file", filepath.Join(r.Dir, "audit-policy.yaml"),
			"--audit-log-path", r.AuditLog, "--audit-log-format", "json",
			"--audit-log-mode", "blocking",
			"--disable-admission-plugins", "ServiceAccount",
		}
	}
	p, err := r.start("kube-apiserver", filepath.Join(r.bins, "kube-apiserver"), r.apiArgs, nil)
	if err != nil {
		return err
	}
	r.apiProc = p
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return waitHTTP(ctx, p, client, r.APIServerURL+"/readyz", 60*time.Second, func(resp *http.Response) bool {
		return resp.StatusCode == 200 || resp.StatusCode == 401
	})
}

// RestartAPIServer kills the API server and starts it again on the same port,
// for tests of clients that must survive it.
func (r *Rig) RestartAPIServer(ctx context.Context, downFor time.Duration) error {
	r.apiProc.stop()
	time.Sleep(downFor)
	return r.startAPIServer(ctx)
}

func (r *Rig) connect() error {
	ca, err := os.ReadFile(filepath.Join(r.Dir, "certs", "apiserver.crt"))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	r.addToKubeconfig(cfg, ca)
	r.Kubeconfig = filepath.Join(r.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, r.Kubeconfig); err != nil {
		return err
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 100, 200
	rc.UserAgent = "oadp-sts-rig"
	r.Config = rc
	if r.Dynamic, err = dynamic.NewForConfig(rc); err != nil {
		return err
	}
	r.Kube, err = kubernetes.NewForConfig(rc)
	return err
}

// addToKubeconfig adds the rig's cluster, user and context (named after its
// Identity's context) to cfg and makes the context current.
func (r *Rig) addToKubeconfig(cfg *clientcmdapi.Config, ca []byte) {
	name := r.Identity.Context
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: r.APIServerURL, CertificateAuthorityData: ca}
	cfg.AuthInfos[name+"-admin"] = &clientcmdapi.AuthInfo{Token: AdminToken}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name + "-admin", Namespace: "default"}
	cfg.CurrentContext = name
}

func (r *Rig) startControllerManager() error {
	p, err := r.start("kube-controller-manager", filepath.Join(r.bins, "kube-controller-manager"), []string{
		"--kubeconfig", r.Kubeconfig,
		"--authentication-kubeconfig", r.Kubeconfig,
		"--authorization-kubeconfig", r.Kubeconfig,
		"--controllers", "namespace-controller,garbage-collector-controller,serviceaccount-controller,deployment-controller,replicaset-controller",
		"--secure-port", "0", "--leader-elect=false",
		"--service-account-private-key-file", filepath.Join(r.Dir, "sa.key"),
		"--use-service-account-credentials=false",
		"--concurrent-namespace-syncs", "5",
	}, nil)
	r.kcm = p
	return err
}

// Env is the environment a plugin process needs to use the rig: its
// kubeconfig, and AWS pointed at moto with throwaway credentials and no
// profile files, so nothing on the developer's machine leaks in.
func (r *Rig) Env() map[string]string {
	env := map[string]string{
		"KUBECONFIG":                  r.Kubeconfig,
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  r.Identity.Region,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(r.Dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(r.Dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            r.AWSEndpoint,
	}
	return env
}

// EnvList is Env as KEY=VALUE pairs for exec.
func (r *Rig) EnvList() []string {
	var out []string
	for k, v := range r.Env() {
		out = append(out, k+"="+v)
	}
	return out
}

// ShellEnv is Env as export lines for a shell.
func (r *Rig) ShellEnv() string {
	var b strings.Builder
	for _, k := range []string{"KUBECONFIG", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		fmt.Fprintf(&b, "export %s=%s\n", k, r.Env()[k])
	}
	return b.String()
}

// Thumbprint is a fixed, well-formed certificate thumbprint for the rig's OIDC provider.
var Thumbprint = hex.EncodeToString(make([]byte, 20))
