// Package logs implements `logs backup NAME` and `logs restore NAME`: Velero's
// log of one backup or restore, which the Velero server uploads to the
// storage location when the operation ends, fetched through a DownloadRequest
// and streamed to stdout (velero backup logs, velero restore logs).
package logs

import (
	"context"
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
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/download"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

// NewCmd returns `logs` with `backup` and `restore` under it.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print Velero's log of a backup or restore (velero backup logs, velero restore logs)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmd(f, streams, backupKind), newCmd(f, streams, restoreKind))
	return cmd
}

// kind is a Velero kind with the DownloadRequest target of its log.
type kind struct {
	velerorun.Kind
	Target string
	Names  func(completion.Source) cobra.CompletionFunc
}

var (
	backupKind  = kind{Kind: velerorun.Backup, Target: velero.TargetBackupLog, Names: completion.BackupNames}
	restoreKind = kind{Kind: velerorun.Restore, Target: velero.TargetRestoreLog, Names: completion.RestoreNames}
)

// Options are the inputs of `logs backup|restore NAME`.
type Options struct {
	Name    string
	Timeout time.Duration

	kind    kind
	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

func newCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams, k kind) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams, kind: k}
	cmd := &cobra.Command{
		Use:   k.Noun + " NAME [--timeout 1m]",
		Short: fmt.Sprintf("Print Velero's log of a %s from the storage location (velero %s logs)", k.Noun, k.Noun),
		Long: templates.LongDesc(fmt.Sprintf(`
			Print Velero's log of a %[1]s: the plugin asks the Velero server for it with a
			DownloadRequest, fetches the signed URL Velero answers with (trusting the
			storage location's caCert when it has one), and streams the log, gunzipped,
			to stdout as it arrives. The DownloadRequest is deleted afterwards, also on
			Ctrl-C. 'velero %[1]s logs NAME' in Velero's CLI.

			Velero uploads the log when the %[1]s ends, so a %[1]s still running is
			refused; so is one that failed validation, for which Velero stores nothing.
			--timeout bounds the wait for Velero's answer (exit code 5).
			--insecure-skip-tls-verify, the kubectl flag, also skips the certificate check
			of object storage: only when you accept the risk.`, k.Noun)),
		Example: templates.Examples(fmt.Sprintf(`
			# The log of the chapter's %[1]s
			kubectl oadp-sts logs %[1]s hello-world

			# Only what went wrong
			kubectl oadp-sts logs %[1]s hello-world | grep -E 'level=(error|warning)'`, k.Noun)),
		DisableFlagsInUseLine: true,
		Args:                  cmdutil.Args(1, 1, "the name of one "+k.Noun, "list them with 'kubectl oadp-sts get "+k.Noun+"s'"),
		ValidArgsFunction:     k.Names(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", download.DefaultTimeout, "how long to wait for Velero to answer the DownloadRequest")
	return cmd
}

// Validate checks the flags.
func (o *Options) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s: give a duration such as 1m", o.Timeout)
	}
	return nil
}

// Run checks that the log exists by now and streams it.
func (o *Options) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	u, err := dyn.Resource(o.kind.GVR).Namespace(ns).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return velerorun.NotFoundHint(kube.Explain(err, o.kind.GVR, o.Name), o.kind.Kind, ns)
	}
	if err := Ready(u); err != nil {
		return err
	}
	loc, err := location(ctx, dyn, u)
	if err != nil {
		return err
	}
	ca, err := download.LocationCACert(ctx, dyn, ns, loc)
	if err != nil {
		return err
	}
	opts := download.Options{Timeout: o.Timeout, CACert: ca, Progress: o.ErrOut, Live: printer.IsTerminal(o.ErrOut)}
	if f := o.factory.ConfigFlags.Insecure; f != nil {
		opts.InsecureSkipTLSVerify = *f
	}
	err = download.Stream(ctx, dyn, ns, o.kind.Target, o.Name, o.Out, opts)
	if err == download.ErrNotFound {
		return fmt.Errorf("velero's log of %s %q is not in storage location %q (deleted from the bucket, or the %s never got that far): see 'kubectl oadp-sts describe %s %s%s'",
			o.kind.Noun, o.Name, loc, o.kind.Noun, o.kind.Noun, o.Name, cmdutil.NamespaceFlag(ns))
	}
	return err
}

// Ready refuses a backup or restore whose log Velero has not uploaded: one
// still running (Velero uploads it at the end) or one that failed validation
// (Velero stores nothing for it).
func Ready(u *unstructured.Unstructured) error {
	noun := strings.ToLower(u.GetKind())
	s := velero.ReadStatus(u)
	switch {
	case s.Phase == velero.PhaseFailedValidation:
		return fmt.Errorf("%s %q failed validation, and Velero stores no log for it: see why with 'kubectl oadp-sts describe %s %s%s'",
			noun, u.GetName(), noun, u.GetName(), cmdutil.NamespaceFlag(u.GetNamespace()))
	case !velero.Terminal(s.Phase):
		return fmt.Errorf("%s %q is %s: Velero uploads its log when it ends; wait for it ('kubectl oadp-sts get %ss %s%s') and run this again",
			noun, u.GetName(), s.Phase, noun, u.GetName(), cmdutil.NamespaceFlag(u.GetNamespace()))
	}
	return nil
}

// location is the storage location that holds a backup's files, or a
// restore's (its backup's).
func location(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured) (string, error) {
	if u.GetKind() != "Restore" {
		return kube.Str(u.Object, "spec", "storageLocation"), nil
	}
	b, err := dyn.Resource(gvr.Backup).Namespace(u.GetNamespace()).Get(ctx, kube.Str(u.Object, "spec", "backupName"), metav1.GetOptions{})
	if err != nil {
		return "", nil //nolint:nilerr // the backup is gone: Velero still knows where the restore's files are
	}
	return kube.Str(b.Object, "spec", "storageLocation"), nil
}
