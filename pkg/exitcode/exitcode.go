// Package exitcode owns the plugin's process exit codes: the numbers scripts
// branch on, and carrying one with an error from where it is known (a wait's
// timeout, a failed backup) up to main.
//
// It must stay a leaf: no clients, no configuration, no imports of the
// plugin's other packages, so any package can give an error its code without
// depending on how the command built its clients.
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes. They are part of the interface: README's table and each
// command's --help list them.
const (
	OK = 0
	// Error is any failure not listed below: bad input, an API error.
	Error = 1
	// NotReady: `status` found the cluster not ready for the plugin.
	NotReady = 2
	// PartiallyFailed: a backup or restore ended PartiallyFailed.
	PartiallyFailed = 3
	// Failed: a backup or restore ended Failed or FailedValidation.
	Failed = 4
	// Timeout: a wait ran out of time; the operation may still finish.
	Timeout = 5
)

// CodedError carries the process exit code with the error that caused it.
type CodedError struct {
	Code int
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// WithCode gives err the exit code code. An error that already carries that
// code is returned as it is, so a caller may pass on what a wait returned
// without wrapping it a second time.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var e *CodedError
	if errors.As(err, &e) && e.Code == code {
		return err
	}
	return &CodedError{Code: code, Err: err}
}

// Errorf is WithCode with a formatted message.
func Errorf(code int, format string, a ...any) error {
	return WithCode(code, fmt.Errorf(format, a...))
}

// Code returns the exit code err asks for: OK for nil, Error unless it (or
// an error it wraps) says otherwise. The outermost code wins.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *CodedError
	if errors.As(err, &e) {
		return e.Code
	}
	return Error
}
