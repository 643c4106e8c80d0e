// Package schedule implements Velero's scheduled backups: `schedule create`,
// `schedule pause|unpause`, and the `schedules` nouns of `get`, `describe`
// and `delete`, each the counterpart of a `velero schedule` command. The cron
// expression is checked with the parser Velero's own schedule controller uses
// before anything is created.
package schedule

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/velerorun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

// Aliases are the nouns a schedule goes by, as kubectl's resources do.
var Aliases = []string{"schedules", "sched"}

// maxNameLen keeps "<name>-<14 digits>", the name Velero gives each backup,
// within the 63 characters of the label Velero puts it in.
const maxNameLen = 63 - 15

// NewCmd returns `schedule` with create, pause and unpause under it.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "schedule",
		Aliases: Aliases,
		Short:   "Create, pause and unpause scheduled backups (velero schedule)",
		Long: templates.LongDesc(`
			Scheduled backups: a velero.io/v1 Schedule makes a Backup from its template
			each time its cron expression comes due. List them with 'get schedules', show
			one with 'describe schedule NAME', delete one with 'delete schedule NAME', and
			back up from one now with 'backup --from-schedule NAME'.`),
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCreateCmd(f, streams), newPauseCmd(f, streams, true), newPauseCmd(f, streams, false))
	return cmd
}

