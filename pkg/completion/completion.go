// Package completion completes the plugin's flag values and arguments in the
// shell: kubeconfig contexts, namespaces, backups, restores, schedules, storage locations
// and OADP versions. The functions read the same kubeconfig and flags the
// command itself would (through a Source, which the command's Factory is), so `--context other -n ns` on the
// line being completed is honoured.
//
// They take a Source, not the command's Factory, and build nothing
// themselves: a Source's clients are built only when a TAB asks for them.
//
// They never report errors: a cluster that cannot be reached or a missing
// permission yields no suggestions, because anything printed would land in the
// middle of the user's prompt.
package completion

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// timeout bounds one completion's API request: the user is waiting at a TAB,
// and an unreachable cluster should cost seconds, not client-go's default.
const timeout = 5 * time.Second

// Source is what completions read: the clients of the command line being
// completed, built on first use. The command's Factory is one.
type Source interface {
	// Namespace is the OADP namespace of the command line.
	Namespace() string
	Dynamic() (dynamic.Interface, error)
	Kube() (kubernetes.Interface, error)
	// RawKubeConfig is the kubeconfig the command line names, unresolved.
	RawKubeConfig() (clientcmdapi.Config, error)
}

// RegisterGlobalFlags completes the standard kubectl flags of the root command:
// --context, --cluster and --user from the kubeconfig, -n/--namespace from the
// cluster. Flags the root does not have are left alone.
func RegisterGlobalFlags(root *cobra.Command, f Source) {
	for name, fn := range map[string]cobra.CompletionFunc{
		"context":   Contexts(f),
		"cluster":   Clusters(f),
		"user":      Users(f),
		"namespace": Namespaces(f),
	} {
		if root.PersistentFlags().Lookup(name) != nil {
			Register(root, map[string]cobra.CompletionFunc{name: fn})
		}
	}
}

// Contexts completes the kubeconfig's context names.
func Contexts(f Source) cobra.CompletionFunc {
	return fromKubeconfig(f, func(c clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Contexts)) })
}

// Clusters completes the kubeconfig's cluster names.
func Clusters(f Source) cobra.CompletionFunc {
	return fromKubeconfig(f, func(c clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Clusters)) })
}

// Users completes the kubeconfig's user names.
func Users(f Source) cobra.CompletionFunc {
	return fromKubeconfig(f, func(c clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.AuthInfos)) })
}

func fromKubeconfig(f Source, names func(clientcmdapi.Config) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := f.RawKubeConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return match(names(cfg), toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// Namespaces completes the cluster's namespaces.
func Namespaces(f Source) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		kube, err := f.Kube()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(ctxOf(cmd), timeout)
		defer cancel()
		list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(list.Items))
		for _, ns := range list.Items {
			names = append(names, ns.Name)
		}
		return match(names, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// BackupNames completes the Velero backups in the OADP namespace, each
// described by its phase. Names already on the command line are not offered
// again, so commands taking several backups complete each one.
func BackupNames(f Source) cobra.CompletionFunc {
	return objectNames(f, gvr.Backup)
}

// RestoreNames completes the Velero restores in the OADP namespace.
func RestoreNames(f Source) cobra.CompletionFunc {
	return objectNames(f, gvr.Restore)
}

// ScheduleNames completes the Velero schedules in the OADP namespace.
func ScheduleNames(f Source) cobra.CompletionFunc {
	return objectNames(f, gvr.Schedule)
}

// StorageLocations completes the BackupStorageLocations in the OADP namespace.
func StorageLocations(f Source) cobra.CompletionFunc {
	return objectNames(f, gvr.BSL)
}

// OADPVersions completes the OADP operator versions the plugin knows.
func OADPVersions(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return match(manifests.SupportedOADPVersions, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
}

func objectNames(f Source, res schema.GroupVersionResource) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		dyn, err := f.Dynamic()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(ctxOf(cmd), timeout)
		defer cancel()
		list, err := dyn.Resource(res).Namespace(f.Namespace()).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(list.Items))
		phases := map[string]string{}
		for _, o := range list.Items {
			names = append(names, o.GetName())
			if p, _, _ := unstructured.NestedString(o.Object, "status", "phase"); p != "" {
				phases[o.GetName()] = p
			}
		}
		return match(names, toComplete, args, phases), cobra.ShellCompDirectiveNoFileComp
	}
}

// match returns the sorted names starting with prefix, leaving out those in
// skip, with the description from desc (when given) after a TAB, as cobra expects.
func match(names []string, prefix string, skip []string, desc ...map[string]string) []cobra.Completion {
	slices.Sort(names)
	out := []cobra.Completion{}
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) || slices.Contains(skip, n) {
			continue
		}
		if len(desc) > 0 && desc[0][n] != "" {
			out = append(out, cobra.CompletionWithDesc(n, desc[0][n]))
			continue
		}
		out = append(out, n)
	}
	return out
}

func ctxOf(cmd *cobra.Command) context.Context {
	if cmd != nil && cmd.Context() != nil {
		return cmd.Context()
	}
	return context.Background()
}
