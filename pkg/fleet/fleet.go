// Package fleet runs one command on several clusters at once: which
// kubeconfig contexts a command line names (Select), the per-cluster jobs
// under a bound on concurrency (Run), one cluster's output kept whole
// (Lines, Group), the worst exit code (Worst), the summary rows (Row) and the
// clusters that share one OIDC issuer (SharedIssuers).
//
// It knows nothing of the commands or their clients: a job is a func, a
// cluster's facts arrive as a Row. The cobra glue is pkg/cmd/internal/fleetrun.
package fleet

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
)

// DefaultParallel is how many clusters run at once unless --parallel says
// otherwise: enough that six clusters take about as long as two, few enough
// that AWS's per-account throttling is not the bottleneck.
const DefaultParallel = 4

// Selection is what the command line asked for.
type Selection struct {
	// Contexts are the --context values, in the order given.
	Contexts []string
	All      bool
	// Matching is --contexts-matching, a regular expression ("" when not given).
	Matching string
}

// Fleet reports whether the selection is fleet mode: more than one
// --context, --all-contexts or --contexts-matching. Zero or one --context
// is the single-cluster command, exactly as without this package.
func (s Selection) Fleet() bool { return len(s.Contexts) > 1 || s.All || s.Matching != "" }

// Compile checks --contexts-matching before anything is read.
func (s Selection) Compile() (*regexp.Regexp, error) {
	if s.Matching == "" {
		return nil, nil
	}
	re, err := regexp.Compile(s.Matching)
	if err != nil {
		return nil, fmt.Errorf("--contexts-matching %q is not a regular expression: %s (write Go's RE2 syntax, such as '^prod-')", s.Matching, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// Validate refuses a bad --contexts-matching and two ways of choosing the
// clusters at once, before the kubeconfig is read.
func (s Selection) Validate() error {
	if _, err := s.Compile(); err != nil {
		return err
	}
	if s.All && s.Matching != "" {
		return fmt.Errorf("--all-contexts and --contexts-matching do not go together: give one")
	}
	if (s.All || s.Matching != "") && len(s.Contexts) > 0 {
		flag := "--all-contexts"
		if !s.All {
			flag = "--contexts-matching"
		}
		return fmt.Errorf("--context and %s do not go together: name the clusters with --context, or choose them with %s", flag, flag)
	}
	return nil
}

// Select resolves the selection against the kubeconfig's context names: the
// given contexts in the order given, or every (matching) context sorted.
// A name the kubeconfig lacks, a name given twice, a pattern matching
// nothing, or two ways of choosing at once is refused, naming the flag.
func (s Selection) Select(known []string) ([]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	re, _ := s.Compile() // Validate compiled it
	known = slices.Sorted(slices.Values(known))
	list := func() string {
		if len(known) == 0 {
			return "the kubeconfig has none"
		}
		return "the kubeconfig has " + strings.Join(known, ", ")
	}
	switch {
	case s.All:
		if len(known) == 0 {
			return nil, fmt.Errorf("--all-contexts: %s; log in with 'oc login' or set --kubeconfig", list())
		}
		return known, nil
	case re != nil:
		var out []string
		for _, k := range known {
			if re.MatchString(k) {
				out = append(out, k)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("--contexts-matching %q matches no context: %s", s.Matching, list())
		}
		return out, nil
	}
	seen := map[string]bool{}
	for _, c := range s.Contexts {
		if seen[c] {
			return nil, fmt.Errorf("--context %q is given twice: name each cluster once", c)
		}
		seen[c] = true
		if !slices.Contains(known, c) {
			return nil, fmt.Errorf("--context %q is not a context of the kubeconfig: %s", c, list())
		}
	}
	return slices.Clone(s.Contexts), nil
}

// Run calls job once for each of n clusters, at most parallel at a time,
// starting them in order, and returns when every job has. A job that panics
// fails alone: its error says so, and the others carry on.
func Run(ctx context.Context, n, parallel int, job func(ctx context.Context, i int) error) []error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(parallel, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = runJob(ctx, i, job)
			}
		})
	}
	wg.Wait()
	return errs
}

func runJob(ctx context.Context, i int, job func(ctx context.Context, i int) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	return job(ctx, i)
}

// severity ranks the exit codes from README's table for Worst: an error (1:
// the cluster could not be read or changed, its state is unknown) is worse
// than a failed round trip or operation (4), which is worse than a wait that
// ran out (5: it may still finish), a partial failure (3) and a failed
// readiness check (2); success (0) is the least.
var severity = map[int]int{
	exitcode.OK:              0,
	exitcode.NotReady:        1,
	exitcode.PartiallyFailed: 2,
	exitcode.Timeout:         3,
	exitcode.Failed:          4,
	exitcode.Error:           5,
}

// Worst is the exit code of a fleet run: the most severe of its clusters'.
// A code the table does not know counts as an error.
func Worst(codes []int) int {
	worst, rank := exitcode.OK, 0
	for _, c := range codes {
		r, ok := severity[c]
		if !ok {
			r = severity[exitcode.Error]
		}
		if r > rank {
			worst, rank = c, r
		}
	}
	return worst
}

// ResultWord names an exit code in the summary's RESULT column.
func ResultWord(code int) string {
	switch code {
	case exitcode.OK:
		return "ok"
	case exitcode.NotReady:
		return "not ready"
	case exitcode.PartiallyFailed:
		return "partially failed"
	case exitcode.Failed:
		return "failed"
	case exitcode.Timeout:
		return "timed out"
	}
	return "error"
}