// CreateOptions are the inputs of `schedule create NAME`.
type CreateOptions struct {
	Name             string
	Cron             string
	Namespaces       []string
	TTL              time.Duration
	StorageLocation  string
	Selector         string
	IncludeResources []string
	ExcludeResources []string
	SnapshotVolumes  bool
	FSBackup         bool
	SnapshotMoveData bool
	Paused           bool
	OwnerReferences  bool
	DryRun           cmdutil.DryRun
	PrintFlags       *printer.ObjectFlags

	changed map[string]bool
	printer printers.ResourcePrinter
	ns      string
	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

func newCreateCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CreateOptions{factory: f, IOStreams: streams, PrintFlags: printer.NewObjectFlags("the Schedule")}
	cmd := &cobra.Command{
		Use:                   "create NAME --schedule CRON --include-namespaces NS[,NS] [--ttl 720h] [--paused]",
		DisableFlagsInUseLine: true,
		Short:                 "Create a scheduled backup (velero schedule create)",
		Long: templates.LongDesc(`
			Create a velero.io/v1 Schedule: Velero makes a Backup of the namespaces each
			time the cron expression comes due, named NAME-<UTC timestamp> and labelled
			velero.io/schedule-name=NAME. The backup flags are the 'backup' command's.

			--schedule takes five cron fields (minute hour day-of-month month
			day-of-week, in UTC unless it starts with CRON_TZ=Zone), or a descriptor:
			@hourly, @daily, @weekly, @monthly, @yearly, "@every 1h". It is checked with
			the parser Velero's schedule controller uses, so what is accepted here,
			Velero accepts. Velero makes the first backup one period after the schedule
			is created, then one per period; it skips a run while a backup of the
			schedule is still New or InProgress.

			The storage location must exist and be Available (the default one unless
			--storage-location); checked, with the rest, before anything is created.

			--dry-run=client prints what would be created and creates nothing;
			--dry-run=server also sends it with dryRun=All. -o prints the Schedule
			created (or that would be), and changes nothing else.`),
		Example: templates.Examples(`
			# The chapter's namespace every night at 01:00 UTC, kept for a week
			kubectl oadp-sts schedule create hello-nightly --schedule "0 1 * * *" --include-namespaces hello-world --ttl 168h

			# Every hour, created paused
			kubectl oadp-sts schedule create shop-hourly --schedule "@every 1h" --include-namespaces shop,db --paused

			# Print the Schedule, create nothing
			kubectl oadp-sts schedule create hello-nightly --schedule @daily --include-namespaces hello-world --dry-run=client -o yaml`),
		Args: cmdutil.Args(1, 1, "the name of the schedule", "name it, for example 'kubectl oadp-sts schedule create hello-nightly --schedule \"0 1 * * *\" --include-namespaces hello-world'"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(cmd, args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Cron, "schedule", "", `when to back up: a cron expression ("0 1 * * *") or a descriptor (@daily, "@every 1h")`)
	fl.StringSliceVar(&o.Namespaces, "include-namespaces", nil, "the namespaces to back up (required)")
	fl.DurationVar(&o.TTL, "ttl", 720*time.Hour, "how long Velero keeps each backup before deleting it and its data")
	fl.StringVar(&o.StorageLocation, "storage-location", "", "the BackupStorageLocation to store the backups in (default: the default one at each run)")
	fl.StringVarP(&o.Selector, "selector", "l", "", "back up only objects with these labels (kubectl -l syntax)")
	fl.StringSliceVar(&o.IncludeResources, "include-resources", nil, "resources to back up, e.g. deployments,configmaps (default: all)")
	fl.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "resources to leave out, e.g. secrets")
	fl.BoolVar(&o.SnapshotVolumes, "snapshot-volumes", false, "--snapshot-volumes=true or =false: take snapshots of persistent volumes or not (unset: the server's default)")
	fl.BoolVar(&o.FSBackup, "default-volumes-to-fs-backup", false, "back up pod volumes with the node agent's file-system backup (Kopia); needs 'setup --fs-backup' (unset: the server's default)")
	fl.BoolVar(&o.SnapshotMoveData, "snapshot-move-data", false, "move CSI snapshots' data to the storage location (OADP's Data Mover; unset: the server's default)")
	fl.BoolVar(&o.Paused, "paused", false, "create the schedule paused: no backups until 'schedule unpause'")
	fl.BoolVar(&o.OwnerReferences, "use-owner-references-in-backup", false, "make each backup owned by the schedule, so deleting the schedule object deletes the Backup objects too (not their data: use 'delete schedule --delete-backups')")
	o.PrintFlags.AddFlags(cmd)
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": client prints the Schedule and creates nothing, server sends it with dryRun=All`)
	completion.Register(cmd, map[string]cobra.CompletionFunc{
		"storage-location": completion.StorageLocations(f), "include-namespaces": completion.Namespaces(f)})
	return cmd
}

// Complete fills in what the flags leave open.
func (o *CreateOptions) Complete(cmd *cobra.Command, args []string) {
	o.Name = args[0]
	o.ns = o.factory.Namespace()
	o.changed = map[string]bool{}
	for _, n := range []string{"snapshot-volumes", "default-volumes-to-fs-backup", "snapshot-move-data", "use-owner-references-in-backup"} {
		o.changed[n] = cmd.Flags().Changed(n)
	}
}

// Validate checks everything that needs no cluster.
func (o *CreateOptions) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	p, err := o.PrintFlags.Printer()
	if err != nil {
		return err
	}
	o.printer = p
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 || len(o.Name) > maxNameLen {
		return fmt.Errorf("schedule name %q is not usable: it must be a DNS label of at most %d characters, since Velero names each backup NAME-<timestamp> in a 63-character label", o.Name, maxNameLen)
	}
	if o.Cron == "" {
		return fmt.Errorf(`--schedule is required: say when to back up, for example --schedule "0 1 * * *" (01:00 UTC daily) or --schedule "@every 1h"`)
	}
	if len(o.Namespaces) == 0 {
		return fmt.Errorf("--include-namespaces is required: name the namespaces to back up, for example --include-namespaces hello-world")
	}
	for _, n := range o.Namespaces {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return fmt.Errorf("--include-namespaces: %q is not a namespace name: %s", n, strings.Join(errs, "; "))
		}
	}
	if o.TTL <= 0 {
		return fmt.Errorf("--ttl must be positive, got %s: the chapter uses 720h (30 days)", o.TTL)
	}
	_, err = o.build()
	return err
}

