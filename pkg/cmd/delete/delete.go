// Package delete is `delete backup NAME` (velero backup delete): a
// DeleteBackupRequest and the wait until the Backup is gone;
// pkg/cmd/schedule adds `delete schedule`.
package delete

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
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

// NewCmd returns `delete`, with `backup` under it.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a Velero backup with its data, or a schedule (velero backup delete, schedule delete)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newDeleteBackupCmd(f, streams))
	return cmd
}

// DeleteOptions are the inputs of `delete backup NAME`.
type DeleteOptions struct {
	Name   string
	Yes    bool
	DryRun cmdutil.DryRun
	velerorun.WaitFlags

	// isTerminal decides whether a question can be asked on In.
	isTerminal func(any) bool
	factory    *cmdutil.Factory
	genericiooptions.IOStreams
}

func newDeleteBackupCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{factory: f, IOStreams: streams, isTerminal: printer.IsTerminal}
	cmd := &cobra.Command{
		Use:                   "backup NAME [--yes] [--wait] [--timeout 10m]",
		DisableFlagsInUseLine: true,
		Short:                 "Delete a backup and its data in object storage, and wait until it is gone (velero backup delete)",
		Long: templates.LongDesc(`
			Delete a Velero backup together with its data: create a DeleteBackupRequest,
			which makes Velero remove the backup's files from the bucket, its volume
			snapshots and its restores, then the Backup itself; and wait until the Backup
			is gone. This is 'velero backup delete NAME', plus the wait.

			'oc delete backup' is not the same: it leaves the data in the bucket, and
			Velero's next sync brings the Backup back.

			Asks for confirmation unless --yes; without a terminal to ask on, --yes is
			required. Errors Velero reports on the request (status.errors) are printed.

			Exit codes: 0 the backup is gone (or the request is created, with
			--wait=false); 1 bad input, an unknown backup or no confirmation, nothing
			created; 4 Velero reported errors and kept the backup; 5 the --timeout ran
			out (Velero carries on).`),
		Example: templates.Examples(`
			# Delete the chapter's backup and its data, without asking
			kubectl oadp-sts delete backup hello-world --yes`),
		Args:              cmdutil.Args(1, 1, "the name of one backup", "list them with 'kubectl oadp-sts get backups'"),
		ValidArgsFunction: completion.BackupNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "delete without asking")
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": client only checks the backup exists, server also sends the DeleteBackupRequest with dryRun=All; neither deletes anything`)
	o.WaitFlags.Add(cmd, "deletion", velerorun.DefaultDeleteTimeout)
	return cmd
}

// Validate checks the flags.
func (o *DeleteOptions) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	return o.WaitFlags.Validate()
}

// Run confirms, creates the DeleteBackupRequest and waits for the Backup to go.
func (o *DeleteOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	backups := dyn.Resource(gvr.Backup).Namespace(ns)
	b, err := backups.Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return velerorun.NotFoundHint(kube.Explain(err, gvr.Backup, o.Name), velerorun.Backup, ns)
	}
	dbrs := dyn.Resource(gvr.DeleteBackupRequest).Namespace(ns)
	req := velero.NewDeleteBackupRequest(ns, o.Name, string(b.GetUID()))
	switch o.DryRun {
	case cmdutil.DryRunClient:
		fmt.Fprintf(o.Out, "deletebackuprequest.velero.io created (dry run): Velero would delete backup %q with its data\n", o.Name)
		return nil
	case cmdutil.DryRunServer:
		made, err := dbrs.Create(ctx, req, metav1.CreateOptions{DryRun: o.DryRun.Options()})
		if err != nil {
			return fmt.Errorf("cannot request the deletion of backup %q: %w", o.Name, kube.Explain(err, gvr.DeleteBackupRequest, ""))
		}
		fmt.Fprintf(o.Out, "deletebackuprequest.velero.io/%s created (server dry run): Velero would delete backup %q with its data\n", made.GetName(), o.Name)
		return nil
	}
	if !o.Yes {
		if !o.isTerminal(o.In) {
			return fmt.Errorf("refusing to delete backup %q without confirmation: there is no terminal to ask on; pass --yes", o.Name)
		}
		if !o.confirm(b) {
			return errors.New("not deleted")
		}
	}
	var w *wait.Watch
	if o.Wait {
		if w, err = wait.Start(ctx, backups, o.Name); err != nil {
			return kube.Explain(err, gvr.Backup, o.Name)
		}
		defer w.Stop()
	}
	made, err := dbrs.Create(ctx, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("cannot request the deletion of backup %q: %w", o.Name, kube.Explain(err, gvr.DeleteBackupRequest, ""))
	}
	fmt.Fprintf(o.Out, "deletebackuprequest.velero.io/%s created: Velero deletes backup %q with its data\n", made.GetName(), o.Name)
	if !o.Wait {
		fmt.Fprintf(o.Out, "Follow it with 'kubectl oadp-sts describe backup %s%s'\n", o.Name, cmdutil.NamespaceFlag(ns))
		return nil
	}
	return o.await(ctx, w, dbrs, made.GetName(), ns)
}

