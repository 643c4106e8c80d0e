package cmdutil

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/version"
)

// DefaultNamespace is where OADP is installed unless -n says otherwise. The
// kubeconfig context's namespace is deliberately not used: it is usually the
// user's project, not the operator's.
const DefaultNamespace = "openshift-adp"

// Factory builds each client of a run once, on first use, so commands that
// never touch AWS never load AWS config and nothing is constructed twice.
type Factory struct {
	ConfigFlags *genericclioptions.ConfigFlags
	AWS         *awsclient.Options

	restOnce sync.Once
	rest     *rest.Config
	restErr  error

	dynOnce sync.Once
	dyn     dynamic.Interface
	dynErr  error

	kubeOnce sync.Once
	kube     kubernetes.Interface
	kubeErr  error

	// aws is shared with the factories ForContext makes: one fleet loads
	// the AWS configuration (and resolves its credentials) once.
	aws *awsLoad

	// Contexts are the --context values as given (the root fills it), more
	// than one only for the commands that run on several clusters.
	Contexts []string

	regionMu      sync.Mutex
	clusterRegion string

	flagsOnce sync.Once
}

// flags are the ConfigFlags with one --context in them, as cli-runtime's own
// --context would have put it: also where no PersistentPreRun ran (shell
// completion), so a TAB after '--context other' asks the other cluster.
func (f *Factory) flags() *genericclioptions.ConfigFlags {
	f.flagsOnce.Do(func() {
		if f.ConfigFlags.Context == nil && len(f.Contexts) == 1 {
			f.ConfigFlags.Context = &f.Contexts[0]
		}
	})
	return f.ConfigFlags
}

// NewFactory returns a Factory over the standard kubectl flags and the AWS options.
func NewFactory(flags *genericclioptions.ConfigFlags, awsOpts *awsclient.Options) *Factory {
	return &Factory{ConfigFlags: flags, AWS: awsOpts, aws: &awsLoad{}}
}

type awsLoad struct {
	once sync.Once
	cfg  aws.Config
	err  error
}

// Namespace is the OADP namespace: -n when given, else openshift-adp.
func (f *Factory) Namespace() string {
	if f.ConfigFlags.Namespace != nil && *f.ConfigFlags.Namespace != "" {
		return *f.ConfigFlags.Namespace
	}
	return DefaultNamespace
}

// RESTConfig is the user's kubeconfig as resolved by the standard flags.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	f.restOnce.Do(func() {
		cfg, err := f.flags().ToRESTConfig()
		if err != nil {
			f.restErr = fmt.Errorf("cannot load a kubeconfig: %w (set --kubeconfig or KUBECONFIG, or log in with 'oc login')", err)
			return
		}
		cfg = rest.CopyConfig(cfg)
		cfg.UserAgent = version.UserAgent()
		// Setup and cleanup issue dozens of small requests at once; the
		// client-go default of 5 QPS would make them queue.
		if cfg.QPS == 0 {
			cfg.QPS, cfg.Burst = 50, 100
		}
		f.rest = cfg
	})
	return f.rest, f.restErr
}

// Dynamic returns the dynamic client used for every custom resource.
func (f *Factory) Dynamic() (dynamic.Interface, error) {
	f.dynOnce.Do(func() {
		cfg, err := f.RESTConfig()
		if err != nil {
			f.dynErr = err
			return
		}
		f.dyn, f.dynErr = dynamic.NewForConfig(cfg)
	})
	return f.dyn, f.dynErr
}

// Kube returns the typed clientset for core objects.
func (f *Factory) Kube() (kubernetes.Interface, error) {
	f.kubeOnce.Do(func() {
		cfg, err := f.RESTConfig()
		if err != nil {
			f.kubeErr = err
			return
		}
		f.kube, f.kubeErr = kubernetes.NewForConfig(cfg)
	})
	return f.kube, f.kubeErr
}

// RawKubeConfig is the kubeconfig the flags name, as written (for completing
// its context, cluster and user names).
func (f *Factory) RawKubeConfig() (clientcmdapi.Config, error) {
	return f.flags().ToRawKubeConfigLoader().RawConfig()
}

// AWSConfig loads the AWS configuration once (profile, region, endpoint and
// credentials from the SDK's default chain). When it names no region, the
// cluster's is used (SetClusterRegion), else us-east-1.
func (f *Factory) AWSConfig(ctx context.Context) (aws.Config, error) {
	f.aws.once.Do(func() {
		f.aws.cfg, f.aws.err = f.AWS.Load(ctx)
	})
	f.regionMu.Lock()
	defer f.regionMu.Unlock()
	return awsclient.WithRegion(f.aws.cfg, f.clusterRegion), f.aws.err
}

// SetClusterRegion tells the factory the cluster's AWS region, for AWS calls
// when the user's configuration names none.
func (f *Factory) SetClusterRegion(region string) {
	f.regionMu.Lock()
	f.clusterRegion = region
	f.regionMu.Unlock()
}

// NamespaceFlag is " -n NS" when ns is not the default, so that a command the
// plugin prints for the user works when pasted.
func NamespaceFlag(ns string) string {
	if ns == DefaultNamespace {
		return ""
	}
	return " -n " + ns
}

// ForContext is a Factory over the same flags and AWS options for another
// kubeconfig context: one cluster of a fleet, or the cluster whose backups
// another restores (--from-cluster). Its clients and its cluster's region are
// its own, the loaded AWS configuration is shared; the flags that
// name one cluster or user of the kubeconfig (--cluster, --user) are not
// carried over, since they belong to the context the user chose, not this one.
func (f *Factory) ForContext(name string) *Factory {
	src := f.flags()
	c := genericclioptions.NewConfigFlags(true)
	c.CacheDir, c.KubeConfig, c.Namespace, c.Timeout = src.CacheDir, src.KubeConfig, src.Namespace, src.Timeout
	c.Insecure, c.CertFile, c.KeyFile, c.CAFile, c.BearerToken = src.Insecure, src.CertFile, src.KeyFile, src.CAFile, src.BearerToken
	c.Impersonate, c.ImpersonateUID, c.ImpersonateGroup, c.ImpersonateUserExtra = src.Impersonate, src.ImpersonateUID, src.ImpersonateGroup, src.ImpersonateUserExtra
	c.Username, c.Password, c.DisableCompression, c.ProxyURL = src.Username, src.Password, src.DisableCompression, src.ProxyURL
	// Flags that name one server, cluster or user override every context.
	c.APIServer, c.TLSServerName, c.ClusterName, c.AuthInfoName = nil, nil, nil, nil
	c.Context = &name
	return &Factory{ConfigFlags: c, AWS: f.AWS, aws: f.aws, Contexts: []string{name}}
}