func (o *CreateOptions) build() (*unstructured.Unstructured, error) {
	so := velero.ScheduleOptions{
		Name: o.Name, Namespace: o.ns, Cron: o.Cron, Paused: o.Paused,
		Template: velero.BackupOptions{
			IncludedNamespaces: o.Namespaces, TTL: o.TTL, StorageLocation: o.StorageLocation,
			Selector: o.Selector, IncludedResources: o.IncludeResources, ExcludedResources: o.ExcludeResources,
		},
	}
	set := func(flag string, v bool) *bool {
		if !o.changed[flag] {
			return nil
		}
		return &v
	}
	so.Template.SnapshotVolumes = set("snapshot-volumes", o.SnapshotVolumes)
	so.Template.DefaultVolumesToFsBackup = set("default-volumes-to-fs-backup", o.FSBackup)
	so.Template.SnapshotMoveData = set("snapshot-move-data", o.SnapshotMoveData)
	so.UseOwnerReferences = set("use-owner-references-in-backup", o.OwnerReferences)
	s, err := velero.NewSchedule(so)
	if err != nil {
		return nil, err
	}
	if o.StorageLocation == "" {
		// Velero picks the default location at each run.
		unstructured.RemoveNestedField(s.Object, "spec", "template", "storageLocation")
	}
	return s, nil
}

// Run checks the cluster and creates the Schedule.
func (o *CreateOptions) Run(ctx context.Context) error {
	s, err := o.build()
	if err != nil {
		return err
	}
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	kc, err := o.factory.Kube()
	if err != nil {
		return err
	}
	bsls, err := dyn.Resource(gvr.BSL).Namespace(o.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return kube.Explain(err, gvr.BSL, "")
	}
	loc := o.StorageLocation
	if loc == "" {
		if loc, err = velero.DefaultLocation(bsls.Items); err != nil {
			return err
		}
	} else if err := velero.LocationReady(bsls.Items, loc); err != nil {
		return err
	}
	if o.changed["default-volumes-to-fs-backup"] && o.FSBackup {
		if err := velerorun.NodeAgentOn(ctx, dyn, o.ns, "--default-volumes-to-fs-backup", "--fs-backup"); err != nil {
			return err
		}
	}
	if o.changed["snapshot-move-data"] && o.SnapshotMoveData {
		if err := velerorun.NodeAgentOn(ctx, dyn, o.ns, "--snapshot-move-data", "--data-mover"); err != nil {
			return err
		}
	}
	for _, n := range o.Namespaces {
		// A schedule may well be made before its namespace: say so, do not refuse.
		if _, err := kc.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			fmt.Fprintf(o.ErrOut, "Warning: namespace %q does not exist (yet); its backups are empty until it does.\n", n)
		}
	}
	c := dyn.Resource(gvr.Schedule).Namespace(o.ns)
	if o.DryRun == cmdutil.DryRunClient {
		if _, err := c.Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
			return fmt.Errorf("a schedule named %q exists already in %s: choose another name, or see it with 'kubectl oadp-sts describe schedule %s%s'", o.Name, o.ns, o.Name, cmdutil.NamespaceFlag(o.ns))
		}
		return o.said(s, loc)
	}
	created, err := c.Create(ctx, s, metav1.CreateOptions{DryRun: o.DryRun.Options()})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("a schedule named %q exists already in %s: choose another name, or see it with 'kubectl oadp-sts describe schedule %s%s'", o.Name, o.ns, o.Name, cmdutil.NamespaceFlag(o.ns))
	}
	if err != nil {
		return fmt.Errorf("cannot create schedule %q: %w", o.Name, kube.Explain(err, gvr.Schedule, o.Name))
	}
	if err := o.said(created, loc); err != nil || o.DryRun.Any() {
		return err
	}
	say := o.Out
	if o.printer != nil {
		say = o.ErrOut
	}
	st := velero.ReadSchedule(created)
	if st.Paused {
		fmt.Fprintf(say, "It is paused: start it with 'kubectl oadp-sts schedule unpause %s%s'.\n", o.Name, cmdutil.NamespaceFlag(o.ns))
	} else if !st.NextRun.IsZero() {
		fmt.Fprintf(say, "First backup due at %s; follow them with 'kubectl oadp-sts get backups --schedule %s%s'.\n", st.NextRun.UTC().Format(time.RFC3339), o.Name, cmdutil.NamespaceFlag(o.ns))
	}
	return nil
}

