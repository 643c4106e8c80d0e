package cmdutil

import (
	"fmt"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DryRun is kubectl's --dry-run, with the same meaning on every command
// that changes something: none does it; client builds and prints what would
// be made and sends nothing that changes anything; server sends every
// Kubernetes write with dryRun=All and prints the API server's answer
// (AWS has no dry run: AWS steps are only reported as planned).
type DryRun string

// The --dry-run values.
const (
	DryRunNone   DryRun = "none"
	DryRunClient DryRun = "client"
	DryRunServer DryRun = "server"
)

// AddDryRunFlag adds --dry-run to cmd, none by default and client when
// given bare, as kubectl does.
func AddDryRunFlag(cmd *cobra.Command, p *DryRun, usage string) {
	*p = DryRunNone
	cmd.Flags().StringVar((*string)(p), "dry-run", string(DryRunNone), usage)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = string(DryRunClient)
	completion.Register(cmd, map[string]cobra.CompletionFunc{"dry-run": cobra.FixedCompletions([]string{string(DryRunNone), string(DryRunClient), string(DryRunServer)}, cobra.ShellCompDirectiveNoFileComp)})
}

// Validate refuses any other value.
func (d DryRun) Validate() error {
	switch d {
	case DryRunNone, DryRunClient, DryRunServer:
		return nil
	}
	return fmt.Errorf("--dry-run must be none, client or server, not %q", string(d))
}

// Any reports whether nothing may be changed.
func (d DryRun) Any() bool { return d == DryRunClient || d == DryRunServer }

// Options is what goes into a write's DryRun field: [All] for server.
func (d DryRun) Options() []string {
	if d == DryRunServer {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// Suffix is what kubectl appends to "created": " (dry run)" or " (server dry run)".
func (d DryRun) Suffix() string {
	switch d {
	case DryRunClient:
		return " (dry run)"
	case DryRunServer:
		return " (server dry run)"
	}
	return ""
}
