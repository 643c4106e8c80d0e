package printer

import (
	"fmt"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	kubectlget "k8s.io/kubectl/pkg/cmd/get"
)

// ObjectFlags is -o (with --template, --allow-missing-template-keys and
// --show-managed-fields) for a command that prints Kubernetes objects. It is
// kubectl's PrintFlags, so yaml, json, name, jsonpath, jsonpath-file,
// go-template and go-template-file mean what they mean in kubectl.
type ObjectFlags struct {
	*genericclioptions.PrintFlags
	// CustomColumns is kubectl get's custom-columns=SPEC and
	// custom-columns-file=FILE, for commands that list (WithCustomColumns).
	CustomColumns *kubectlget.CustomColumnsPrintFlags
	what          string
}

// NewObjectFlags returns the flags; what names the printed objects in -o's
// help ("the Backup").
func NewObjectFlags(what string) *ObjectFlags {
	return &ObjectFlags{PrintFlags: genericclioptions.NewPrintFlags(""), what: what}
}

// WithCustomColumns adds kubectl get's custom-columns formats.
func (f *ObjectFlags) WithCustomColumns() *ObjectFlags {
	f.CustomColumns = &kubectlget.CustomColumnsPrintFlags{}
	return f
}

// AddFlags adds -o and its companions to cmd.
func (f *ObjectFlags) AddFlags(cmd *cobra.Command) {
	f.PrintFlags.AddFlags(cmd)
	fl := cmd.Flags().Lookup("output")
	fl.Usage = fmt.Sprintf("print %s as one of: %s", f.what, strings.Join(f.AllowedFormats(), ", "))
	completion.Register(cmd, map[string]cobra.CompletionFunc{"output": cobra.FixedCompletions(f.AllowedFormats(), cobra.ShellCompDirectiveNoFileComp)})
}

// AllowedFormats lists -o's values, sorted.
func (f *ObjectFlags) AllowedFormats() []string {
	a := f.PrintFlags.AllowedFormats()
	if f.CustomColumns != nil {
		a = append(a, f.CustomColumns.AllowedFormats()...)
	}
	sort.Strings(a)
	return a
}

// Set reports whether -o (or --template) asks for a printer.
func (f *ObjectFlags) Set() bool {
	return *f.OutputFormat != "" || (f.TemplatePrinterFlags.TemplateArgument != nil && *f.TemplatePrinterFlags.TemplateArgument != "")
}

// Printer returns the printer -o asks for, or nil when -o is not set (the
// command's own output). Commands call it in Validate, before anything is
// read or made, so a bad -o creates nothing.
func (f *ObjectFlags) Printer() (printers.ResourcePrinter, error) {
	if !f.Set() {
		return nil, nil
	}
	if f.CustomColumns != nil && strings.HasPrefix(*f.OutputFormat, "custom-columns") {
		p, err := f.CustomColumns.ToPrinter(*f.OutputFormat)
		if err == nil || !genericclioptions.IsNoCompatiblePrinterError(err) {
			if err != nil {
				return nil, fmt.Errorf("-o %s: %w", *f.OutputFormat, err)
			}
			return p, nil
		}
	}
	p, err := f.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, fmt.Errorf("unknown output format %q for -o: use one of %s", *f.OutputFormat, strings.Join(f.AllowedFormats(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("-o %s: %w", *f.OutputFormat, err)
	}
	return p, nil
}

// List wraps objects in a v1 List, which kubectl prints for more than one
// object and which 'oc apply -f -' takes.
func List(objs []*unstructured.Unstructured) *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}}
	for _, o := range objs {
		l.Items = append(l.Items, *o)
	}
	return l
}

// Stream reports whether -o's format prints several objects one after
// another as a stream (yaml's documents, name's lines) rather than as one
// List, which every other format needs to print several.
func (f *ObjectFlags) Stream() bool {
	switch strings.ToLower(*f.OutputFormat) {
	case "yaml", "kyaml", "name":
		return true
	}
	return false
}
