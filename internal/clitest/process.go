package clitest

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Process is how one run of the plugin as a separate process ended.
type Process struct {
	Lines  []string // stderr, line by line
	Code   int
	Killed bool
}

// RunProcess runs bin with args and the test's environment. onStart, when
// set, gets the started command (to kill it from outside); killAt, when it
// returns true for a stderr line, SIGKILLs the process right after that line:
// how interruption tests stop the plugin between two of its steps.
func RunProcess(t testing.TB, bin string, killAt func(line string) bool, onStart func(*exec.Cmd), args ...string) Process {
	t.Helper()
	c := exec.Command(bin, args...)
	c.Env = os.Environ()
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdout = io.Discard
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if onStart != nil {
		onStart(c)
	}
	var out Process
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		out.Lines = append(out.Lines, sc.Text())
		if killAt != nil && killAt(sc.Text()) {
			if err := c.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			out.Killed = true
		}
	}
	err = c.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		out.Code = ee.ExitCode()
		out.Killed = out.Killed || strings.Contains(ee.ProcessState.String(), "killed")
	case err != nil:
		t.Fatal(err)
	}
	return out
}
