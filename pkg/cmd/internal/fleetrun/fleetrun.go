// Package fleetrun is the cobra glue of fleet mode (pkg/fleet): the flags
// status, setup, verify and cleanup add, and the run of one verb's own
// single-cluster Options on each cluster, with its own Factory and streams.
package fleetrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/fleet"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// Annotation marks a command that takes --context more than once; the root
// refuses a second --context on every other.
const Annotation = "oadp-sts.openshift.io/fleet"

// IsFleetCommand reports whether cmd runs on several clusters.
func IsFleetCommand(cmd *cobra.Command) bool { return cmd.Annotations[Annotation] == "true" }

// Flags are fleet mode's flags beside the root's repeatable --context.
type Flags struct {
	All      bool
	Matching string
	Parallel int
}

// AddFlags adds --all-contexts, --contexts-matching and --parallel to cmd
// and marks it a fleet command.
func (fl *Flags) AddFlags(cmd *cobra.Command, f completion.Source) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[Annotation] = "true"
	fs := cmd.Flags()
	fs.BoolVar(&fl.All, "all-contexts", false, "run on the cluster of every kubeconfig context (fleet mode: each cluster's lines prefixed or grouped, then a summary table)")
	fs.StringVar(&fl.Matching, "contexts-matching", "", "run on the clusters of the kubeconfig contexts whose names match this regular expression (fleet mode)")
	fs.IntVar(&fl.Parallel, "parallel", fleet.DefaultParallel, "in fleet mode (--context given more than once, --all-contexts or --contexts-matching), how many clusters run at once")
	completion.Register(cmd, map[string]cobra.CompletionFunc{"contexts-matching": completion.Contexts(f)})
}

// Selection is the command line's choice of clusters.
func (fl *Flags) Selection(f *cmdutil.Factory) fleet.Selection {
	return fleet.Selection{Contexts: f.Contexts, All: fl.All, Matching: fl.Matching}
}

// Fleet reports whether the command runs in fleet mode.
func (fl *Flags) Fleet(f *cmdutil.Factory) bool { return fl.Selection(f).Fleet() }

// Validate checks the fleet flags before anything is read.
func (fl *Flags) Validate(f *cmdutil.Factory) error {
	if fl.Parallel < 1 {
		return fmt.Errorf("--parallel must be at least 1, not %d: it is how many clusters run at once", fl.Parallel)
	}
	return fl.Selection(f).Validate()
}

// Cluster is one cluster's run: its context, Factory and streams, and what
// this pass of the fleet asks of the verb.
type Cluster struct {
	Context string
	Factory *cmdutil.Factory
	genericiooptions.IOStreams
	// Plan asks for the verb's plan only (--dry-run=client), for the one
	// confirmation of the whole set.
	Plan bool
	// Confirmed is set once the whole set was confirmed: the verb must not ask again.
	Confirmed bool
	// Output is "json" when the verb's own report is kept for -o json|yaml.
	Output string
}

// Job runs the verb on one cluster. It returns the status report it read,
// when it read one, so the summary row needs no second read.
type Job func(ctx context.Context, c Cluster) (*status.Report, error)

// Runner runs one verb across the selected clusters.
type Runner struct {
	Verb    string
	Flags   *Flags
	Factory *cmdutil.Factory
	genericiooptions.IOStreams
	// Output is -o: "" for the clusters' own lines and the summary table,
	// json or yaml for the list, one element per cluster.
	Output string
	Job    Job
	// Row reads the status report of a cluster after Job, for the summary
	// row, when Job returned none.
	Row func(ctx context.Context, f *cmdutil.Factory) (*status.Report, error)
	// Confirm, for a verb that changes things, is the question asked once
	// for the whole set after every cluster's plan; "" asks nothing.
	Confirm string
	// Yes and DryRun are the verb's --yes and --dry-run.
	Yes    bool
	DryRun cmdutil.DryRun
	// WarnSharedIssuers reports every pair of clusters with one OIDC issuer.
	WarnSharedIssuers bool
	// IsTerminal says whether a person can answer on In (a test's stand-in
	// for a terminal replaces it).
	IsTerminal func() bool
}

