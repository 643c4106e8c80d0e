package cmd_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/inputcheck"
)

// kube-controller-manager finishes the namespace deletions cleanup starts,
// so the tests that run cleanup leave the next a cluster setup can use.
func TestMain(m *testing.M) { rig.Main(m, rig.Options{ControllerManager: true}) }

// hostileValues are what the issue lists: each must be refused by every
// string flag and positional argument unless allowed below.
var hostileValues = []struct{ kind, value string }{
	{"empty", ""},
	{"10,000 characters", strings.Repeat("a", 10000)},
	{"a newline", "hello\nworld"},
	{"NUL", "hello\x00world"},
	{"not UTF-8", "hello\xff\xfeworld"},
	{"../", "../../etc/passwd"},
	{"shell metacharacters", "$(touch pwned); rm -rf ~ `id` | cat > x &"},
	{"a YAML document separator", "hello\n---\nkind: Secret"},
	{"an IAM name, not a DNS label", "oadp+role=a,b@c"},
	{"a DNS label over 63", strings.Repeat("a", 64)},
}

// accepted is the reasoned allow-list: a flag whose legitimate values include
// a hostile kind is not run with that kind (running it would do the command's
// real work, and the value is the user's to choose). Every entry says why.
// A flag not here is held to refusing every kind.
var accepted = map[string]struct {
	kinds  []string
	reason string
}{
	"role-name": {[]string{"an IAM name, not a DNS label", "a DNS label over 63"},
		"an IAM role name: '+=,@' are IAM's characters, and 64 is IAM's limit"},
	"policy-name": {[]string{"an IAM name, not a DNS label", "a DNS label over 63"},
		"an IAM policy name: '+=,@' are IAM's characters, and 128 is IAM's limit"},
	"kubeconfig":            pathFlag,
	"cache-dir":             pathFlag,
	"certificate-authority": pathFlag,
	"client-certificate":    pathFlag,
	"client-key":            pathFlag,
	"output-dir":            pathFlag,
	"role-path": {[]string{"../", "an IAM name, not a DNS label", "a DNS label over 63"},
		"IAM allows any printable ASCII in a path, and setup adds the slashes ('oadp' is /oadp/)"},
	"prefix": {[]string{"a DNS label over 63"},
		"an S3 prefix can be up to 1,024 characters"},
	"volume": {[]string{"a DNS label over 63"},
		"a StorageClass name is a DNS subdomain, which can be this long"},
	"token": {[]string{"10,000 characters", "../", "shell metacharacters", "an IAM name, not a DNS label", "a DNS label over 63"},
		"a bearer token is opaque and can be a long JWT: the API server judges it, and the plugin never prints it"},
	"template": {[]string{"../", "shell metacharacters", "an IAM name, not a DNS label", "a DNS label over 63"},
		"kubectl's --template: a go-template or jsonpath (or its file's path) is free text by design, rendered against the objects read and never run by a shell"},
	"as":           kubeconfigName,
	"as-uid":       kubeconfigName,
	"as-group":     kubeconfigName,
	"user":         kubeconfigName,
	"cluster":      kubeconfigName,
	"context":      kubeconfigName,
	"from-cluster": {kubeconfigName.kinds, "a kubeconfig context name, like --context: kubeconfig names are free text, and client-go refuses one the kubeconfig does not have"},
	"aws-profile": {[]string{"../", "shell metacharacters", "an IAM name, not a DNS label", "a DNS label over 63"},
		"a profile name is whatever the user's AWS config file calls it; the SDK refuses one the file does not have"},
	"as-user-extra": {[]string{"../", "shell metacharacters", "an IAM name, not a DNS label", "a DNS label over 63"},
		"impersonation extras are free text the API server passes to its authorizer"},
}

var (
	pathFlag = struct {
		kinds  []string
		reason string
	}{[]string{"../", "shell metacharacters", "an IAM name, not a DNS label", "a DNS label over 63"},
		"a path on the user's machine: any file name is theirs to choose"}
	kubeconfigName = struct {
		kinds  []string
		reason string
	}{[]string{"../", "shell metacharacters", "an IAM name, not a DNS label", "a DNS label over 63"},
		"a user, group or kubeconfig entry's name: kubeconfig and RBAC names are free text (system:serviceaccount:ns:sa, api-cluster:6443/kube:admin)"}
)

// baseArgs make a command's own requirements met, so the one hostile value
// is the only thing wrong with the line.
var baseArgs = map[string][]string{
	"kubectl oadp-sts schedule create": {"--schedule=0 1 * * *", "--include-namespaces=hello-world"},
}

type hostileCase struct {
	cmd      *cobra.Command
	args     []string
	flag     string // "--role-name", or the argument's name (BACKUP)
	short    string // "-o" for --output: an error may name the flag so
	kind     string
	accepted string
}

