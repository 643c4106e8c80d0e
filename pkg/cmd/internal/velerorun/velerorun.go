// Package velerorun holds what the commands that run Velero backups and
// restores share (backup, restore, get, describe, delete): the wait on a
// Backup or Restore until it ends, its summary and exit code, free names,
// and the files Velero stored about it. It decides nothing a command alone
// decides; each command lives in pkg/cmd/<verb>.
package velerorun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// DefaultTimeout bounds --wait for backups and restores.
const DefaultTimeout = time.Hour

// ExitCodesHelp is the exit-code paragraph of --help for commands that wait
// on a backup or restore.
const ExitCodesHelp = `Exit codes: 0 Completed (or created, with --wait=false); 1 bad input or an
API error (nothing created), or Ctrl-C while waiting; 3 PartiallyFailed;
4 Failed or FailedValidation; 5 the --timeout ran out (Velero carries on).`

// DefaultDeleteTimeout bounds the wait for backups' deletion (delete backup,
// delete schedule --delete-backups); Velero deletes a backup's files and
// snapshots in seconds to minutes.
const DefaultDeleteTimeout = 10 * time.Minute

// WaitFlags are --wait and --timeout, shared by the commands that wait.
type WaitFlags struct {
	Wait    bool
	Timeout time.Duration
}

func (w *WaitFlags) Add(cmd *cobra.Command, what string, def time.Duration) {
	cmd.Flags().BoolVarP(&w.Wait, "wait", "w", true, "wait until the "+what+" ends, showing progress; --wait=false returns once it is created")
	cmd.Flags().DurationVar(&w.Timeout, "timeout", def, "how long to wait before giving up (exit code 5); the "+what+" itself continues")
}

func (w *WaitFlags) Validate() error {
	if w.Wait && w.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s: give a duration such as 30m or 2h, or --wait=false to not wait", w.Timeout)
	}
	return nil
}

// Kind describes Backup or Restore for the shared wait and summary code.
type Kind struct {
	Noun      string // "backup"
	GVR       schema.GroupVersionResource
	ItemsVerb string // "backed up"
}

var (
	Backup  = Kind{Noun: "backup", GVR: gvr.Backup, ItemsVerb: "backed up"}
	Restore = Kind{Noun: "restore", GVR: gvr.Restore, ItemsVerb: "restored"}
)

// Run is how a command that makes a Backup or Restore says what it made:
// through -o's printer when one is given (its human lines then go to
// ErrOut, so stdout carries only the object), else kubectl's
// "kind/name created" line.
type Run struct {
	Kind      Kind
	Namespace string
	DryRun    cmdutil.DryRun
	Printer   printers.ResourcePrinter
	Out       io.Writer
	ErrOut    io.Writer
}

// Say is where the human lines go.
func (r Run) Say() io.Writer {
	if r.Printer != nil {
		return r.ErrOut
	}
	return r.Out
}

// Create creates obj, first starting a watch on it when the caller will
// wait, so even a backup or restore that ends at once is seen, and says
// what it made (detail follows the created line). With --dry-run=client it
// sends nothing, with server it sends obj with dryRun=All; either way it
// returns a nil object, as there is nothing to wait for. The returned watch
// is nil without waitFor; the caller stops it.
func (r Run) Create(ctx context.Context, client dynamic.ResourceInterface, obj *unstructured.Unstructured, waitFor bool, detail string) (*unstructured.Unstructured, *wait.Watch, error) {
	name := obj.GetName()
	if r.DryRun == cmdutil.DryRunClient {
		return nil, nil, r.said(obj, detail)
	}
	var w *wait.Watch
	if waitFor && !r.DryRun.Any() {
		var err error
		if w, err = wait.Start(ctx, client, name); err != nil {
			return nil, nil, kube.Explain(err, r.Kind.GVR, name)
		}
	}
	made, err := client.Create(ctx, obj, metav1.CreateOptions{DryRun: r.DryRun.Options()})
	if err != nil {
		if w != nil {
			w.Stop()
		}
		return nil, nil, fmt.Errorf("cannot create %s %q: %w", r.Kind.Noun, name, kube.Explain(err, r.Kind.GVR, name))
	}
	if err := r.said(made, detail); err != nil || r.DryRun.Any() {
		if w != nil {
			w.Stop()
		}
		return nil, nil, err
	}
	return made, w, nil
}

func (r Run) said(obj *unstructured.Unstructured, detail string) error {
	if r.Printer != nil {
		return r.Printer.PrintObj(obj, r.Out)
	}
	_, err := fmt.Fprintf(r.Out, "%s.velero.io/%s created%s in %s %s\n", r.Kind.Noun, obj.GetName(), r.DryRun.Suffix(), r.Namespace, detail)
	return err
}

// progressText is the live line: phase, items done of total.
func progressText(obj *unstructured.Unstructured) string {
	s := velero.ReadStatus(obj)
	line := s.Phase
	if s.TotalItems > 0 || s.Items > 0 {
		line += fmt.Sprintf("  %d/%d items", s.Items, s.TotalItems)
	}
	if s.Warnings > 0 || s.Errors > 0 {
		line += fmt.Sprintf("  %d warnings, %d errors", s.Warnings, s.Errors)
	}
	return line
}

// terminal is the wait condition for backups and restores.
func terminal(obj *unstructured.Unstructured) (bool, error) {
	return velero.Terminal(velero.ReadStatus(obj).Phase), nil
}