// rowTimeout bounds the read of a cluster's state for its row: a cluster
// that stopped answering costs its row, not the run.
const rowTimeout = 30 * time.Second

// Run selects the clusters, asks once when the verb changes things on a
// terminal, runs the verb on each and prints the summary. The error carries
// the worst of the clusters' exit codes.
func (r *Runner) Run(ctx context.Context) error {
	raw, err := r.Factory.RawKubeConfig()
	if err != nil {
		return fmt.Errorf("cannot read the kubeconfig: %w (set --kubeconfig or KUBECONFIG)", err)
	}
	known := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		known = append(known, name)
	}
	contexts, err := r.Flags.Selection(r.Factory).Select(known)
	if err != nil {
		return err
	}
	confirmed := r.Yes
	if r.Confirm != "" && !r.Yes && !r.DryRun.Any() && r.isTerminal() {
		if err := r.confirm(ctx, contexts); err != nil {
			return err
		}
		confirmed = true
	}
	rows := r.runAll(ctx, contexts, func(c *Cluster) { c.Confirmed = confirmed })
	return r.finish(rows)
}

func (r *Runner) isTerminal() bool {
	if r.IsTerminal != nil {
		return r.IsTerminal()
	}
	return printer.IsTerminal(r.In)
}

// confirm runs every cluster's plan, shows them whole in the order given,
// and asks once. A cluster whose plan fails stops the set before anything
// changes: the user fixes it, or leaves its context out.
func (r *Runner) confirm(ctx context.Context, contexts []string) error {
	groups := make([]fleet.Group, len(contexts))
	errs := fleet.Run(ctx, len(contexts), r.Flags.Parallel, func(ctx context.Context, i int) error {
		_, err := r.Job(ctx, Cluster{Context: contexts[i], Factory: r.Factory.ForContext(contexts[i]),
			IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &groups[i], ErrOut: &groups[i]}, Plan: true})
		return err
	})
	var failed []string
	for i, c := range contexts {
		_, _ = groups[i].WriteTo(r.ErrOut, c) // the terminal: a failed write shows itself
		if errs[i] != nil {
			fmt.Fprintf(r.ErrOut, "%s: error: %s\n", c, fleet.OneLine(errs[i]))
			failed = append(failed, c)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s cancelled: the plan of %s failed, nothing was changed on any cluster: fix it, or leave its context out", r.Verb, strings.Join(failed, ", "))
	}
	if !cmdutil.Confirm(r.In, r.ErrOut, fmt.Sprintf("%s on the %d clusters %s?", r.Confirm, len(contexts), strings.Join(contexts, ", "))) {
		return fmt.Errorf("%s cancelled: nothing was changed on any cluster", r.Verb)
	}
	return nil
}

// runAll runs the verb on every cluster and returns their rows in the order
// of contexts. On a terminal each line shows as it comes, prefixed with its
// context; otherwise each cluster's lines are written together when it is done.
func (r *Runner) runAll(ctx context.Context, contexts []string, set func(*Cluster)) []fleet.Row {
	width := 0
	for _, c := range contexts {
		width = max(width, len(c))
	}
	var mu sync.Mutex // one terminal: stdout's and stderr's lines never mix mid-line
	out, errOut := fleet.NewLocked(r.Out, &mu), fleet.NewLocked(r.ErrOut, &mu)
	rows := make([]fleet.Row, len(contexts))
	fleet.Run(ctx, len(contexts), r.Flags.Parallel, func(ctx context.Context, i int) error {
		rows[i] = r.runOne(ctx, contexts[i], width, out, errOut, set)
		return nil
	})
	return rows
}

