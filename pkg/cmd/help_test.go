package cmd_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd"
)

// Every command's --help, as a user sees it, is free of the defects kubectl's
// markdown renderer (templates.LongDesc) and pflag's defaults produce when a
// help text is written as if it were printed verbatim.
func TestHelpHasNoRenderingDefects(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(cmd.NewRootCmd(genericiooptions.NewTestIOStreamsDiscard()), nil)
	// The tree is what the README lists: a walk that found only the root
	// would check nothing.
	if len(paths) < 15 {
		t.Fatalf("walked only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		res := clitest.Run(t, append(path, "--help")...)
		name := strings.TrimSpace("kubectl oadp-sts " + strings.Join(path, " "))
		if res.Code != 0 || !strings.Contains(res.Stdout, "Usage:") {
			t.Errorf("%s --help: exit %d, no usage:\n%s%s", name, res.Code, res.Stdout, res.Stderr)
			continue
		}
		for _, d := range helpDefects(res.Stdout) {
			t.Errorf("%s --help: %s", name, d)
		}
	}
}

// The checker itself catches each defect it names, on the text the renderer
// really produced (the first row is setup --help before it was fixed), and
// passes help that is written well.
func TestHelpDefectsChecker(t *testing.T) {
	for _, tc := range []struct {
		name, help string
		want       string // a substring of a defect expected, "" for none
	}{
		{"placeholder split by the renderer", "Setup.\n\n In AWS: the role (default<cluster-name> -openshift-oadp-aws-cloud-credentials), with the policy.\n\nUsage:\n  x [flags]\n", "glued"},
		{"placeholder split alone", "Setup.\n\n the role <cluster-name> -openshift-oadp-aws-cloud-credentials.\n\nUsage:\n", "split"},
		{"default glued", "Flags:\n      --role string   the role(default \"x\")\n", "(default"},
		{"default run into its value", "Flags:\n      --role string   the role (default:x)\n", "(default"},
		{"two defaults", "Flags:\n      --role string   the role (default: the cluster's) (default \"x\")\n", "two defaults"},
		{"empty map default", "Flags:\n      --selector stringToString   node selector (default [])\n", "empty default"},
		{"empty string default", "Flags:\n      --selector string   node selector (default \"\")\n", "empty default"},
		{"usage broken onto its own line", "Flags:\n      --role string   the role, or the\nrest of it\n  -y, --yes   yes\n", "own line"},
		{"code span made a block", "Long text that names\n        code\n and goes on.\n\nUsage:\n", "indented"},
		{"markdown left over", "Use `kubectl apply` here.\n\nUsage:\n", "markdown"},
		{"space before punctuation", "The role (the one setup made ) is checked , then.\n\nUsage:\n", "before"},
		{"double space", "The role  is checked.\n\nUsage:\n", "double space"},
		{"well written", "Set up OADP.\n\n In AWS: the role (default CLUSTER_NAME-openshift-oadp-aws-cloud-credentials), with the policy.\n\n * a list item\n\nUsage:\n  kubectl oadp-sts setup [flags]\n\nExamples:\n  # Print  it\n  kubectl oadp-sts setup --dry-run=client -o yaml | oc apply -f -\n\nFlags:\n      --dry-run string[=\"client\"]   \"none\", \"client\" or \"server\" (default \"none\")\n      --role string                name of the role (default: <cluster-name>-openshift-oadp-aws-cloud-credentials)\n  -y, --yes                        change AWS without asking\n", ""},
	} {
		got := helpDefects(tc.help)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: defects %q in well-written help", tc.name, got)
		case tc.want != "" && !strings.Contains(strings.Join(got, "\n"), tc.want):
			t.Errorf("%s: defects %q, want one about %q", tc.name, got, tc.want)
		}
	}
}

var (
	prose = []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`[^\s(\["']\(default`), "(default glued to the word before it"},
		{regexp.MustCompile(`\(default(:\S|[^\s:)])`), "(default run into its value"},
		{regexp.MustCompile(`[\w)]<[\w-]+>`), "a <placeholder> glued to the word before it (the markdown renderer drops the space before inline HTML)"},
		{regexp.MustCompile(`<[\w-]+>\s+[-_.,)]`), "a <placeholder> split from what follows it (the markdown renderer adds a space after inline HTML)"},
		{regexp.MustCompile("`|\\*\\*"), "markdown left over (a code span renders as an indented block; say it in quotes)"},
		{regexp.MustCompile(`\S [,;)]`), "a space before punctuation (text split around an inline element)"},
		{regexp.MustCompile(`\S  +\S`), "a double space inside a sentence"},
	}
	// A flag's line: the flag, its type, a gap of two spaces or more, the usage.
	flagLine     = regexp.MustCompile(`^\s+(-\w, )?--[\w-]+( \S+)?\s{2,}`)
	cobraTrailer = regexp.MustCompile(`^Use ".*" for more information about a command\.$`)
	emptyDefault = regexp.MustCompile(`\(default (\[\]|""|\{\})\)`)
)

// helpDefects lists what is wrong with one command's help text. Prose is the
// description above Usage: and each flag's usage; the usage line, examples and
// command lists are printed as written.
func helpDefects(help string) []string {
	var out []string
	say := func(what, text string) { out = append(out, fmt.Sprintf("%s: %q", what, text)) }
	section, prev := "description", ""
	for _, line := range strings.Split(help, "\n") {
		if line == "" {
			prev = ""
			continue
		}
		if !strings.HasPrefix(line, " ") && (strings.HasSuffix(line, ":") || cobraTrailer.MatchString(line)) {
			section, prev = strings.TrimSuffix(line, ":"), ""
			continue
		}
		var text string
		switch {
		case section == "description":
			// The renderer indents a paragraph by one space and a list item by
			// two and a star; a line indented further inside a paragraph is a
			// code span it turned into a block.
			text = strings.TrimLeft(line, " ")
			if len(line)-len(text) >= 4 && prev != "" && !strings.HasSuffix(prev, ":") {
				say("an indented line inside a paragraph (a code span?)", line)
			}
		case strings.HasSuffix(section, "Flags"):
			loc := flagLine.FindStringIndex(line)
			if loc == nil {
				say("a flag's usage broken onto its own line", line)
				prev = line
				continue
			}
			text = line[loc[1]:]
			if strings.Count(text, "(default") > 1 {
				say("two defaults in one flag's usage (pflag adds its own when the flag has one)", line)
			}
			if emptyDefault.MatchString(text) {
				say("an empty default shown", line)
			}
		default:
			prev = line
			continue
		}
		for _, p := range prose {
			if loc := p.re.FindStringIndex(text); loc != nil {
				say(p.what, text[max(0, loc[0]-25):min(len(text), loc[1]+25)])
			}
		}
		prev = line
	}
	return out
}
