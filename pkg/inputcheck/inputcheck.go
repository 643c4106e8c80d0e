// Package inputcheck refuses hostile command-line values before a command
// starts: every string flag and positional argument of every command, in one
// place, so a flag added to any command later is covered without an edit.
//
// The rules here are the ones no value of any flag may break (one line of
// printable UTF-8, given when the flag is given, of a bounded length) and the
// shape of flags no command validates itself; what a value means (a cron line,
// an IAM name, a bucket) stays with the command's Validate.
package inputcheck

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultMaxLen bounds a value of a flag not in maxLen: a Kubernetes object
// name (a DNS subdomain) is the longest thing most flags name.
const DefaultMaxLen = validation.DNS1123SubdomainMaxLength

// maxLen is the longest value a flag can legitimately take, for the flags
// whose values are longer than an object name.
var maxLen = map[string]int{
	// Opaque credentials and URLs: a bearer token can be a large JWT.
	"token":  16 << 10,
	"server": 2048, "proxy-url": 2048, "oidc-issuer": 2048,
	// Paths on the user's machine: PATH_MAX.
	"kubeconfig": 4096, "cache-dir": 4096, "certificate-authority": 4096,
	"client-certificate": 4096, "client-key": 4096, "output-dir": 4096,
	// IAM's limits: ARNs 2048, a role path 512, a policy name 128.
	"role-arn": 2048, "permissions-boundary": 2048, "role-path": 512,
	// A label selector can list many values; an S3 prefix is a key up to 1024.
	"selector": 4096, "prefix": 1024,
	// A key of a node selector can be prefix/name (253 + 1 + 63).
	"velero-node-selector": 317 + 1 + validation.LabelValueMaxLength,
}

// stringTypes are the pflag value types whose values are free text; every
// other type (bool, duration, int, klog's Level) is parsed by pflag, which
// names the flag when it refuses a value.
var stringTypes = map[string]bool{"string": true, "stringSlice": true, "stringArray": true, "stringToString": true}

// IsString reports whether a flag takes free text and so is checked here.
func IsString(f *pflag.Flag) bool { return stringTypes[f.Value.Type()] }

// Check refuses the first hostile value among the flags given on the command
// line and the positional arguments. It is the root command's
// PersistentPreRunE: it runs before any command's Complete, so a refused value
// has made no request and written nothing.
func Check(cmd *cobra.Command, args []string) error {
	if cmd.DisableFlagParsing {
		// Completion's hidden commands: their arguments are the partial
		// words being completed, not values.
		return nil
	}
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || !IsString(f) {
			return
		}
		err = checkFlag(cmd.Name(), f)
	})
	if err != nil {
		return err
	}
	what := ArgName(cmd)
	for i, a := range args {
		if err := checkValue(fmt.Sprintf("%s (argument %d of %s)", what, i+1, cmd.CommandPath()), a, DefaultMaxLen, "give a Kubernetes object name"); err != nil {
			return err
		}
		shape := objectName
		if what == "NAMESPACE" {
			shape = dnsLabel("a namespace name")
		}
		if why := shape(a); why != "" {
			return fmt.Errorf("%s (argument %d of %s) %s %s", what, i+1, cmd.CommandPath(), Quote(a), why)
		}
	}
	return nil
}

// ArgName is the name a command's usage line gives its positional arguments
// ("BACKUP" in "restore BACKUP [--name NAME]"), "ARGUMENT" when it gives none.
func ArgName(cmd *cobra.Command) string {
	fields := strings.Fields(cmd.Use)
	for _, w := range fields[min(1, len(fields)):] {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[-") {
			break
		}
		w = strings.Trim(w, "[].")
		if w != "" && w == strings.ToUpper(w) && strings.IndexFunc(w, unicode.IsLetter) >= 0 {
			return w
		}
	}
	return "ARGUMENT"
}

func checkFlag(command string, f *pflag.Flag) error {
	name := "--" + f.Name
	limit := limitOf(f.Name)
	values := []string{f.Value.String()}
	if r, ok := f.Value.(*raw); ok {
		if r.err != nil {
			return r.err
		}
		// The raw values as given: "a,b" for a list, "k=v" for a map.
		values = r.given
		for _, s := range values {
			if err := checkValue(name, s, limit, "give a value, or leave the flag out"); err != nil {
				return err
			}
		}
		if f.Value.Type() == "stringToString" {
			return checkMap(name, values)
		}
		values = r.Value.(pflag.SliceValue).GetSlice()
		if len(values) == 0 {
			return fmt.Errorf("%s is empty: give a value, or leave the flag out", name)
		}
	}
	for _, s := range values {
		if err := checkValue(name, s, limit, "give a value, or leave the flag out"); err != nil {
			return err
		}
		if err := checkKind(command, f.Name, s); err != nil {
			return err
		}
	}
	return nil
}

// checkMap holds each key=value of a map flag (a node selector) to the
// label rules: a qualified name, a label value.
func checkMap(name string, given []string) error {
	for _, g := range given {
		for _, kv := range strings.Split(g, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
				return fmt.Errorf("%s %s is not a list of label=value pairs (such as node-role.kubernetes.io/infra=)", name, Quote(kv))
			}
		}
	}
	return nil
}

// raw keeps what a list or map flag was given, before pflag splits it: a
// list's parser reads only the first line of "a\nb", so the newline would
// otherwise never be seen. A hostile value is kept back from the flag and
// reported by Check, in the same words as every other flag's.
type raw struct {
	pflag.Value
	name  string
	given []string
	err   error
}

func (r *raw) Set(s string) error {
	r.given = append(r.given, s)
	if err := checkValue("--"+r.name, s, limitOf(r.name), "give a value, or leave the flag out"); err != nil {
		if r.err == nil {
			r.err = err
		}
		return nil
	}
	return r.Value.Set(s)
}

// Guard wraps every list and map flag of the tree so Check sees the values
// as given. The root command calls it once, after adding every command.
func Guard(root *cobra.Command) {
	wrap := func(f *pflag.Flag) {
		if _, done := f.Value.(*raw); !done && IsString(f) && f.Value.Type() != "string" {
			f.Value = &raw{Value: f.Value, name: f.Name}
			// pflag knows an empty list's default only by its own types;
			// "" keeps --help from showing "(default [])".
			if f.DefValue == "[]" {
				f.DefValue = ""
			}
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(wrap)
		c.PersistentFlags().VisitAll(wrap)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func limitOf(flag string) int {
	if n, ok := maxLen[flag]; ok {
		return n
	}
	return DefaultMaxLen
}

// checkValue holds a value to the rules every value keeps: given, valid
// UTF-8, one line of printable characters, at most limit bytes.
func checkValue(name, s string, limit int, ifEmpty string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty: %s", name, ifEmpty)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8 text: check the shell's quoting and the terminal's encoding", name)
	case len(s) > limit:
		return fmt.Errorf("%s is %d characters long, more than the %d it can be", name, len(s), limit)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%s has a control character (%U%s) at byte %d: values are one line of printable text", name, r, controlName(r), i+1)
	}
	return nil
}

func controlName(r rune) string {
	switch r {
	case '\n':
		return ", a newline"
	case '\r':
		return ", a carriage return"
	case '\t':
		return ", a tab"
	case 0:
		return ", NUL"
	}
	return ""
}

// Quote is a value for an error message: quoted, and cut short when long,
// so a hostile value never floods the terminal.
func Quote(s string) string {
	const keep = 64
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d characters)", s[:cut], len(s))
}
