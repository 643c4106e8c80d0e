// Package cmdutil holds what the commands under pkg/cmd share: the memoized
// Factory that builds a run's kube and AWS clients from the flags, Silent
// errors, argument checks and the confirmation prompt.
//
// Only pkg/cmd/... and main import it (TestDomainPackagesTakeNarrowInterfaces
// in pkg/cmd checks): domain packages take the clients they use, so they can
// be driven by fake clients and never load AWS configuration by accident.
package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Silent marks an error whose message the command already printed in full
// (a failed checklist, a summary); main then prints nothing more.
type Silent struct{ Err error }

func (s Silent) Error() string { return s.Err.Error() }
func (s Silent) Unwrap() error { return s.Err }

// Args checks a command's positional arguments: at least min, at most max
// (max < 0: no limit). When they are wrong it says what the command takes
// (want, e.g. "the name of one backup") and where to find one (hint).
func Args(min, max int, want, hint string) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		got := "none"
		if len(args) > 0 {
			got = fmt.Sprintf("%d (%s)", len(args), strings.Join(args, " "))
		}
		return fmt.Errorf("%s takes %s, got %s: %s", cmd.CommandPath(), want, got, hint)
	}
}
