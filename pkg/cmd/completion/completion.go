// Package completion implements `kubectl oadp-sts completion SHELL`.
package completion

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"
)

// NewCmd returns the completion command. It replaces cobra's default one, whose
// help names the binary (kubectl-oadp_sts) and says nothing about the way users
// actually type the plugin: through kubectl, which completes plugins itself.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion SHELL",
		Short: "Print the shell completion script for bash, zsh, fish or powershell",
		Long: templates.LongDesc(`
			Print the shell completion script for bash, zsh, fish or powershell.

			Tab after 'kubectl oadp-sts' and 'oc oadp-sts' completes through kubectl's
			own completion (kubectl 1.26 or later) once the helper kubectl_complete-oadp_sts,
			shipped in the release archive beside the plugin, is on PATH; nothing needs
			to be sourced for that. The scripts printed here complete the plugin when it is
			run directly as kubectl-oadp_sts.`),
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     cobra.NoFileCompletions,
	}
	for _, sh := range shells {
		cmd.AddCommand(newShellCmd(sh, streams))
	}
	return cmd
}

type shell struct {
	name, load, persist string
	gen                 func(root *cobra.Command, w io.Writer, desc bool) error
}

var shells = []shell{
	{
		name:    "bash",
		load:    "source <(kubectl oadp-sts completion bash)",
		persist: "kubectl oadp-sts completion bash > ~/.local/share/bash-completion/completions/kubectl-oadp_sts",
		gen:     func(r *cobra.Command, w io.Writer, d bool) error { return r.GenBashCompletionV2(w, d) },
	},
	{
		name:    "zsh",
		load:    "source <(kubectl oadp-sts completion zsh)",
		persist: `kubectl oadp-sts completion zsh > "${fpath[1]}/_kubectl-oadp_sts"`,
		gen: func(r *cobra.Command, w io.Writer, d bool) error {
			if d {
				return r.GenZshCompletion(w)
			}
			return r.GenZshCompletionNoDesc(w)
		},
	},
	{
		name:    "fish",
		load:    "kubectl oadp-sts completion fish | source",
		persist: "kubectl oadp-sts completion fish > ~/.config/fish/completions/kubectl-oadp_sts.fish",
		gen:     func(r *cobra.Command, w io.Writer, d bool) error { return r.GenFishCompletion(w, d) },
	},
	{
		name:    "powershell",
		load:    "kubectl oadp-sts completion powershell | Out-String | Invoke-Expression",
		persist: "add the line above to your PowerShell profile ($PROFILE)",
		gen: func(r *cobra.Command, w io.Writer, d bool) error {
			if d {
				return r.GenPowerShellCompletionWithDesc(w)
			}
			return r.GenPowerShellCompletion(w)
		},
	},
}

func newShellCmd(sh shell, streams genericiooptions.IOStreams) *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   sh.name,
		Short: fmt.Sprintf("Print the %s completion script", sh.name),
		Long: fmt.Sprintf(`Print the %[1]s completion script for kubectl-oadp_sts.

To load completions in the current shell session:

	%[2]s

To load them in every new session:

	%[3]s`, sh.name, sh.load, sh.persist),
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sh.gen(cmd.Root(), streams.Out, !noDesc)
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "leave out the descriptions of the completions")
	return cmd
}
