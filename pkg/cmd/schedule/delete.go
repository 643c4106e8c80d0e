package schedule

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/velerorun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// DeleteOptions are the inputs of `delete schedule NAME`.
type DeleteOptions struct {
	Name          string
	DeleteBackups bool
	Yes           bool
	Timeout       time.Duration
	DryRun        cmdutil.DryRun

	isTerminal func(any) bool
	factory    *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewDeleteCmd returns the `schedule` noun of `delete`.
func NewDeleteCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{factory: f, IOStreams: streams, isTerminal: printer.IsTerminal}
	cmd := &cobra.Command{
		Use:                   "schedule NAME [--delete-backups] [--yes] [--timeout 10m]",
		DisableFlagsInUseLine: true,
		Aliases:               Aliases,
		Short:                 "Delete a schedule; with --delete-backups its backups and their data too (velero schedule delete)",
		Long: templates.LongDesc(`
			Delete a schedule, so Velero makes no more backups from it. The backups it
			made stay, with their data, unless --delete-backups: then each goes through a
			DeleteBackupRequest (its files in the bucket and its snapshots too) and the
			command waits until they are gone.

			Asks for confirmation unless --yes; without a terminal to ask on, --yes is
			required.

			Exit codes: 0 deleted; 1 bad input, an unknown schedule or no confirmation,
			nothing deleted; 4 Velero reported errors deleting a backup; 5 the --timeout
			ran out (Velero carries on).`),
		Example: templates.Examples(`
			# Stop the nightly backups, keep the backups made so far
			kubectl oadp-sts delete schedule hello-nightly --yes

			# Delete the schedule and every backup it made, with their data
			kubectl oadp-sts delete schedule hello-nightly --delete-backups --yes`),
		Args:              cmdutil.Args(1, 1, "the name of one schedule", "list them with 'kubectl oadp-sts get schedules'"),
		ValidArgsFunction: completion.ScheduleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.DeleteBackups, "delete-backups", false, "also delete every backup the schedule made, with its data, and wait until they are gone")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "delete without asking")
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": say what would be deleted; server also sends the deletions with dryRun=All; neither deletes anything`)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", velerorun.DefaultDeleteTimeout, "with --delete-backups, how long to wait for them to go (exit code 5); Velero carries on")
	return cmd
}

// Validate checks the flags.
func (o *DeleteOptions) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s: give a duration such as 10m", o.Timeout)
	}
	return nil
}

// Run confirms, deletes the schedule, then its backups if asked.
func (o *DeleteOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	scheds := dyn.Resource(gvr.Schedule).Namespace(ns)
	if _, err := scheds.Get(ctx, o.Name, metav1.GetOptions{}); err != nil {
		return notFound(err, o.Name, ns)
	}
	bl, err := dyn.Resource(gvr.Backup).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: velero.LabelScheduleName + "=" + o.Name})
	if err != nil {
		return kube.Explain(err, gvr.Backup, "")
	}
	backups := bl.Items
	sort.Slice(backups, func(i, j int) bool { return backups[i].GetName() < backups[j].GetName() })
	if o.DryRun.Any() {
		return o.dryRun(ctx, dyn, ns, backups)
	}
	if !o.Yes {
		if !o.isTerminal(o.In) {
			return fmt.Errorf("refusing to delete schedule %q without confirmation: there is no terminal to ask on; pass --yes", o.Name)
		}
		q := fmt.Sprintf("Delete schedule %q? The backups it made (%d) are kept.", o.Name, len(backups))
		if o.DeleteBackups {
			q = fmt.Sprintf("Delete schedule %q and its %s with their data in object storage? This cannot be undone.", o.Name, backupCount(len(backups)))
		}
		if !cmdutil.Confirm(o.In, o.ErrOut, q) {
			return errors.New("not deleted")
		}
	}
	// The schedule goes first, so it makes no backup while its backups go.
	if err := scheds.Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cannot delete schedule %q: %w", o.Name, kube.Explain(err, gvr.Schedule, o.Name))
	}
	fmt.Fprintf(o.Out, "schedule.velero.io/%s deleted\n", o.Name)
	if !o.DeleteBackups {
		if len(backups) > 0 {
			fmt.Fprintf(o.Out, "Backups it made, kept: %d; delete them with 'kubectl oadp-sts delete backup NAME' or list them with 'kubectl oadp-sts get backups --schedule %s%s'.\n", len(backups), o.Name, cmdutil.NamespaceFlag(ns))
		}
		return nil
	}
	return o.deleteBackups(ctx, dyn, ns, backups)
}

