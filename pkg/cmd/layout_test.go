package cmd_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/oadp-sts/kubectl-oadp_sts"

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// goListAtLeast runs `go list -json` over patterns, from the module root.
// It fails when fewer than min packages match, so a
// pattern that stops matching the tree cannot pass the check vacuously.
func goListAtLeast(t *testing.T, min int, patterns ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	for dec := json.NewDecoder(strings.NewReader(string(out))); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < min {
		t.Fatalf("go list found only %d packages: the patterns no longer match the tree", len(pkgs))
	}
	return pkgs
}

// TestDomainPackagesTakeNarrowInterfaces holds the layering CONTRIBUTING
// describes: the concrete Factory (pkg/cmdutil) is built and used by the
// commands only; domain packages take the clients they use. And a wait must
// not drag in AWS configuration: pkg/wait and pkg/exitcode depend on no AWS
// package at all, not even through another package.
func TestDomainPackagesTakeNarrowInterfaces(t *testing.T) {
	const cmdutil = module + "/pkg/cmdutil"
	var offenders []string
	for _, p := range goListAtLeast(t, 20, "./pkg/...", "./internal/...") {
		inCmd := strings.HasPrefix(p.ImportPath, module+"/pkg/cmd/") || p.ImportPath == module+"/pkg/cmd" || p.ImportPath == cmdutil
		// clitest runs the command tree, so it is on the commands' side.
		if inCmd || p.ImportPath == module+"/internal/clitest" {
			continue
		}
		if slices.Contains(p.Imports, cmdutil) {
			offenders = append(offenders, p.ImportPath)
		}
	}
	if len(offenders) > 0 {
		t.Errorf("these packages import pkg/cmdutil (the concrete Factory); give them the clients they use instead:\n  %s", strings.Join(offenders, "\n  "))
	}

	for _, p := range goListAtLeast(t, 2, "./pkg/wait", "./pkg/exitcode") {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/aws/") || d == module+"/pkg/awsclient" || d == cmdutil {
				t.Errorf("%s depends on %s: a wait must not depend on AWS configuration or the Factory", p.ImportPath, d)
			}
		}
	}
}
