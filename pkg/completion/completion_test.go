package completion_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{NoMoto: true}) }

func TestOADPVersions(t *testing.T) {
	got, dir := completion.OADPVersions(nil, nil, "")
	if !slices.Equal(got, manifests.SupportedOADPVersions) || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("OADPVersions = %v, %v; want %v without file completion", got, dir, manifests.SupportedOADPVersions)
	}
	if got, _ := completion.OADPVersions(nil, nil, "1.4"); !slices.Equal(got, []string{"1.4"}) {
		t.Errorf("OADPVersions(1.4) = %v", got)
	}
}

// The standard flags complete through the root command, the way the shell asks.
func TestGlobalFlags(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)

	cfg, err := clientcmd.LoadFromFile(r.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var contexts []string
	for n := range cfg.Contexts {
		contexts = append(contexts, n)
	}
	slices.Sort(contexts)
	if got := words(clitest.Run(t, "__complete", "status", "--context", "")); !slices.Equal(got, contexts) {
		t.Errorf("--context offered %v, want the kubeconfig's contexts %v", got, contexts)
	}

	got := words(clitest.Run(t, "__complete", "status", "-n", "kube-"))
	for _, want := range []string{"kube-system", "kube-public"} {
		if !slices.Contains(got, want) {
			t.Errorf("-n kube-<TAB> offered %v, missing %s", got, want)
		}
	}
	if slices.Contains(got, "default") {
		t.Errorf("-n kube-<TAB> offered %v, including a name without the prefix", got)
	}
}

func TestObjectNames(t *testing.T) {
	r := rig.Get(t)
	create(t, r, namespace("openshift-adp"), namespace("elsewhere"))
	create(t, r,
		velero("Backup", "openshift-adp", "daily-1", "Completed"),
		velero("Backup", "openshift-adp", "daily-2", "InProgress"),
		velero("Backup", "openshift-adp", "weekly-1", ""),
		velero("Backup", "elsewhere", "other-ns", "Completed"),
		velero("Restore", "openshift-adp", "daily-1-restore", "Completed"),
		velero("BackupStorageLocation", "openshift-adp", "default", "Available"),
	)
	f := factory(t, r.Kubeconfig, "")

	got, dir := completion.BackupNames(f)(nil, nil, "")
	want := []string{"daily-1\tCompleted", "daily-2\tInProgress", "weekly-1"}
	if !slices.Equal(got, want) || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("BackupNames = %q, %v; want %q (the OADP namespace's, with their phase)", got, dir, want)
	}
	// A command taking several backups is not offered the ones already given.
	if got, _ := completion.BackupNames(f)(nil, []string{"daily-1"}, "dai"); !slices.Equal(got, []string{"daily-2\tInProgress"}) {
		t.Errorf("BackupNames(args daily-1, dai) = %q", got)
	}
	if got, _ := completion.RestoreNames(f)(nil, nil, ""); !slices.Equal(got, []string{"daily-1-restore\tCompleted"}) {
		t.Errorf("RestoreNames = %q", got)
	}
	if got, _ := completion.StorageLocations(f)(nil, nil, ""); !slices.Equal(got, []string{"default\tAvailable"}) {
		t.Errorf("StorageLocations = %q", got)
	}
	// -n moves the OADP namespace, for completion as for the command.
	if got, _ := completion.BackupNames(factory(t, r.Kubeconfig, "elsewhere"))(nil, nil, ""); !slices.Equal(got, []string{"other-ns\tCompleted"}) {
		t.Errorf("BackupNames with -n elsewhere = %q", got)
	}
}

// An unreachable cluster yields nothing, quickly, and never an error on the prompt.
func TestUnreachableCluster(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	// 192.0.2.0/24 is TEST-NET-1: never routed, so connecting hangs rather
	// than being refused, the slow case the timeout is for.
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://192.0.2.1:6443"}}]
users: [{name: me, user: {token: x}}]
contexts: [{name: gone, context: {cluster: gone, user: me}}]
current-context: gone
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f := factory(t, kc, "")
	start := time.Now()
	for name, fn := range map[string]cobra.CompletionFunc{
		"backups":    completion.BackupNames(f),
		"namespaces": completion.Namespaces(f),
	} {
		got, dir := fn(nil, nil, "")
		if len(got) != 0 || dir != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("%s on an unreachable cluster = %q, %v; want nothing", name, got, dir)
		}
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("completion on an unreachable cluster took %s", d)
	}
	if got, _ := completion.Contexts(f)(nil, nil, ""); !slices.Equal(got, []string{"gone"}) {
		t.Errorf("Contexts = %q: the kubeconfig is readable without the cluster", got)
	}
}

func factory(t *testing.T, kubeconfig, ns string) *cmdutil.Factory {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &ns
	return cmdutil.NewFactory(flags, awsclient.NewOptions())
}

// words are the completions of a `__complete` run, without descriptions and
// the directive line.
func words(res clitest.Result) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}
		w, _, _ := strings.Cut(line, "\t")
		out = append(out, w)
	}
	return out
}

func namespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
}

func velero(kind, ns, name, phase string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns},
	}}
	if kind == "BackupStorageLocation" {
		o.Object["spec"] = map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": "b"}}
	}
	if phase != "" {
		o.Object["status"] = map[string]any{"phase": phase}
	}
	return o
}

// create applies objects (and their status) and deletes them when the test ends.
func create(t *testing.T, r *rig.Rig, objs ...*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if err := r.Apply(t.Context(), o); err != nil {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == "Namespace" {
			continue // deleting one would leave it terminating for the next test
		}
		res := map[string]schema.GroupVersionResource{"Backup": gvr.Backup, "Restore": gvr.Restore, "BackupStorageLocation": gvr.BSL}[o.GetKind()]
		name, ns := o.GetName(), o.GetNamespace()
		// Velero's CRDs have no status subresource in some versions and one in
		// others: the status either came with the object or goes in separately.
		if want, ok := o.Object["status"]; ok {
			got, err := r.Dynamic.Resource(res).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got.Object["status"]; !ok || got.Object["status"] == nil {
				if err := r.ApplyStatus(t.Context(), o); err != nil {
					t.Fatalf("status of %s %s: %v (want %v)", o.GetKind(), name, err, want)
				}
			}
		}
		t.Cleanup(func() {
			_ = r.Dynamic.Resource(res).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
	}
}
