package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// Binary builds the plugin once per test process and returns its path, for
// tests that must run it as a process of its own (to kill it, for one).
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "oadp-sts-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kubectl-oadp_sts")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/oadp-sts/kubectl-oadp_sts/cmd/kubectl-oadp_sts").CombinedOutput()
		if err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("build the plugin: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
