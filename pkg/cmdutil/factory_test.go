package cmdutil

import (
	"path/filepath"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
)

// ForContext reaches the named context's cluster, keeps the flags that do not
// name a cluster (-n, --kubeconfig, --request-timeout), and leaves the
// original factory on its own context.
func TestForContext(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	for name, server := range map[string]string{"a": "https://a.example:6443", "b": "https://b.example:6443"} {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "t-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	cfg.CurrentContext = "a"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &path
	ns, timeout, cluster := "oadp", "7s", "a"
	flags.Namespace, flags.Timeout, flags.ClusterName = &ns, &timeout, &cluster
	f := NewFactory(flags, awsclient.NewOptions())

	b := f.ForContext("b")
	rc, err := b.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://b.example:6443" || rc.BearerToken != "t-b" {
		t.Errorf("ForContext(b) reaches %s with token %q, want b's server and user", rc.Host, rc.BearerToken)
	}
	if rc.Timeout.String() != "7s" {
		t.Errorf("--request-timeout not carried over: %s", rc.Timeout)
	}
	if b.Namespace() != "oadp" {
		t.Errorf("-n not carried over: %s", b.Namespace())
	}
	own, err := f.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if own.Host != "https://a.example:6443" {
		t.Errorf("the original factory moved to %s", own.Host)
	}
}

// One --context reaches its cluster even where the root's PersistentPreRun
// did not run (shell completion): the factory puts it into the flags itself.
func TestOneContextWithoutPreRun(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	for name, server := range map[string]string{"a": "https://a.example:6443", "b": "https://b.example:6443"} {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "t-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	cfg.CurrentContext = "a"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig, flags.Context = &path, nil
	f := NewFactory(flags, awsclient.NewOptions())
	f.Contexts = []string{"b"}
	rc, err := f.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://b.example:6443" {
		t.Errorf("--context b reaches %s", rc.Host)
	}
}
