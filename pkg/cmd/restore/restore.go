// Package restore is `restore BACKUP` (velero restore create --from-backup):
// it finds the backup (waiting for a sync from the bucket), checks it can be
// restored here, creates the Restore and waits for it.
package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
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

var (
	restoreLong = templates.LongDesc(`
		Restore a Velero backup: create a velero.io/v1 Restore of BACKUP in the OADP
		namespace and, by default, wait for it to end, showing its phase and items
		restored. This is 'velero restore create NAME --from-backup BACKUP' with the
		same flags, plus a timeout, progress and exit codes that tell how it ended.

		Before creating anything it checks that the backup is Completed
		(PartiallyFailed only with --allow-partially-failed). On a cluster other than
		the one that made the backup, Velero must first sync it from the shared
		bucket: when BACKUP is not here yet, the command waits for the next sync of
		the default storage location (at most --sync-timeout). On an AWS STS cluster a
		backup stored in another AWS region is refused, since its volume snapshots
		cannot be restored here.

		The restore is named after the backup; when that name is taken, a timestamp
		is added and the name printed.

		--dry-run=client prints what would be created and creates nothing;
		--dry-run=server also sends it with dryRun=All. -o prints the Restore
		created (or that would be), and changes nothing else.`) + "\n\n" + velerorun.ExitCodesHelp

	restoreExample = templates.Examples(`
		# Restore the chapter's backup and wait for it
		kubectl oadp-sts restore hello-world

		# Restore into another namespace, overwriting what exists
		kubectl oadp-sts restore hello-world --namespace-mappings hello-world:hello-copy --existing-resource-policy update`)
)

// RestoreOptions are the restore command's inputs.
type RestoreOptions struct {
	Backup                 string
	Name                   string
	NamespaceMappings      []string
	IncludeNamespaces      []string
	ExistingResourcePolicy string
	AllowPartiallyFailed   bool
	SyncTimeout            time.Duration
	DryRun                 cmdutil.DryRun
	PrintFlags             *printer.ObjectFlags
	velerorun.WaitFlags

	mapping map[string]string
	printer printers.ResourcePrinter
	ns      string
	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns `restore BACKUP`.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RestoreOptions{factory: f, IOStreams: streams, PrintFlags: printer.NewObjectFlags("the Restore")}
	cmd := &cobra.Command{
		Use:                   "restore BACKUP [--name NAME] [--namespace-mappings OLD:NEW,...] [--wait] [--timeout 1h]",
		DisableFlagsInUseLine: true,
		Short:                 "Restore a Velero backup and wait for the result (velero restore create --from-backup)",
		Long:                  restoreLong,
		Example:               restoreExample,
		Args:                  cmdutil.Args(1, 1, "the name of one backup", "list them with 'kubectl oadp-sts get backups'"),
		ValidArgsFunction:     completion.BackupNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "the Restore's name (default: the backup's)")
	fl.StringSliceVar(&o.NamespaceMappings, "namespace-mappings", nil, "restore namespaces under other names: OLD:NEW,OLD2:NEW2")
	fl.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", nil, "restore only these of the backup's namespaces (default: all)")
	fl.StringVar(&o.ExistingResourcePolicy, "existing-resource-policy", "", "what to do with objects that exist already: none (keep them) or update")
	fl.BoolVar(&o.AllowPartiallyFailed, "allow-partially-failed", false, "restore from a PartiallyFailed backup too")
	fl.DurationVar(&o.SyncTimeout, "sync-timeout", 2*time.Minute, "how long to wait for a backup made on another cluster to sync from the bucket")
	o.PrintFlags.AddFlags(cmd)
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": client prints the Restore and creates nothing, server sends it with dryRun=All`)
	o.WaitFlags.Add(cmd, "restore", velerorun.DefaultTimeout)
	return cmd
}

// Complete fills in what the flags leave open.
func (o *RestoreOptions) Complete(args []string) {
	o.Backup = args[0]
	o.ns = o.factory.Namespace()
	if o.Name == "" {
		o.Name = o.Backup
	}
}