// await waits for the Backup to be gone while watching the request, which
// is where Velero says why it could not delete.
func (o *DeleteOptions) await(ctx context.Context, w *wait.Watch, dbrs dynamic.ResourceInterface, reqName, ns string) error {
	what := fmt.Sprintf("backup %q", o.Name)
	fmt.Fprintf(o.ErrOut, "Waiting for %s to be deleted (timeout %s). Ctrl-C stops the waiting, not the deletion.\n", what, velerorun.Short(o.Timeout))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	processed := make(chan *unstructured.Unstructured, 1)
	go func() {
		r, err := wait.For(wctx, dbrs, reqName, func(r *unstructured.Unstructured) (bool, error) {
			return kube.Str(r.Object, "status", "phase") == velero.PhaseProcessed, nil
		}, wait.Options{})
		if err == nil {
			processed <- r
		}
	}()
	gone := make(chan error, 1)
	start := time.Now()
	go func() {
		gone <- w.Deleted(wctx, wait.Options{What: what, Timeout: o.Timeout, Out: o.ErrOut, Live: printer.IsTerminal(o.ErrOut),
			Progress: func(b *unstructured.Unstructured) string { return "backup " + velero.ReadStatus(b).Phase }})
	}()
	for {
		select {
		case err := <-gone:
			var ie *wait.InterruptedError
			switch {
			case errors.As(err, &ie):
				return fmt.Errorf("%w; follow it with 'kubectl oadp-sts get backups %s%s'", err, o.Name, cmdutil.NamespaceFlag(ns))
			case err != nil:
				return err
			}
			fmt.Fprintf(o.Out, "Backup %q and its data deleted in %s.\n", o.Name, wait.Elapsed(time.Since(start)))
			return nil
		case r := <-processed:
			errs, _, _ := unstructured.NestedStringSlice(r.Object, "status", "errors")
			if len(errs) == 0 {
				continue // the Backup goes next
			}
			cancel()
			<-gone //nolint:errcheck // the wait cancelled just above: its error says only that
			fmt.Fprintf(o.Out, "Velero could not delete backup %q (deletebackuprequest %s):\n", o.Name, reqName)
			for _, e := range errs {
				fmt.Fprintf(o.Out, "  error: %s\n", e)
			}
			return exitcode.WithCode(exitcode.Failed, cmdutil.Silent{Err: fmt.Errorf("backup %q not deleted: %s", o.Name, strings.Join(errs, "; "))})
		}
	}
}

// confirm asks on the terminal; only y or yes agree.
func (o *DeleteOptions) confirm(b *unstructured.Unstructured) bool {
	return cmdutil.Confirm(o.In, o.ErrOut, fmt.Sprintf("Delete backup %q (namespaces %s, location %s) and its data in object storage? This cannot be undone.",
		o.Name, printer.OrNone(joined(b.Object, "spec", "includedNamespaces")), printer.OrNone(kube.Str(b.Object, "spec", "storageLocation"))))
}

func joined(o map[string]any, fields ...string) string {
	s, _, _ := unstructured.NestedStringSlice(o, fields...)
	return strings.Join(s, ", ")
}
