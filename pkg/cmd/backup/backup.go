// Package backup is `backup NAMESPACE...` (velero backup create): it checks the
// namespaces and the storage location, builds the Backup with pkg/velero,
// creates it and waits for it with pkg/cmd/internal/velerorun.
package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/velerorun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

var (
	backupLong = templates.LongDesc(`
		Back up one or more namespaces with Velero: create a velero.io/v1 Backup in the
		OADP namespace and, by default, wait for it to end, showing its phase and
		items backed up. This is 'velero backup create NAME --include-namespaces
		NAMESPACE...' with the same flags, plus a timeout, progress and exit codes
		that tell how the backup ended.

		The backup is named after the namespaces (--name to choose); when that name
		is taken, a timestamp is added and the name printed. It goes to the default
		backup storage location unless --storage-location names another, and that
		location must be Available. Every namespace must exist. All of this is
		checked before anything is created.

		--dry-run=client prints what would be created and creates nothing;
		--dry-run=server also sends it with dryRun=All. -o prints the Backup
		created (or that would be), and changes nothing else: without --dry-run
		the backup is created and waited for.`) + "\n\n" + velerorun.ExitCodesHelp

	backupExample = templates.Examples(`
		# Back up the hello-world namespace and wait for it (the chapter's backup)
		kubectl oadp-sts backup hello-world

		# Two namespaces, kept for a week, without waiting
		kubectl oadp-sts backup shop db --name shop-weekly --ttl 168h --wait=false

		# Only what carries a label, without volume snapshots
		kubectl oadp-sts backup shop --selector app=web --snapshot-volumes=false

		# Show the Backup that would be created, create nothing
		kubectl oadp-sts backup hello-world --dry-run=client -o yaml

		# Back up now from a schedule's template, as its next run would
		kubectl oadp-sts backup --from-schedule hello-nightly`)
)

// BackupOptions are the backup command's inputs.
type BackupOptions struct {
	Namespaces       []string
	Name             string
	TTL              time.Duration
	StorageLocation  string
	Selector         string
	IncludeResources []string
	ExcludeResources []string
	SnapshotVolumes  bool
	FSBackup         bool
	SnapshotMoveData bool
	DryRun           cmdutil.DryRun
	PrintFlags       *printer.ObjectFlags
	// FromSchedule takes namespaces and options from a schedule's template.
	FromSchedule string
	velerorun.WaitFlags

	snapshotSet           bool
	fsBackupSet           bool
	moveDataSet           bool
	fromScheduleConflicts []string
	ns                    string
	printer               printers.ResourcePrinter
	factory               *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns `backup NAMESPACE...`.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &BackupOptions{factory: f, IOStreams: streams, PrintFlags: printer.NewObjectFlags("the Backup")}
	cmd := &cobra.Command{
		Use:                   "backup NAMESPACE... [--name NAME] [--ttl 720h] [--storage-location BSL] [--wait] [--timeout 1h]",
		DisableFlagsInUseLine: true,
		Short:                 "Back up namespaces with Velero and wait for the result (velero backup create)",
		Long:                  backupLong,
		Example:               backupExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("from-schedule") {
				if o.FromSchedule == "" {
					return fmt.Errorf("--from-schedule needs the name of a schedule: list them with 'kubectl oadp-sts get schedules'")
				}
				return nil // Validate says what goes with it
			}
			return cmdutil.Args(1, -1, "the namespaces to back up", "name them, for example 'kubectl oadp-sts backup hello-world' (list them with 'kubectl get namespaces'), or use --from-schedule")(cmd, args)
		},
		ValidArgsFunction: completion.Namespaces(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(cmd, args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "the Backup's name (default: the namespaces, joined by '-')")
	fl.DurationVar(&o.TTL, "ttl", 720*time.Hour, "how long Velero keeps the backup before deleting it and its data")
	fl.StringVar(&o.StorageLocation, "storage-location", "", "the BackupStorageLocation to store it in (default: the default one)")
	fl.StringVarP(&o.Selector, "selector", "l", "", "back up only objects with these labels (kubectl -l syntax)")
	fl.StringSliceVar(&o.IncludeResources, "include-resources", nil, "resources to back up, e.g. deployments,configmaps (default: all)")
	fl.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "resources to leave out, e.g. secrets")
	fl.BoolVar(&o.SnapshotVolumes, "snapshot-volumes", false, "--snapshot-volumes=true or =false: take snapshots of persistent volumes or not (unset: the server's default)")
	fl.BoolVar(&o.FSBackup, "default-volumes-to-fs-backup", false, "back up pod volumes with the node agent's file-system backup (Kopia) unless a pod opts out; needs 'setup --fs-backup' (unset: the server's default)")
	fl.BoolVar(&o.SnapshotMoveData, "snapshot-move-data", false, "move the CSI snapshots' data to the storage location with OADP's Data Mover, so the backup outlives the volumes' snapshots; needs 'setup --data-mover' (unset: the server's default)")
	o.PrintFlags.AddFlags(cmd)
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": client prints the Backup and creates nothing, server sends it with dryRun=All`)
	fl.StringVar(&o.FromSchedule, "from-schedule", "", "back up now from this schedule's template (its namespaces and options), named SCHEDULE-<timestamp> like the schedule's own backups")
	o.WaitFlags.Add(cmd, "backup", velerorun.DefaultTimeout)
	completion.Register(cmd, map[string]cobra.CompletionFunc{
		"storage-location": completion.StorageLocations(f), "from-schedule": completion.ScheduleNames(f)})
	return cmd
}

