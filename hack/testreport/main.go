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

func main() {
	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped int
	var failedPkgs, summaries []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	start := time.Now()
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors and other plain lines
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if outputs[key] == nil {
				outputs[key] = &strings.Builder{}
			}
			outputs[key].WriteString(e.Output)
			if _, s, ok := strings.Cut(e.Output, summaryMarker); ok {
				summaries = append(summaries, strings.TrimSpace(s))
			}
			if e.Test == "" && strings.HasPrefix(e.Output, "rig: ") {
				fmt.Print("      ", e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					failedPkgs = append(failedPkgs, e.Package)
					if b := outputs[key]; b != nil {
						fmt.Print(b.String())
					}
				}
				if e.Action == "skip" {
					// go test reports a package without test files as skipped.
					fmt.Printf("---- %s (no tests)\n", e.Package)
					continue
				}
				fmt.Printf("%-4s %s (%.1fs)\n", strings.ToUpper(e.Action), e.Package, e.Elapsed)
				continue
			}
			if strings.Contains(e.Test, "/") {
				continue // subtests roll up into their parent's line
			}
			fmt.Printf("  %-4s %s (%.2fs)\n", strings.ToUpper(e.Action), e.Test, e.Elapsed)
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				if b := outputs[key]; b != nil {
					fmt.Print(indent(b.String()))
				}
				for k, b := range outputs { // failed subtests' output
					if strings.HasPrefix(k, key+"/") {
						fmt.Print(indent(b.String()))
					}
				}
			case "skip":
				skipped++
				if b := outputs[key]; b != nil {
					fmt.Print(indent(lastLines(b.String(), 3)))
				}
			}
		}
	}
	sort.Strings(failedPkgs)
	fmt.Printf("\ntests took %s\n", time.Since(start).Round(time.Second))
	if len(failedPkgs) > 0 {
		fmt.Printf("failed packages: %s\n", strings.Join(failedPkgs, " "))
	}
	for _, s := range summaries {
		fmt.Println(s)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || len(failedPkgs) > 0 {
		os.Exit(1)
	}
	if skipped > 0 && os.Getenv("CI") == "true" {
		fmt.Println("CI=true: skipped tests count as failures (every integration test must run against the real servers)")
		os.Exit(1)
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