func (r *Runner) runOne(ctx context.Context, name string, width int, out, errOut io.Writer, set func(*Cluster)) fleet.Row {
	f := r.Factory.ForContext(name)
	var (
		report             bytes.Buffer
		outGroup, errGroup fleet.Group
		flushOut, flushErr func()
		clusterOut, cluErr io.Writer
	)
	switch {
	case r.Output != "":
		clusterOut, flushOut = &report, func() {}
	case printer.IsTerminal(r.Out):
		p := fleet.NewPrefixed(out, fleet.Prefix(name, width))
		clusterOut, flushOut = p, func() { _ = p.Flush() } // the terminal: a failed write shows itself
	default:
		clusterOut, flushOut = &outGroup, func() { _, _ = outGroup.WriteTo(out, name) }
	}
	if printer.IsTerminal(r.ErrOut) {
		p := fleet.NewPrefixed(errOut, fleet.Prefix(name, width))
		cluErr, flushErr = p, func() { _ = p.Flush() }
	} else {
		cluErr, flushErr = &errGroup, func() { _, _ = errGroup.WriteTo(errOut, name) }
	}
	c := Cluster{Context: name, Factory: f, IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: clusterOut, ErrOut: cluErr}}
	if r.Output != "" {
		c.Output = "json"
	}
	set(&c)
	rep, err := r.guard(ctx, c)
	code := exitcode.Code(err)
	if err != nil && !errors.As(err, new(cmdutil.Silent)) {
		// The one clear line of a cluster that failed, among its own.
		fmt.Fprintf(cluErr, "error: %s\n", fleet.OneLine(err))
	}
	row := fleet.Row{Context: name, Result: fleet.ResultWord(code), ExitCode: code, Error: fleet.OneLine(err)}
	if rep == nil && r.Row != nil && (err == nil || code != exitcode.Error || !unreachable(err)) {
		rctx, cancel := context.WithTimeout(ctx, rowTimeout)
		rep, _ = r.Row(rctx, f) // a row without facts: the cluster's own error says why
		cancel()
	}
	row = fleet.FromReport(row, rep)
	if r.Output != "" && isJSON(report.Bytes()) {
		row.Report = bytes.TrimSpace(report.Bytes())
	}
	flushOut()
	flushErr()
	return row
}

// guard runs the job; a panic fails its cluster alone.
func (r *Runner) guard(ctx context.Context, c Cluster) (rep *status.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error on %s: %v", c.Context, p)
		}
	}()
	return r.Job(ctx, c)
}

// unreachable reports whether err says the cluster could not be reached,
// so its row is not read a second time.
func unreachable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "no such host") || strings.Contains(s, "i/o timeout")
}

func isJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// finish reports shared issuers, prints the summary (or the list) and
// returns the worst exit code with one line naming the clusters that did
// not succeed.
func (r *Runner) finish(rows []fleet.Row) error {
	shared := fleet.SharedIssuers(rows)
	fleet.MarkShared(rows, shared)
	if r.WarnSharedIssuers {
		for _, w := range fleet.Warnings(shared) {
			fmt.Fprintln(r.ErrOut, w)
		}
	}
	if r.Output != "" {
		if err := printer.Print(r.Out, r.Output, rows); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(r.Out)
		if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(fleet.Table(rows), r.Out); err != nil {
			return err
		}
	}
	codes := make([]int, len(rows))
	var bad []string
	for i, row := range rows {
		codes[i] = row.ExitCode
		if row.ExitCode != exitcode.OK {
			bad = append(bad, row.Context+" ("+row.Result+")")
		}
	}
	worst := fleet.Worst(codes)
	if worst == exitcode.OK {
		return nil
	}
	return exitcode.WithCode(worst, fmt.Errorf("%s: %d of %d clusters did not succeed: %s", r.Verb, len(bad), len(rows), strings.Join(bad, ", ")))
}

// RefuseOneClusterFlags refuses, in fleet mode, the flags that name one
// cluster's own fact or object: given once for every cluster, they would
// make the clusters collide (one bucket, one role) or lie (one cluster ID).
func RefuseOneClusterFlags(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return fmt.Errorf("--%s names one cluster's own, and %s in fleet mode runs on several: leave --%s out (each cluster uses what setup recorded there, or its own default), or run %s on that cluster alone with one --context",
				n, cmd.Name(), n, cmd.Name())
		}
	}
	return nil
}

// ReportRow is the summary row's read for a verb that reads no status
// report of its own: status's, as the cluster is once the verb is done.
type ReportRow func(ctx context.Context, f *cmdutil.Factory) (*status.Report, error)
