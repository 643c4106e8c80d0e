package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

func TestSelect(t *testing.T) {
	known := []string{"prod-west", "dr", "prod-east"}
	for _, tc := range []struct {
		name    string
		sel     Selection
		want    string
		wantErr string
	}{
		{name: "given, in the order given", sel: Selection{Contexts: []string{"prod-west", "dr"}}, want: "prod-west,dr"},
		{name: "all, sorted", sel: Selection{All: true}, want: "dr,prod-east,prod-west"},
		{name: "matching", sel: Selection{Matching: "^prod-"}, want: "prod-east,prod-west"},
		{name: "unknown context", sel: Selection{Contexts: []string{"dr", "qa"}}, wantErr: `--context "qa" is not a context of the kubeconfig: the kubeconfig has dr, prod-east, prod-west`},
		{name: "given twice", sel: Selection{Contexts: []string{"dr", "dr"}}, wantErr: `--context "dr" is given twice`},
		{name: "bad regexp", sel: Selection{Matching: "prod-("}, wantErr: `--contexts-matching "prod-(" is not a regular expression`},
		{name: "matches none", sel: Selection{Matching: "^qa"}, wantErr: `--contexts-matching "^qa" matches no context`},
		{name: "all and matching", sel: Selection{All: true, Matching: "x"}, wantErr: "--all-contexts and --contexts-matching do not go together"},
		{name: "context and all", sel: Selection{All: true, Contexts: []string{"dr"}}, wantErr: "--context and --all-contexts do not go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sel.Select(known)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tc.want {
				t.Fatalf("Select = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestFleetMode(t *testing.T) {
	for _, tc := range []struct {
		sel  Selection
		want bool
	}{
		{Selection{}, false},
		{Selection{Contexts: []string{"a"}}, false},
		{Selection{Contexts: []string{"a", "b"}}, true},
		{Selection{All: true}, true},
		{Selection{Matching: "."}, true},
	} {
		if got := tc.sel.Fleet(); got != tc.want {
			t.Errorf("%+v.Fleet() = %v, want %v", tc.sel, got, tc.want)
		}
	}
}

func TestWorst(t *testing.T) {
	for _, tc := range []struct {
		codes []int
		want  int
	}{
		{nil, exitcode.OK},
		{[]int{0, 0}, exitcode.OK},
		{[]int{0, 2, 0}, exitcode.NotReady},
		{[]int{2, 5, 3}, exitcode.Timeout},
		{[]int{5, 4}, exitcode.Failed},
		{[]int{4, 1, 5}, exitcode.Error},
		{[]int{0, 42}, 42},
	} {
		if got := Worst(tc.codes); got != tc.want {
			t.Errorf("Worst(%v) = %d, want %d", tc.codes, got, tc.want)
		}
	}
}

// Run keeps to its bound, runs every job, and a panicking job fails alone.
func TestRunBoundAndIsolation(t *testing.T) {
	var running, peak atomic.Int32
	errs := Run(context.Background(), 7, 3, func(_ context.Context, i int) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		switch i {
		case 2:
			panic("boom")
		case 4:
			return errors.New("cluster e down")
		}
		return nil
	})
	if peak.Load() != 3 {
		t.Errorf("peak concurrency %d, want 3", peak.Load())
	}
	for i, err := range errs {
		switch i {
		case 2:
			if err == nil || !strings.Contains(err.Error(), "boom") {
				t.Errorf("job 2 panicked, got %v", err)
			}
		case 4:
			if err == nil {
				t.Errorf("job 4 failed, got nil")
			}
		default:
			if err != nil {
				t.Errorf("job %d: %v, want nil", i, err)
			}
		}
	}
}

func TestSharedIssuers(t *testing.T) {
	rows := []Row{
		{Context: "a", Issuer: "https://oidc.example/one"},
		{Context: "b", Issuer: "https://oidc.example/two"},
		{Context: "c", Issuer: "https://oidc.example/one/"},
		{Context: "d"},
		{Context: "e", Issuer: "oidc.example/one"},
		{Context: "f"},
	}
	shared := SharedIssuers(rows)
	if len(shared) != 1 || strings.Join(shared[0].Contexts, ",") != "a,c,e" {
		t.Fatalf("SharedIssuers = %+v, want a, c and e sharing one", shared)
	}
	w := Warnings(shared)
	if len(w) != 3 {
		t.Fatalf("%d warnings, want one per pair (3): %q", len(w), w)
	}
	for _, pair := range [][2]string{{"a", "c"}, {"a", "e"}, {"c", "e"}} {
		want := fmt.Sprintf("clusters %s and %s share the OIDC issuer", pair[0], pair[1])
		if !strings.Contains(strings.Join(w, "\n"), want) {
			t.Errorf("no warning %q in %q", want, w)
		}
	}
	if !strings.Contains(w[0], "own OIDC configuration") || !strings.Contains(w[0], "--role-arn") {
		t.Errorf("warning without both fixes: %s", w[0])
	}
	MarkShared(rows, shared)
	if strings.Join(rows[0].SharesIssuerWith, ",") != "c,e" || rows[1].SharesIssuerWith != nil {
		t.Errorf("MarkShared: a %v, b %v", rows[0].SharesIssuerWith, rows[1].SharesIssuerWith)
	}
}

// Lines from many writers at once come out whole, each with its prefix.
func TestPrefixedWholeLines(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	locked := NewLocked(&out, &mu)
	var wg sync.WaitGroup
	for _, name := range []string{"a", "bb", "c"} {
		p := NewPrefixed(locked, Prefix(name, 2))
		wg.Go(func() {
			for i := range 200 {
				// A line written in pieces, as fmt does with tabwriter.
				fmt.Fprintf(p, "line %d of ", i)
				fmt.Fprintf(p, "%s\n", name)
			}
			fmt.Fprint(p, "no newline")
			_ = p.Flush()
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3*201 {
		t.Fatalf("%d lines, want %d", len(lines), 3*201)
	}
	for _, l := range lines {
		prefix, rest, ok := strings.Cut(l, " | ")
		name := strings.TrimSpace(prefix)
		if !ok || !strings.HasSuffix(rest, " of "+name) && rest != "no newline" {
			t.Fatalf("mixed line %q", l)
		}
	}
}

func TestGroup(t *testing.T) {
	var g Group
	fmt.Fprint(&g, "one\ntwo")
	var out bytes.Buffer
	if _, err := g.WriteTo(&out, "a"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "=== a ===\none\ntwo\n" {
		t.Errorf("group %q", out.String())
	}
	var empty Group
	out.Reset()
	_, _ = empty.WriteTo(&out, "b")
	if out.Len() != 0 {
		t.Errorf("an empty group wrote %q", out.String())
	}
}

func TestFromReport(t *testing.T) {
	rep := &status.Report{
		Cluster: &clusterfacts.Facts{Name: "fleet-a", ID: "id-a", Version: "4.16.8", OIDCIssuer: "https://oidc/a"},
		OADP:    &clusterfacts.OADP{Version: "1.4.1"},
		Checks: []status.Check{
			{Name: status.CheckRole, Result: status.OK, Message: "arn:aws:iam::123456789012:role/fleet-a-role"},
			{Name: status.CheckDPAReconciled, Result: status.OK},
			{Name: status.CheckLocation + " default", Result: status.OK},
			{Name: status.CheckLocation + " other", Result: status.Failed},
			{Name: status.CheckBucket + " fleet-a-oadp", Result: status.OK},
			{Name: status.CheckBucketHardening + " fleet-a-oadp", Result: status.OK},
		},
	}
	row := FromReport(Row{Context: "a"}, rep)
	if row.Cluster != "fleet-a" || row.OpenShift != "4.16.8" || row.OADP != "1.4.1" || row.Issuer != "https://oidc/a" ||
		row.Role != "arn:aws:iam::123456789012:role/fleet-a-role" || row.Bucket != "fleet-a-oadp" ||
		row.DPAReconciled != "yes" || row.LocationAvailable != "no" {
		t.Errorf("row %+v", row)
	}
	before := FromReport(Row{Context: "b"}, &status.Report{Cluster: &clusterfacts.Facts{Name: "b"}, Checks: []status.Check{{Name: status.CheckDPAReconciled, Result: status.Skipped}}})
	if before.DPAReconciled != "" || before.LocationAvailable != "" || before.Role != "" {
		t.Errorf("before setup: %+v, want the columns empty", before)
	}
	tab := Table([]Row{row, {Context: "c", Result: "error", Error: "connection refused"}})
	if got := tab.Rows[0].Cells[4]; got != "fleet-a-role" {
		t.Errorf("role cell %v, want the role's name", got)
	}
	if got := tab.Rows[1].Cells; got[1] != "-" || got[8] != "error: connection refused" {
		t.Errorf("failed row's cells %v", got)
	}
}