// Complete fills in what the flags leave open.
func (o *BackupOptions) Complete(cmd *cobra.Command, args []string) {
	o.Namespaces = args
	o.snapshotSet = cmd.Flags().Changed("snapshot-volumes")
	o.fsBackupSet = cmd.Flags().Changed("default-volumes-to-fs-backup")
	o.moveDataSet = cmd.Flags().Changed("snapshot-move-data")
	o.ns = o.factory.Namespace()
	if o.FromSchedule != "" {
		o.fromScheduleConflicts = nil
		for _, n := range []string{"ttl", "storage-location", "selector", "include-resources", "exclude-resources", "snapshot-volumes", "default-volumes-to-fs-backup", "snapshot-move-data"} {
			if cmd.Flags().Changed(n) {
				o.fromScheduleConflicts = append(o.fromScheduleConflicts, "--"+n)
			}
		}
		if o.Name == "" {
			o.Name = velero.TimestampedName(o.FromSchedule, time.Now())
		}
		return
	}
	if o.Name == "" {
		o.Name = strings.Join(args, "-")
	}
}

// Validate checks the input that needs no cluster.
func (o *BackupOptions) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	p, err := o.PrintFlags.Printer()
	if err != nil {
		return err
	}
	o.printer = p
	if o.FromSchedule != "" {
		return o.validateFromSchedule()
	}
	for _, n := range o.Namespaces {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return fmt.Errorf("%q is not a namespace name: %s", n, strings.Join(errs, "; "))
		}
	}
	// Velero puts the name in label values (velero.io/backup-name), so it
	// must fit a label, not just an object name.
	if errs := validation.IsValidLabelValue(o.Name); len(errs) > 0 || validation.IsDNS1123Subdomain(o.Name) != nil {
		return fmt.Errorf("backup name %q is not usable (a DNS label of at most 63 characters): choose one with --name", o.Name)
	}
	if o.TTL <= 0 {
		return fmt.Errorf("--ttl must be positive, got %s: the chapter uses 720h (30 days)", o.TTL)
	}
	if _, err := o.build(); err != nil {
		return err
	}
	return o.WaitFlags.Validate()
}

