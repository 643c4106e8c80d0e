package cmd_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd"
)

// Distinctive credentials: moto takes any, so a leak of these is a leak of
// whatever a user's real ones would be.
const (
	canarySecretKey    = "canarySecretKeyQ7x2VbN9mLp4RtY8wZ3kJ6hF"
	canarySessionToken = "canarySessionTokenIQoJb3JpZ2luX2VjEPr9aKzLeakMe"
)

// secretRun is one run of the built binary and what it printed and wrote.
type secretRun struct {
	args           []string
	stdout, stderr string
	code           int
}

// Every command, as a process of its own (klog writes to the real stderr),
// at -v=10, with -o yaml and -o json where it prints objects and with
// --output-dir where it writes files: no AWS secret key, session token,
// service-account token or kubeconfig bearer token in any output or file.
// setup runs first (so status, get and cleanup have something to read),
// status also with --assume-role (a TokenRequest, then STS), cleanup last.
//
//nolint:funlen // the commands run in order on one rig, each on what setup left, and every output checked the same way
func TestNoSecretInAnyOutput(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", canarySecretKey)
	t.Setenv("AWS_SESSION_TOKEN", canarySessionToken)
	bin := clitest.Binary(t)
	work := t.TempDir()
	t.Chdir(work)

	var runs []secretRun
	run := func(args ...string) secretRun {
		t.Helper()
		start := time.Now()
		defer func() { t.Logf("%v: %s", args, time.Since(start).Round(time.Millisecond)) }()
		c := exec.Command(bin, append(args, "-v=10")...)
		c.Env = os.Environ()
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		res := secretRun{args: args, stdout: out.String(), stderr: errOut.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			res.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, res)
		return res
	}

	if res := run("setup", "--yes", "--wait=false", "--timeout=60s"); res.code != 0 {
		t.Fatalf("setup exit %d:\n%s", res.code, tail(res.stderr))
	}
	run("setup", "--dry-run=client", "-o", "yaml")
	run("setup", "--dry-run=client", "-o", "json")
	outDir := filepath.Join(work, "plan")
	if res := run("setup", "--output-dir", outDir); res.code != 0 {
		t.Fatalf("setup --output-dir exit %d:\n%s", res.code, tail(res.stderr))
	}
	// The GitOps files carry the cluster objects, the credentials profile too.
	for _, format := range []string{"kustomize", "acm"} {
		if res := run("setup", "--dry-run=client", "--output-dir", outDir, "--format", format); res.code != 0 {
			t.Fatalf("setup --format %s exit %d:\n%s", format, res.code, tail(res.stderr))
		}
		if _, err := os.Stat(filepath.Join(outDir, map[string]string{"kustomize": "base", "acm": "acm"}[format], "kustomization.yaml")); err != nil {
			t.Errorf("setup --format %s wrote no kustomization: %v", format, err)
		}
	}
	// The TokenRequest here is the one service-account token the plugin
	// handles (its JWT starts with the base64 of `{"alg":`), and STS's
	// answer to it the one set of AWS credentials it is handed.
	// The operator makes the velero service account; with no operator
	// here, the test makes it so the TokenRequest is answered with a token.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "velero", Namespace: "openshift-adp"}}
	if _, err := r.Kube.CoreV1().ServiceAccounts("openshift-adp").Create(context.Background(), sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	res := run("status", "--assume-role", "-o", "json")
	if !strings.Contains(res.stdout, "{") || !regexp.MustCompile(`POST.*/serviceaccounts/velero/token" status="201`).MatchString(res.stderr) {
		t.Fatalf("status --assume-role made no TokenRequest that -v=10 logged (exit %d):\n%s", res.code, tail(res.stderr))
	}
	for _, c := range everyCommand(t) {
		if c.path[0] == "setup" || c.path[0] == "cleanup" {
			continue
		}
		args := slices.Concat(c.path, c.name)
		for _, timeout := range []string{"timeout", "cleanup-timeout", "sync-timeout"} {
			if c.cmd.Flags().Lookup(timeout) != nil {
				args = append(args, "--"+timeout+"=2s")
			}
		}
		if c.cmd.Flags().Lookup("yes") != nil {
			args = append(args, "--yes")
		}
		args = append(args, baseArgs[c.cmd.CommandPath()]...)
		run(args...)
		if c.cmd.Flags().Lookup("output") != nil {
			run(append(slices.Clone(args), "-o", "yaml")...)
			run(append(slices.Clone(args), "-o", "json")...)
		}
	}
	// The CRDs are the rig's fixture, shared with the package's other tests.
	if res := run("cleanup", "--yes", "--keep-crds", "--timeout=60s"); res.code != 0 {
		t.Errorf("cleanup exit %d:\n%s", res.code, tail(res.stderr))
	}

	secrets := map[string]string{
		"the AWS secret key":                canarySecretKey,
		"the AWS session token":             canarySessionToken,
		"the kubeconfig's bearer token":     rig.AdminToken,
		"a service-account token (a JWT)":   "eyJhbGciOi",
		"STS's credentials (an XML answer)": "<SecretAccessKey>",
	}
	var sawMasked bool
	for _, res := range runs {
		for what, s := range secrets {
			for stream, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr + undumped(res.stderr)} {
				if i := strings.Index(text, s); i >= 0 {
					t.Errorf("%v: %s is in %s: ...%s...", res.args, what, stream, around(text, i))
				}
			}
		}
		sawMasked = sawMasked || strings.Contains(res.stderr, "Authorization: Bearer <masked>")
	}
	// -v=10 reached client-go's request logging, or the test proves nothing.
	if !sawMasked {
		t.Errorf("no run logged an API request at -v=10 (\"Authorization: Bearer <masked>\"): the test did not reach client-go's logging")
	}

	var files int
	err := filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s: holds %s", p, what)
			}
		}
		// The IAM plan (policies, trust, CLI input) names the account and
		// the issuer, which are not secrets; no file may be writable by others.
		if info, err := d.Info(); err == nil && info.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: mode %v, writable by others", p, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("setup --output-dir wrote no file into %s", outDir)
	}
	t.Logf("%d runs, %d files checked", len(runs), files)
}

// aCommand is one runnable command of the tree, with a name argument when
// it needs one.
type aCommand struct {
	cmd  *cobra.Command
	path []string
	name []string
}

func everyCommand(t *testing.T) []aCommand {
	root := cmd.NewRootCmd(genericiooptions.NewTestIOStreamsDiscard())
	var out []aCommand
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden {
			return
		}
		var path []string
		for p := c; p.HasParent(); p = p.Parent() {
			path = append([]string{p.Name()}, path...)
		}
		ac := aCommand{cmd: c, path: path}
		if c.Args != nil && c.Args(c, nil) != nil {
			ac.name = []string{"hello-world"}
		}
		out = append(out, ac)
	}
	walk(root)
	if len(out) < 20 {
		t.Fatalf("found %d commands: not the whole tree", len(out))
	}
	return out
}

// undumped is the bytes of every hex dump in s (client-go logs a protobuf
// body as one), where a token's characters are split across lines.
func undumped(s string) string {
	var b strings.Builder
	for _, m := range hexLine.FindAllStringSubmatch(s, -1) {
		if raw, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", "")); err == nil {
			b.Write(raw)
		}
	}
	return b.String()
}

var hexLine = regexp.MustCompile(`(?m)^\s*[0-9a-f]{8}  ((?:[0-9a-f]{2} {1,2}){1,16}) *\|`)

func around(s string, i int) string {
	return s[max(0, i-80):min(len(s), i+80)]
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
