// Command testreport reads `go test -json` on stdin and prints one line per
// test (with the output of failed and skipped ones), then the closing line
// "N passed, N failed, N skipped", after the summaries tests mark with
// "operator conformance: " (the DPA rule engine's agreement with the real
// OADP operator, counted by the test). It exits non-zero when anything failed, and
// under CI=true when anything was skipped: CI must run every real-server test.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// summaryMarker starts a line a test logs for the end of the report.
const summaryMarker = "operator conformance: "

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// report is what the stream of test events has said so far.
type report struct {
	outputs                 map[string]*strings.Builder
	passed, failed, skipped int
	failedPkgs, summaries   []string
}

func main() {
	r := &report{outputs: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	start := time.Now()
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors and other plain lines
			continue
		}
		r.event(e)
	}
	sort.Strings(r.failedPkgs)
	fmt.Printf("\ntests took %s\n", time.Since(start).Round(time.Second))
	if len(r.failedPkgs) > 0 {
		fmt.Printf("failed packages: %s\n", strings.Join(r.failedPkgs, " "))
	}
	for _, s := range r.summaries {
		fmt.Println(s)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
	if r.failed > 0 || len(r.failedPkgs) > 0 {
		os.Exit(1)
	}
	if r.skipped > 0 && os.Getenv("CI") == "true" {
		fmt.Println("CI=true: skipped tests count as failures (every integration test must run against the real servers)")
		os.Exit(1)
	}
}

// event prints a package's or a test's result as it comes, and keeps
// the output a failure or skip shows.
func (r *report) event(e event) {
	key := e.Package + " " + e.Test
	switch e.Action {
	case "output":
		if r.outputs[key] == nil {
			r.outputs[key] = &strings.Builder{}
		}
		r.outputs[key].WriteString(e.Output)
		if _, s, ok := strings.Cut(e.Output, summaryMarker); ok {
			r.summaries = append(r.summaries, strings.TrimSpace(s))
		}
		if e.Test == "" && strings.HasPrefix(e.Output, "rig: ") {
			fmt.Print("      ", e.Output)
		}
	case "pass", "fail", "skip":
		if e.Test == "" {
			if e.Action == "fail" {
				r.failedPkgs = append(r.failedPkgs, e.Package)
				if b := r.outputs[key]; b != nil {
					fmt.Print(b.String())
				}
			}
			if e.Action == "skip" {
				// go test reports a package without test files as skipped.
				fmt.Printf("---- %s (no tests)\n", e.Package)
				return
			}
			fmt.Printf("%-4s %s (%.1fs)\n", strings.ToUpper(e.Action), e.Package, e.Elapsed)
			return
		}
		if strings.Contains(e.Test, "/") {
			return // subtests roll up into their parent's line
		}
		fmt.Printf("  %-4s %s (%.2fs)\n", strings.ToUpper(e.Action), e.Test, e.Elapsed)
		switch e.Action {
		case "pass":
			r.passed++
		case "fail":
			r.failed++
			if b := r.outputs[key]; b != nil {
				fmt.Print(indent(b.String()))
			}
			for k, b := range r.outputs { // r.failed subtests' output
				if strings.HasPrefix(k, key+"/") {
					fmt.Print(indent(b.String()))
				}
			}
		case "skip":
			r.skipped++
			if b := r.outputs[key]; b != nil {
				fmt.Print(indent(lastLines(b.String(), 3)))
			}
		}
	}
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ") + "\n"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