// validateFromSchedule refuses what the schedule's template decides, so a
// backup "from a schedule" is what the schedule itself would make.
func (o *BackupOptions) validateFromSchedule() error {
	if len(o.Namespaces) > 0 {
		return fmt.Errorf("--from-schedule takes the namespaces from schedule %q: drop the namespace arguments (%s), or drop --from-schedule", o.FromSchedule, strings.Join(o.Namespaces, " "))
	}
	if len(o.fromScheduleConflicts) > 0 {
		return fmt.Errorf("--from-schedule takes the backup's options from schedule %q: drop %s, or change the schedule", o.FromSchedule, strings.Join(o.fromScheduleConflicts, ", "))
	}
	if errs := validation.IsValidLabelValue(o.Name); len(errs) > 0 || validation.IsDNS1123Subdomain(o.Name) != nil {
		return fmt.Errorf("backup name %q is not usable (a DNS label of at most 63 characters): choose one with --name", o.Name)
	}
	return o.WaitFlags.Validate()
}

func (o *BackupOptions) build() (*velero.BackupOptions, error) {
	bo := &velero.BackupOptions{
		Name: o.Name, Namespace: o.ns, IncludedNamespaces: o.Namespaces, TTL: o.TTL,
		StorageLocation: o.StorageLocation, Selector: o.Selector,
		IncludedResources: o.IncludeResources, ExcludedResources: o.ExcludeResources,
	}
	if o.snapshotSet {
		v := o.SnapshotVolumes
		bo.SnapshotVolumes = &v
	}
	if o.fsBackupSet {
		v := o.FSBackup
		bo.DefaultVolumesToFsBackup = &v
	}
	if o.moveDataSet {
		v := o.SnapshotMoveData
		bo.SnapshotMoveData = &v
	}
	_, err := velero.NewBackup(*bo)
	return bo, err
}

// Run checks the cluster, creates the Backup and waits for it.
func (o *BackupOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	if o.FromSchedule != "" {
		return o.runFromSchedule(ctx, dyn)
	}
	kc, err := o.factory.Kube()
	if err != nil {
		return err
	}
	for _, n := range o.Namespaces {
		if _, err := kc.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %q does not exist: check the name with 'kubectl get namespaces'", n)
			}
			return kube.Explain(err, corev1.SchemeGroupVersion.WithResource("namespaces"), n)
		}
	}
	bsls, err := dyn.Resource(gvr.BSL).Namespace(o.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return kube.Explain(err, gvr.BSL, "")
	}
	fsBackup, moveData := o.fsBackupSet && o.FSBackup, o.moveDataSet && o.SnapshotMoveData
	var dpa string
	if o.StorageLocation == "" || fsBackup || moveData {
		// The DPA setup recorded: its location, and its node agent.
		names, err := record.Resolve(ctx, dyn, o.ns, record.Flags{})
		if err != nil {
			return err
		}
		dpa = names.DPA
	}
	switch loc := recordedLocation(bsls.Items, dpa); {
	case o.StorageLocation == "" && loc != "":
		o.StorageLocation = loc
		if err := velero.LocationReady(bsls.Items, loc); err != nil {
			return fmt.Errorf("%w (the location of dataprotectionapplication/%s, which setup made)", err, dpa)
		}
	case o.StorageLocation == "":
		if o.StorageLocation, err = velero.DefaultLocation(bsls.Items); err != nil {
			return err
		}
	default:
		if err := velero.LocationReady(bsls.Items, o.StorageLocation); err != nil {
			return err
		}
	}
	if fsBackup {
		if err := velerorun.NodeAgentOn(ctx, dyn, o.ns, "--default-volumes-to-fs-backup", "--fs-backup"); err != nil {
			return err
		}
	}
	if moveData {
		if err := velerorun.NodeAgentOn(ctx, dyn, o.ns, "--snapshot-move-data", "--data-mover"); err != nil {
			return err
		}
	}
	backups := dyn.Resource(gvr.Backup).Namespace(o.ns)
	if o.Name, err = velerorun.FreeName(ctx, backups, velerorun.Backup, o.Name, time.Now(), o.ErrOut); err != nil {
		return err
	}
	bo, err := o.build()
	if err != nil {
		return err
	}
	obj, err := velero.NewBackup(*bo)
	if err != nil {
		return err
	}
	return o.createAndWait(ctx, dyn, obj, fmt.Sprintf("(namespaces %s, location %s, ttl %s)", strings.Join(o.Namespaces, ","), o.StorageLocation, o.TTL))
}