// dryRun says what would be deleted; with server it sends the schedule's
// deletion and each DeleteBackupRequest with dryRun=All.
func (o *DeleteOptions) dryRun(ctx context.Context, dyn dynamic.Interface, ns string, backups []unstructured.Unstructured) error {
	if o.DryRun == cmdutil.DryRunServer {
		if err := dyn.Resource(gvr.Schedule).Namespace(ns).Delete(ctx, o.Name, metav1.DeleteOptions{DryRun: o.DryRun.Options()}); err != nil {
			return fmt.Errorf("cannot delete schedule %q: %w", o.Name, kube.Explain(err, gvr.Schedule, o.Name))
		}
	}
	fmt.Fprintf(o.Out, "schedule.velero.io/%s deleted%s\n", o.Name, o.DryRun.Suffix())
	if !o.DeleteBackups {
		return nil
	}
	dbrs := dyn.Resource(gvr.DeleteBackupRequest).Namespace(ns)
	for i := range backups {
		b := &backups[i]
		if o.DryRun == cmdutil.DryRunServer {
			if _, err := dbrs.Create(ctx, velero.NewDeleteBackupRequest(ns, b.GetName(), string(b.GetUID())), metav1.CreateOptions{DryRun: o.DryRun.Options()}); err != nil {
				return fmt.Errorf("cannot request the deletion of backup %q: %w", b.GetName(), kube.Explain(err, gvr.DeleteBackupRequest, ""))
			}
		}
		fmt.Fprintf(o.Out, "backup.velero.io/%s and its data deleted%s\n", b.GetName(), o.DryRun.Suffix())
	}
	return nil
}

// deleteBackups asks Velero to delete each backup with its data and waits
// until all are gone, or Velero says why one cannot go.
func (o *DeleteOptions) deleteBackups(ctx context.Context, dyn dynamic.Interface, ns string, backups []unstructured.Unstructured) error {
	if len(backups) == 0 {
		return nil
	}
	fmt.Fprintf(o.ErrOut, "Waiting for %s to be deleted (timeout %s). Ctrl-C stops the waiting, not the deletion.\n", backupCount(len(backups)), o.Timeout)
	start := time.Now()
	var (
		mu       sync.Mutex
		failed   []string
		timedOut []string
		other    []error
		wg       sync.WaitGroup
	)
	for i := range backups {
		b := &backups[i]
		wg.Go(func() {
			errs, err := deleteBackup(ctx, dyn, ns, b, o.Timeout)
			mu.Lock()
			defer mu.Unlock()
			var te *wait.TimeoutError
			switch {
			case len(errs) > 0:
				failed = append(failed, fmt.Sprintf("%s: %s", b.GetName(), strings.Join(errs, "; ")))
			case errors.As(err, &te):
				timedOut = append(timedOut, b.GetName())
			case err != nil:
				other = append(other, err)
			default:
				fmt.Fprintf(o.Out, "backup.velero.io/%s and its data deleted\n", b.GetName())
			}
		})
	}
	wg.Wait()
	if len(other) > 0 {
		return errors.Join(other...)
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		for _, f := range failed {
			fmt.Fprintf(o.Out, "  error: %s\n", f)
		}
		return exitcode.WithCode(exitcode.Failed, cmdutil.Silent{Err: fmt.Errorf("velero could not delete %d backups of schedule %q", len(failed), o.Name)})
	}
	if len(timedOut) > 0 {
		sort.Strings(timedOut)
		return exitcode.Errorf(exitcode.Timeout, "timed out after %s waiting for backups %s to be deleted; Velero carries on: follow them with 'kubectl oadp-sts get backups --schedule %s%s'",
			o.Timeout, strings.Join(timedOut, ", "), o.Name, cmdutil.NamespaceFlag(ns))
	}
	fmt.Fprintf(o.Out, "Schedule %q and its %s deleted in %s.\n", o.Name, backupCount(len(backups)), wait.Elapsed(time.Since(start)))
	return nil
}

func backupCount(n int) string {
	if n == 1 {
		return "1 backup"
	}
	return fmt.Sprintf("%d backups", n)
}

// deleteBackup creates the DeleteBackupRequest for b and waits for b to go.
// When Velero processes the request with errors and keeps the backup, it
// returns those errors.
func deleteBackup(ctx context.Context, dyn dynamic.Interface, ns string, b *unstructured.Unstructured, timeout time.Duration) ([]string, error) {
	backups := dyn.Resource(gvr.Backup).Namespace(ns)
	w, err := wait.Start(ctx, backups, b.GetName())
	if err != nil {
		return nil, kube.Explain(err, gvr.Backup, b.GetName())
	}
	defer w.Stop()
	dbrs := dyn.Resource(gvr.DeleteBackupRequest).Namespace(ns)
	req, err := dbrs.Create(ctx, velero.NewDeleteBackupRequest(ns, b.GetName(), string(b.GetUID())), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot request the deletion of backup %q: %w", b.GetName(), kube.Explain(err, gvr.DeleteBackupRequest, ""))
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	processed := make(chan []string, 1)
	go func() {
		r, err := wait.For(wctx, dbrs, req.GetName(), func(r *unstructured.Unstructured) (bool, error) {
			return kube.Str(r.Object, "status", "phase") == velero.PhaseProcessed, nil
		}, wait.Options{})
		if err == nil {
			errs, _, _ := unstructured.NestedStringSlice(r.Object, "status", "errors")
			processed <- errs
		}
	}()
	gone := make(chan error, 1)
	go func() { gone <- w.Deleted(wctx, wait.Options{What: "backup " + b.GetName(), Timeout: timeout}) }()
	for {
		select {
		case err := <-gone:
			return nil, err
		case errs := <-processed:
			if len(errs) > 0 {
				return errs, nil
			}
		}
	}
}
