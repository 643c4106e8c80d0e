// Package cmdutil holds what every command shares: exit codes that mean
// something, and the memoized clients of a run.
package cmdutil

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes. Scripts branch on these, so they are part of the interface and are
// listed in each command's --help.
const (
	ExitOK = 0
	// ExitError is any failure not listed below: bad input, an API error.
	ExitError = 1
	// ExitNotReady: `status` found the cluster not ready for the plugin.
	ExitNotReady = 2
	// ExitPartiallyFailed: a backup or restore ended PartiallyFailed.
	ExitPartiallyFailed = 3
	// ExitFailed: a backup or restore ended Failed or FailedValidation.
	ExitFailed = 4
	// ExitTimeout: a wait ran out of time; the operation may still finish.
	ExitTimeout = 5
)

// ExitCodeError carries the process exit code with the error that caused it.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// WithExitCode wraps err so that main exits with code.
func WithExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitCodeError{Code: code, Err: err}
}

// Exitf is WithExitCode with a formatted message.
func Exitf(code int, format string, a ...any) error {
	return WithExitCode(code, fmt.Errorf(format, a...))
}

// ExitCode returns the exit code err asks for: 0 for nil, 1 unless it says otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *ExitCodeError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitError
}

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