// createAndWait creates obj (or, with --dry-run, only prints it), says so
// (through -o's printer when given) and waits for it unless --wait=false.
func (o *BackupOptions) createAndWait(ctx context.Context, dyn dynamic.Interface, obj *unstructured.Unstructured, detail string) error {
	run := velerorun.Run{Kind: velerorun.Backup, Namespace: o.ns, DryRun: o.DryRun, Printer: o.printer, Out: o.Out, ErrOut: o.ErrOut}
	made, w, err := run.Create(ctx, dyn.Resource(gvr.Backup).Namespace(o.ns), obj, o.Wait, detail)
	if err != nil || made == nil {
		return err
	}
	if w != nil {
		defer w.Stop()
	}
	next := fmt.Sprintf("kubectl oadp-sts restore %s%s", o.Name, cmdutil.NamespaceFlag(o.ns))
	if !o.Wait {
		fmt.Fprintf(run.Say(), "Follow it with 'kubectl oadp-sts get backups %s%s'; once Completed: %s\n", o.Name, cmdutil.NamespaceFlag(o.ns), next)
		return nil
	}
	return velerorun.WaitReportAndExplain(ctx, dyn, velerorun.Insecure(o.factory), w, velerorun.Backup, o.Name, o.ns, o.Timeout, run.Say(), o.ErrOut, next)
}

// runFromSchedule makes the Backup the schedule would make now, and waits
// for it like any other.
func (o *BackupOptions) runFromSchedule(ctx context.Context, dyn dynamic.Interface) error {
	sched, err := dyn.Resource(gvr.Schedule).Namespace(o.ns).Get(ctx, o.FromSchedule, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%w: list them with 'kubectl oadp-sts get schedules%s'", kube.Explain(err, gvr.Schedule, o.FromSchedule), cmdutil.NamespaceFlag(o.ns))
	}
	bsls, err := dyn.Resource(gvr.BSL).Namespace(o.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return kube.Explain(err, gvr.BSL, "")
	}
	loc := kube.Str(sched.Object, "spec", "template", "storageLocation")
	if loc == "" {
		if loc, err = velero.DefaultLocation(bsls.Items); err != nil {
			return err
		}
	} else if err := velero.LocationReady(bsls.Items, loc); err != nil {
		return err
	}
	backups := dyn.Resource(gvr.Backup).Namespace(o.ns)
	if o.Name, err = velerorun.FreeName(ctx, backups, velerorun.Backup, o.Name, time.Now(), o.ErrOut); err != nil {
		return err
	}
	obj := velero.BackupFromSchedule(sched, o.Name)
	nss, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "includedNamespaces")
	return o.createAndWait(ctx, dyn, obj, fmt.Sprintf("from schedule %s (namespaces %s, location %s, ttl %s)",
		o.FromSchedule, strings.Join(nss, ","), loc, kube.Str(obj.Object, "spec", "ttl")))
}

// recordedLocation is the storage location the operator made for the DPA
// setup recorded, when it exists: the one setup waited for, whichever
// location another DPA or a person marked default since.
func recordedLocation(bsls []unstructured.Unstructured, dpa string) string {
	if dpa == "" {
		return ""
	}
	for _, b := range bsls {
		if b.GetName() == manifests.BSLName(dpa) {
			return b.GetName()
		}
	}
	return ""
}