// waitAndReport waits on a started watch until the object ends, prints the
// summary and the next command, and returns an error carrying the exit code
// that matches the phase.
func waitAndReport(ctx context.Context, w *wait.Watch, k Kind, name, ns string, timeout time.Duration, out, errOut io.Writer, next string) error {
	what := fmt.Sprintf("%s %q", k.Noun, name)
	fmt.Fprintf(errOut, "Waiting for %s to finish (timeout %s). Ctrl-C stops the waiting, not the %s.\n", what, Short(timeout), k.Noun)
	start := time.Now()
	obj, err := w.For(ctx, terminal, wait.Options{
		What: what, Timeout: timeout, Progress: progressText,
		Out: errOut, Live: printer.IsTerminal(errOut),
	})
	check := fmt.Sprintf("kubectl oadp-sts describe %s %s%s", k.Noun, name, cmdutil.NamespaceFlag(ns))
	var ie *wait.InterruptedError
	switch {
	case errors.As(err, &ie):
		return fmt.Errorf("%w; follow it with '%s'", err, check)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Errorf("%w (see where it is with '%s')", err, check)
	case err != nil:
		return err
	}
	return report(out, k, name, ns, obj, time.Since(start), next)
}

func isTimeout(err error) bool {
	var te *wait.TimeoutError
	return errors.As(err, &te)
}

// report prints the end-of-wait summary and maps the phase to an exit code.
func report(out io.Writer, k Kind, name, ns string, obj *unstructured.Unstructured, waited time.Duration, next string) error {
	s := velero.ReadStatus(obj)
	d := s.Duration(time.Now())
	if d == 0 {
		d = waited
	}
	title := strings.ToUpper(k.Noun[:1]) + k.Noun[1:]
	fmt.Fprintf(out, "%s %q %s in %s: %d of %d items %s, %d warnings, %d errors.\n",
		title, name, s.Phase, wait.Elapsed(d), s.Items, s.TotalItems, k.ItemsVerb, s.Warnings, s.Errors)
	describe := fmt.Sprintf("kubectl oadp-sts describe %s %s%s", k.Noun, name, cmdutil.NamespaceFlag(ns))
	switch s.Phase {
	case velero.PhaseCompleted:
		if s.Warnings > 0 {
			fmt.Fprintf(out, "See the warnings with '%s'.\n", describe)
		}
		if next != "" {
			fmt.Fprintf(out, "Next: %s\n", next)
		}
		return nil
	case velero.PhasePartiallyFailed:
		fmt.Fprintf(out, "Some items failed: see which with '%s --details'.\n", describe)
		return exitcode.WithCode(exitcode.PartiallyFailed, cmdutil.Silent{Err: fmt.Errorf("%s %q partially failed", k.Noun, name)})
	}
	for _, v := range s.ValidationErrors {
		fmt.Fprintf(out, "  validation error: %s\n", v)
	}
	if s.FailureReason != "" {
		fmt.Fprintf(out, "  failure reason: %s\n", s.FailureReason)
	}
	fmt.Fprintf(out, "Fix the cause, then run it again; details: '%s'.\n", describe)
	return exitcode.WithCode(exitcode.Failed, cmdutil.Silent{Err: fmt.Errorf("%s %q %s", k.Noun, name, s.Phase)})
}

// FreeName returns name when no object has it, else name-<timestamp>,
// saying so on errOut.
func FreeName(ctx context.Context, c dynamic.ResourceInterface, k Kind, name string, now time.Time, errOut io.Writer) (string, error) {
	_, err := c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return name, nil
		}
		return "", kube.Explain(err, k.GVR, name)
	}
	stamp := "-" + now.Format("20060102150405")
	// Keep within the 63 characters Velero's name labels allow.
	alt := name[:min(len(name), 63-len(stamp))] + stamp
	fmt.Fprintf(errOut, "A %s named %q exists already; naming this one %q.\n", k.Noun, name, alt)
	return alt, nil
}

// Names completes backup or restore names.
func Names(f *cmdutil.Factory, k Kind) cobra.CompletionFunc {
	if k.Noun == "restore" {
		return completion.RestoreNames(f)
	}
	return completion.BackupNames(f)
}

// Short writes a duration without its zero tails: 1h, 90m, 30s.
func Short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// NotFoundHint adds to err how to list the objects of kind k in ns.
func NotFoundHint(err error, k Kind, ns string) error {
	return fmt.Errorf("%w: list them with 'kubectl oadp-sts get %ss%s'", err, k.Noun, cmdutil.NamespaceFlag(ns))
}

// NodeAgentOn refuses file-system backup, or the Data Mover, when the DPA
// keeps the node agent off: Velero would accept the Backup and then fail
// every pod volume (or DataUpload) of it. flag is the backup's or schedule's
// flag that needs the agent, setupFlag the setup flag that turns it on.
func NodeAgentOn(ctx context.Context, dyn dynamic.Interface, ns, flag, setupFlag string) error {
	l, err := dyn.Resource(gvr.DPA).Namespace(ns).List(ctx, metav1.ListOptions{})
	switch {
	case kube.IsTypeMissing(err), apierrors.IsForbidden(err):
		return nil // no DPA to read (Velero installed otherwise, or no rights): Velero decides
	case err != nil:
		return kube.Explain(err, gvr.DPA, "")
	}
	// The node agent is one DaemonSet per namespace: any DPA that turns it
	// on runs it for all.
	if len(l.Items) == 0 || slices.ContainsFunc(l.Items, func(d unstructured.Unstructured) bool { return manifests.FSBackupEnabled(&d) }) {
		return nil
	}
	names := make([]string, len(l.Items))
	for i := range l.Items {
		names[i] = "dataprotectionapplication/" + l.Items[i].GetName()
	}
	sort.Strings(names)
	return fmt.Errorf("%s needs OADP's node agent, and %s keeps it off: run 'kubectl oadp-sts setup %s' first", flag, strings.Join(names, ", "), setupFlag)
}