// hostileCases walks the whole command tree: every runnable command, every
// string flag it has (its own and the root's), every positional argument.
func hostileCases(t *testing.T) []hostileCase {
	root := cmd.NewRootCmd(genericiooptions.NewTestIOStreamsDiscard())
	var rotation []*cobra.Command
	globalIndex := map[string]int{}
	var out []hostileCase
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || c.Name() == "help" {
			return
		}
		var path []string
		for p := c; p.HasParent(); p = p.Parent() {
			path = append([]string{p.Name()}, path...)
		}
		base := baseArgs[c.CommandPath()]
		// A command that needs a name gets a valid one, or a hostile one.
		var name []string
		takesName := c.Args != nil && c.Args(c, []string{"hello-world"}) == nil
		if c.Args != nil && c.Args(c, nil) != nil {
			name = []string{"hello-world"}
			if !takesName {
				t.Fatalf("%s: takes neither no argument nor one name; teach hostileCases its arguments", c.CommandPath())
			}
		}
		flags := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
		flags.AddFlagSet(c.LocalFlags())
		flags.AddFlagSet(c.InheritedFlags())
		flags.VisitAll(func(f *pflag.Flag) {
			if !inputcheck.IsString(f) || f.Hidden {
				return
			}
			for i, h := range hostileValues {
				// The root's flags (kubeconfig, AWS) are checked by the same
				// code before every command: each value of each is tried on
				// one command in turn, so every command meets them without
				// the walk growing by commands x flags x values.
				if root.PersistentFlags().Lookup(f.Name) == f && c != rotation[(globalIndex[f.Name]+i)%len(rotation)] {
					continue
				}
				args := slices.Concat(path, name, withoutFlag(base, f.Name), []string{"--" + f.Name + "=" + h.value})
				hc := hostileCase{cmd: c, args: args, flag: "--" + f.Name, kind: h.kind}
				if f.Shorthand != "" {
					hc.short = "-" + f.Shorthand + " "
				}
				if a, ok := accepted[f.Name]; ok && slices.Contains(a.kinds, h.kind) {
					hc.accepted = a.reason
				}
				out = append(out, hc)
			}
		})
		if takesName {
			for _, h := range hostileValues {
				out = append(out, hostileCase{cmd: c, args: slices.Concat(path, base, []string{"--", h.value}), flag: inputcheck.ArgName(c), kind: h.kind})
			}
		}
	}
	root.InitDefaultHelpCmd()
	var collect func(c *cobra.Command)
	collect = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden && c.Name() != "help" {
			rotation = append(rotation, c)
		}
		for _, sub := range c.Commands() {
			collect(sub)
		}
	}
	collect(root)
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { globalIndex[f.Name] = len(globalIndex) * len(hostileValues) })
	walk(root)
	return out
}

func withoutFlag(args []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(args), func(a string) bool { return strings.HasPrefix(a, "--"+name+"=") })
}

// Every string flag and positional argument of every command, driven with
// each hostile value on the real API server and moto: exit 1, one line that
// names the flag, not one request to the API server (audit log) or AWS
// (moto's recorder), no file written.
func TestHostileInput(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	// ../../ from here stays inside the temporary directory, which must stay empty.
	top := t.TempDir()
	cwd := filepath.Join(top, "a", "b", "c")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	ctx := context.Background()
	stopAWS, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}

	cases := hostileCases(t)
	var ran, allowed int
	commands := map[string]bool{}
	for _, hc := range cases {
		commands[hc.cmd.CommandPath()] = true
		if hc.accepted != "" {
			allowed++
			t.Logf("allowed: %s %s: %s", hc.flag, hc.kind, hc.accepted)
			continue
		}
		ran++
		stopKube := r.RecordKube("kubectl-oadp_sts")
		res := clitest.Run(t, hc.args...)
		what := hc.cmd.CommandPath() + " " + hc.flag + " given " + hc.kind
		if res.Code != 1 {
			t.Errorf("%s: exit %d, want 1", what, res.Code)
		}
		stderr := strings.TrimSpace(res.Stderr)
		named := strings.Contains(stderr, hc.flag) || hc.short != "" && strings.Contains(stderr, hc.short)
		if strings.Contains(stderr, "\n") || !strings.HasPrefix(stderr, "error: ") || !named {
			t.Errorf("%s: want one error line naming %s, got:\n%s", what, hc.flag, clip(stderr))
		}
		if len(stderr) > 500 {
			t.Errorf("%s: the error is %d characters long: quote a long value cut short", what, len(stderr))
		}
		if res.Stdout != "" {
			t.Errorf("%s: printed to stdout: %s", what, clip(res.Stdout))
		}
		reqs, err := stopKube()
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) > 0 {
			t.Errorf("%s: %d requests reached the API server, the first %+v", what, len(reqs), reqs[0])
		}
		var files []string
		_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) > 0 {
			t.Errorf("%s: wrote %v", what, files)
			for _, f := range files {
				os.Remove(f)
			}
		}
	}
	aws, err := stopAWS()
	if err != nil {
		t.Fatal(err)
	}
	if len(aws) > 0 {
		t.Errorf("%d requests reached AWS, the first %+v", len(aws), aws[0])
	}
	t.Logf("%d commands, %d hostile runs, %d allowed by reason", len(commands), ran, allowed)
	if len(commands) < 20 || ran < 500 {
		t.Errorf("the walk found %d commands and %d runs: it is not walking the whole tree", len(commands), ran)
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
