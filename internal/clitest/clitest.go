// Package clitest runs the plugin's command tree in-process, the way main does,
// and captures what a user would see.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
)

// Result is one run's output and exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
	Err            error
}

// Run executes `kubectl oadp-sts <args>` with empty stdin.
func Run(t testing.TB, args ...string) Result {
	t.Helper()
	return RunWithInput(t, "", args...)
}

// RunWithInput executes the command with stdin.
func RunWithInput(t testing.TB, stdin string, args ...string) Result {
	t.Helper()
	return RunContext(context.Background(), t, stdin, args...)
}

// RunContext executes the command under ctx.
func RunContext(ctx context.Context, t testing.TB, stdin string, args ...string) Result {
	t.Helper()
	in := strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	root := cmd.NewRootCmd(genericiooptions.IOStreams{In: in, Out: &out, ErrOut: &errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.As(err, new(cmdutil.Silent)) {
		fmt.Fprintln(&errOut, "error:", err)
	}
	res := Result{Stdout: out.String(), Stderr: errOut.String(), Code: cmdutil.ExitCode(err), Err: err}
	t.Logf("$ kubectl oadp-sts %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	return res
}