// Validate checks the input that needs no cluster.
func (o *RestoreOptions) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	p, err := o.PrintFlags.Printer()
	if err != nil {
		return err
	}
	o.printer = p
	if errs := validation.IsDNS1123Subdomain(o.Backup); len(errs) > 0 {
		return fmt.Errorf("%q is not a backup name: list the backups with 'kubectl oadp-sts get backups'", o.Backup)
	}
	if errs := validation.IsValidLabelValue(o.Name); len(errs) > 0 || validation.IsDNS1123Subdomain(o.Name) != nil {
		return fmt.Errorf("restore name %q is not usable (a DNS label of at most 63 characters): choose one with --name", o.Name)
	}
	m, err := velero.ParseNamespaceMappings(o.NamespaceMappings)
	if err != nil {
		return err
	}
	for from, to := range m {
		for _, n := range []string{from, to} {
			if len(validation.IsDNS1123Label(n)) > 0 {
				return fmt.Errorf("malformed --namespace-mappings entry %s:%s: %q is not a namespace name", from, to, n)
			}
		}
	}
	o.mapping = m
	if o.ExistingResourcePolicy != "" && !slices.Contains(velero.ExistingResourcePolicies, o.ExistingResourcePolicy) {
		return fmt.Errorf("--existing-resource-policy %q: use none (keep what exists) or update", o.ExistingResourcePolicy)
	}
	if o.SyncTimeout < 0 {
		return fmt.Errorf("--sync-timeout must not be negative, got %s", o.SyncTimeout)
	}
	return o.WaitFlags.Validate()
}

// Run checks the backup, creates the Restore and waits for it.
func (o *RestoreOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	b, err := o.findBackup(ctx, dyn)
	if err != nil {
		return err
	}
	if err := o.checkBackup(ctx, dyn, b); err != nil {
		return err
	}
	restores := dyn.Resource(gvr.Restore).Namespace(o.ns)
	if o.Name, err = velerorun.FreeName(ctx, restores, velerorun.Restore, o.Name, time.Now(), o.ErrOut); err != nil {
		return err
	}
	obj := velero.NewRestore(velero.RestoreOptions{
		Name: o.Name, Namespace: o.ns, BackupName: o.Backup,
		IncludedNamespaces: o.IncludeNamespaces, NamespaceMapping: o.mapping,
		ExistingResourcePolicy: o.ExistingResourcePolicy,
	})
	run := velerorun.Run{Kind: velerorun.Restore, Namespace: o.ns, DryRun: o.DryRun, Printer: o.printer, Out: o.Out, ErrOut: o.ErrOut}
	made, w, err := run.Create(ctx, restores, obj, o.Wait, "from backup "+o.Backup)
	if err != nil || made == nil {
		return err
	}
	if w != nil {
		defer w.Stop()
	}
	next := "check the restored workloads: 'oc get pods,routes -n NAMESPACE'"
	if !o.Wait {
		fmt.Fprintf(run.Say(), "Follow it with 'kubectl oadp-sts get restores %s%s'\n", o.Name, cmdutil.NamespaceFlag(o.ns))
		return nil
	}
	return velerorun.WaitReportAndExplain(ctx, dyn, velerorun.Insecure(o.factory), w, velerorun.Restore, o.Name, o.ns, o.Timeout, run.Say(), o.ErrOut, next)
}

// findBackup gets the backup, waiting for Velero's next sync from the bucket
// when it is not in this cluster (yet).
func (o *RestoreOptions) findBackup(ctx context.Context, dyn dynamic.Interface) (*unstructured.Unstructured, error) {
	backups := dyn.Resource(gvr.Backup).Namespace(o.ns)
	b, err := backups.Get(ctx, o.Backup, metav1.GetOptions{})
	if err == nil {
		return b, nil
	}
	if !apierrors.IsNotFound(err) || kube.IsTypeMissing(err) {
		return nil, kube.Explain(err, gvr.Backup, o.Backup)
	}
	notFound := fmt.Errorf("backup %q not found in %s: list the backups with 'kubectl oadp-sts get backups%s'", o.Backup, o.ns, cmdutil.NamespaceFlag(o.ns))
	if o.SyncTimeout == 0 {
		return nil, notFound
	}
	bsls := dyn.Resource(gvr.BSL).Namespace(o.ns)
	list, err := bsls.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, kube.Explain(err, gvr.BSL, "")
	}
	loc, err := velero.DefaultLocation(list.Items)
	if err != nil {
		return nil, fmt.Errorf("%w; and no storage location to sync it from: %w", notFound, err)
	}
	return o.awaitSync(ctx, backups, bsls, loc, notFound)
}

