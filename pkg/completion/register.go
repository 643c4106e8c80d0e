package completion

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Register sets the completion of each named flag of cmd. Cobra refuses only a
// flag that does not exist or one registered twice: a mistake in the command's
// own code, so it panics while the tree is built, which every test that builds
// the root command (the help and bad-input tests among them) catches.
func Register(cmd *cobra.Command, fns map[string]cobra.CompletionFunc) {
	for name, fn := range fns {
		if err := cmd.RegisterFlagCompletionFunc(name, fn); err != nil {
			panic(fmt.Sprintf("completion for --%s of %q: %v", name, cmd.CommandPath(), err))
		}
	}
}
