// Package version implements `kubectl oadp-sts version`.
package version

import (
	"cmp"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/version"
)

// NewCmd returns the version command. It touches neither the cluster nor AWS,
// so it starts as fast as the binary loads.
func NewCmd(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := printer.ValidateFormat(output); err != nil {
				return err
			}
			info := version.Get()
			if output != "" {
				return printer.Print(streams.Out, output, info)
			}
			_, err := fmt.Fprintf(streams.Out, "kubectl-oadp_sts %s (commit %s, %s)\n", info.Version, cmp.Or(info.Commit, "unknown"), info.GoVersion)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	return cmd
}
