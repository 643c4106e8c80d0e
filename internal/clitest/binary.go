package clitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the plugin once per test process and returns its path, for
// tests that must run it as a process of its own (to kill it, or to have
// kubectl find it on PATH). It lives in the repository's git-ignored
// bin/test, so no temporary directory outlives the tests; each process builds
// to a file of its own and renames it into place, so test packages running at
// once never see a half-written binary.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := rig.RepoRoot()
		if err != nil {
			binErr = err
			return
		}
		dir := filepath.Join(root, "bin", "test")
		if binErr = os.MkdirAll(dir, 0o755); binErr != nil {
			return
		}
		binPath = filepath.Join(dir, "kubectl-oadp_sts")
		tmp := fmt.Sprintf("%s.%d", binPath, os.Getpid())
		out, err := exec.Command("go", "build", "-o", tmp, "github.com/oadp-sts/kubectl-oadp_sts/cmd/kubectl-oadp_sts").CombinedOutput()
		if err != nil {
			os.Remove(tmp)
			binErr = fmt.Errorf("%w\n%s", err, out)
			return
		}
		binErr = os.Rename(tmp, binPath)
	})
	if binErr != nil {
		t.Fatalf("build the plugin: %v", binErr)
	}
	return binPath
}
