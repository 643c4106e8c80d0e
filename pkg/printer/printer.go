// Package printer writes what commands print: Kubernetes objects through
// kubectl's PrintFlags (ObjectFlags), reports (status, verify, describe,
// version) as json or yaml, and knows whether a stream is a terminal.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/term"
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