// awaitSync waits for the backup to appear or for a sync of location loc
// that finishes after now without it: Velero creates the synced Backups
// before it records status.lastSyncedTime.
func (o *RestoreOptions) awaitSync(ctx context.Context, backups, bsls dynamic.ResourceInterface, loc string, notFound error) (*unstructured.Unstructured, error) {
	since := time.Now().Truncate(time.Second)
	fmt.Fprintf(o.ErrOut, "Backup %q is not in this cluster; waiting up to %s for Velero to sync it from storage location %q.\n", o.Backup, o.SyncTimeout, loc)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	synced := make(chan error, 1)
	go func() {
		_, err := wait.For(ctx, bsls, loc, func(b *unstructured.Unstructured) (bool, error) {
			t, err := time.Parse(time.RFC3339, kube.Str(b.Object, "status", "lastSyncedTime"))
			return err == nil && !t.Before(since), nil
		}, wait.Options{What: "storage location " + loc, Out: o.ErrOut, Live: printer.IsTerminal(o.ErrOut), Progress: syncProgress(o.Backup)})
		synced <- err
	}()
	found := make(chan *unstructured.Unstructured, 1)
	go func() {
		b, err := wait.For(ctx, backups, o.Backup, func(*unstructured.Unstructured) (bool, error) { return true, nil }, wait.Options{})
		if err == nil {
			found <- b
		}
	}()
	timer := time.NewTimer(o.SyncTimeout)
	defer timer.Stop()
	select {
	case b := <-found:
		return b, nil
	case err := <-synced:
		if err != nil {
			return nil, err
		}
		// The sync is done; the backup may have come with it.
		b, err := backups.Get(ctx, o.Backup, metav1.GetOptions{})
		if err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("%w (nor in the bucket of storage location %q as of its last sync)", notFound, loc)
	case <-timer.C:
		// A wait that ran out of time (exit 5): the sync may still bring it.
		return nil, exitcode.WithCode(exitcode.Timeout, fmt.Errorf("%w (no sync from storage location %q within --sync-timeout %s; wait longer with --sync-timeout, and check the location with 'kubectl oadp-sts status')", notFound, loc, o.SyncTimeout))
	case <-ctx.Done():
		return nil, errors.New("stopped waiting for the backup to sync; nothing was created")
	}
}

// syncProgress says, while the backup is awaited, how the location last
// synced: its phase and when, so a location that never syncs shows it.
func syncProgress(backup string) func(*unstructured.Unstructured) string {
	return func(b *unstructured.Unstructured) string {
		phase := cmp.Or(kube.Str(b.Object, "status", "phase"), "not validated yet")
		last := kube.Str(b.Object, "status", "lastSyncedTime")
		if last == "" {
			return fmt.Sprintf("backup %s not synced yet; location %s, never synced", backup, phase)
		}
		return fmt.Sprintf("backup %s not synced yet; location %s, last synced %s", backup, phase, last)
	}
}

// checkBackup refuses backups that cannot be restored here.
func (o *RestoreOptions) checkBackup(ctx context.Context, dyn dynamic.Interface, b *unstructured.Unstructured) error {
	s := velero.ReadStatus(b)
	switch s.Phase {
	case velero.PhaseCompleted:
	case velero.PhasePartiallyFailed:
		if !o.AllowPartiallyFailed {
			return fmt.Errorf("backup %q is PartiallyFailed (%d errors): restore it anyway with --allow-partially-failed, or take a new backup", o.Backup, s.Errors)
		}
	case velero.PhaseFailed, velero.PhaseFailedValidation:
		return fmt.Errorf("backup %q is %s and cannot be restored: see why with 'kubectl oadp-sts describe backup %s%s'", o.Backup, s.Phase, o.Backup, cmdutil.NamespaceFlag(o.ns))
	default:
		return fmt.Errorf("backup %q is %s, not Completed: wait for it to finish ('kubectl oadp-sts get backups %s%s') and restore then", o.Backup, s.Phase, o.Backup, cmdutil.NamespaceFlag(o.ns))
	}
	return o.checkRegion(ctx, dyn, b)
}

// checkRegion refuses, on STS, a backup whose storage location is in another
// AWS region than the cluster: its EBS snapshots live in that region, and the
// restored volumes cannot be created from them here.
func (o *RestoreOptions) checkRegion(ctx context.Context, dyn dynamic.Interface, b *unstructured.Unstructured) error {
	loc := kube.Str(b.Object, "spec", "storageLocation")
	if loc == "" {
		return nil
	}
	bsl, err := dyn.Resource(gvr.BSL).Namespace(o.ns).Get(ctx, loc, metav1.GetOptions{})
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: cannot read storage location %q of backup %q (%v); not checking its region.\n", loc, o.Backup, kube.Explain(err, gvr.BSL, loc))
		return nil
	}
	region := kube.Str(bsl.Object, "spec", "config", "region")
	if region == "" {
		return nil
	}
	facts, err := clusterfacts.Discover(ctx, dyn, "")
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: cannot read the cluster's region (%v); not checking the backup's.\n", err)
		return nil
	}
	if !facts.STS || facts.Region == "" || strings.EqualFold(facts.Region, region) {
		return nil
	}
	return fmt.Errorf("backup %q is stored in AWS region %s (storage location %q) but this STS cluster runs in %s: its volume snapshots cannot be restored across regions with the cluster's short-term credentials; restore it on a cluster in %s, or back up again to a location in %s",
		o.Backup, region, loc, facts.Region, region, facts.Region)
}