// said prints the Schedule made (or that would be) through -o, else
// kubectl's created line.
func (o *CreateOptions) said(s *unstructured.Unstructured, loc string) error {
	if o.printer != nil {
		return o.printer.PrintObj(s, o.Out)
	}
	_, err := fmt.Fprintf(o.Out, "schedule.velero.io/%s created%s in %s (%q, namespaces %s, location %s, ttl %s)\n",
		o.Name, o.DryRun.Suffix(), o.ns, o.Cron, strings.Join(o.Namespaces, ","), loc, o.TTL)
	return err
}

// PauseOptions are the inputs of `schedule pause|unpause NAME`.
type PauseOptions struct {
	Name  string
	Pause bool

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

func newPauseCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams, pause bool) *cobra.Command {
	o := &PauseOptions{factory: f, IOStreams: streams, Pause: pause}
	verb, short := "pause", "Pause a schedule: Velero makes no backups from it until unpaused (velero schedule pause)"
	long := `Pause a schedule (spec.paused): Velero makes no backups from it until
		'schedule unpause'. Backups already made stay, and one in progress finishes.`
	if !pause {
		verb, short = "unpause", "Unpause a schedule (velero schedule unpause)"
		long = `Unpause a schedule. Velero works out the next run from the schedule's last
		backup, so a schedule paused for longer than its period backs up within a
		minute of being unpaused, then keeps its period.`
	}
	return &cobra.Command{
		Use:               verb + " NAME",
		Short:             short,
		Long:              templates.LongDesc(long),
		Example:           templates.Examples("kubectl oadp-sts schedule " + verb + " hello-nightly"),
		Args:              cmdutil.Args(1, 1, "the name of one schedule", "list them with 'kubectl oadp-sts get schedules'"),
		ValidArgsFunction: completion.ScheduleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
}

// Run sets spec.paused.
func (o *PauseOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	c := dyn.Resource(gvr.Schedule).Namespace(ns)
	s, err := c.Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return notFound(err, o.Name, ns)
	}
	word := map[bool]string{true: "paused", false: "unpaused"}[o.Pause]
	if velero.ReadSchedule(s).Paused == o.Pause {
		fmt.Fprintf(o.Out, "schedule.velero.io/%s is already %s\n", o.Name, word)
		return nil
	}
	patch := fmt.Sprintf(`{"spec":{"paused":%t}}`, o.Pause)
	s, err = c.Patch(ctx, o.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("cannot %s schedule %q: %w", strings.TrimSuffix(word, "d"), o.Name, kube.Explain(err, gvr.Schedule, o.Name))
	}
	fmt.Fprintf(o.Out, "schedule.velero.io/%s %s\n", o.Name, word)
	if st := velero.ReadSchedule(s); !o.Pause && !st.NextRun.IsZero() {
		next := st.NextRun
		if next.Before(time.Now()) {
			fmt.Fprintln(o.Out, "A run is overdue: Velero backs up within a minute.")
		} else {
			fmt.Fprintf(o.Out, "Next backup due at %s.\n", next.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// notFound explains a failed read of a schedule, with where to find one.
func notFound(err error, name, ns string) error {
	return fmt.Errorf("%w: list them with 'kubectl oadp-sts get schedules%s'", kube.Explain(err, gvr.Schedule, name), cmdutil.NamespaceFlag(ns))
}
