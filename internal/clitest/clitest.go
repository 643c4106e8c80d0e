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
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
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
	return run(ctx, t, stdin, nil, args)
}

// RunReacting executes the command under ctx and calls react with each line
// of stderr as it is written: how a test plays the server's part at the
// moment the plugin reaches a step, rather than after a guessed delay.
func RunReacting(ctx context.Context, t testing.TB, react func(line string), args ...string) Result {
	t.Helper()
	return run(ctx, t, "", react, args)
}

// RunReactingStdout is RunReacting on stdout's lines: how a test follows a
// command that prints as it goes, such as 'get -w'.
func RunReactingStdout(ctx context.Context, t testing.TB, react func(line string), args ...string) Result {
	t.Helper()
	return runStreams(ctx, t, "", nil, react, args)
}

func run(ctx context.Context, t testing.TB, stdin string, react func(string), args []string) Result {
	t.Helper()
	return runStreams(ctx, t, stdin, react, nil, args)
}

func runStreams(ctx context.Context, t testing.TB, stdin string, react, reactOut func(string), args []string) Result {
	t.Helper()
	in := strings.NewReader(stdin)
	out := &lines{react: reactOut}
	errOut := &lines{react: react}
	root := cmd.NewRootCmd(genericiooptions.IOStreams{In: in, Out: out, ErrOut: errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.As(err, new(cmdutil.Silent)) {
		fmt.Fprintln(errOut, "error:", err)
	}
	res := Result{Stdout: out.String(), Stderr: errOut.String(), Code: exitcode.Code(err), Err: err}
	t.Logf("$ kubectl oadp-sts %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	return res
}

// lines keeps what is written and hands each completed line to react.
type lines struct {
	bytes.Buffer
	react   func(string)
	partial []byte
}

func (l *lines) Write(p []byte) (int, error) {
	n, err := l.Buffer.Write(p)
	if l.react == nil {
		return n, err
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return n, err
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.react(line)
	}
}
