// Package printer writes reports for people (aligned text) and for programs
// (-o json|yaml), and knows whether a stream is a terminal.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// Formats are the values -o accepts for reports.
var Formats = []string{"json", "yaml"}

// ValidateFormat checks an -o value for a report command ("" is human output).
func ValidateFormat(format string) error {
	if format == "" || slices.Contains(Formats, format) {
		return nil
	}
	return fmt.Errorf("unknown output format %q: use -o json or -o yaml, or leave -o out for a table", format)
}

// Print writes v as JSON or YAML.
func Print(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return ValidateFormat(format)
}

// ValidateObjectFormat checks an -o value for a command that prints objects
// ("" is its table).
func ValidateObjectFormat(format string) error {
	switch format {
	case "", "yaml", "json", "name":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use -o yaml, json or name, or leave -o out for a table", format)
}

// IsTerminal reports whether w is an interactive terminal.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// OrNone is kubectl's way of showing an empty value: "<none>".
func OrNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// Object writes a Kubernetes object as yaml, json or name with cli-runtime's
// printers, as kubectl's -o does.
func Object(w io.Writer, format string, obj runtime.Object) error {
	var p printers.ResourcePrinter
	switch format {
	case "yaml":
		p = &printers.YAMLPrinter{}
	case "json":
		p = &printers.JSONPrinter{}
	case "name":
		p = &printers.NamePrinter{}
	default:
		return fmt.Errorf("unknown output format %q", format)
	}
	return p.PrintObj(obj, w)
}
