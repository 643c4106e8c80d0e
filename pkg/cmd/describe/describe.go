// Package describe is `describe backup|restore NAME` (velero backup
// describe, restore describe), with --details read from object storage;
// pkg/cmd/schedule adds `describe schedule`.
package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/velerorun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// NewCmd returns `describe`, with `backup` and `restore` under it.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Show a Velero backup, restore or schedule in detail (velero backup describe, restore describe, schedule describe)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newDescribeCmd(f, streams, velerorun.Backup), newDescribeCmd(f, streams, velerorun.Restore))
	return cmd
}

// DescribeOptions are the inputs of `describe backup|restore NAME`.
type DescribeOptions struct {
	Name    string
	Details bool
	Output  string

	kind    velerorun.Kind
	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

func newDescribeCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams, k velerorun.Kind) *cobra.Command {
	o := &DescribeOptions{factory: f, IOStreams: streams, kind: k}
	details := "the resource list, how each volume was protected, the PodVolumeBackups and DataUploads with bytes done of total, and the errors and warnings of Velero's results file"
	if k.Noun == "restore" {
		details = "the PodVolumeRestores and DataDownloads with bytes done of total, and the errors and warnings of Velero's results file"
	}
	cmd := &cobra.Command{
		Use:   k.Noun + " NAME",
		Short: fmt.Sprintf("Show a %s: spec, status, validation errors and its storage location (velero %s describe)", k.Noun, k.Noun),
		Long: templates.LongDesc(fmt.Sprintf(`
			Show a %[1]s: what it includes, its phase, item counts, warnings and errors,
			validation errors and failure reason, and the storage location it uses.
			'velero %[1]s describe NAME' in Velero's CLI.

			--details adds %[2]s, read from the storage location through DownloadRequests
			(deleted afterwards) once the %[1]s has ended. -o json|yaml prints the same as
			one object.`, k.Noun, details)),
		Example: templates.Examples(fmt.Sprintf(`
			kubectl oadp-sts describe %[1]s hello-world
			kubectl oadp-sts describe %[1]s hello-world --details
			kubectl oadp-sts describe %[1]s hello-world --details -o json`, k.Noun)),
		Args:              cmdutil.Args(1, 1, "the name of one "+k.Noun, "list them with 'kubectl oadp-sts get "+k.Noun+"s'"),
		ValidArgsFunction: velerorun.Names(f, k),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Details, "details", false, "add what Velero stored about it: "+details)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "print the description as one json or yaml object")
	return cmd
}

// Validate checks -o: the description is a report (the object and what
// --details read), so json or yaml, not kubectl's object formats.
func (o *DescribeOptions) Validate() error {
	if o.Output != "" && o.Output != "json" && o.Output != "yaml" {
		return fmt.Errorf("unknown output format %q: use -o json or -o yaml, or leave -o out for the description as text", o.Output)
	}
	return nil
}

// Run reads the object and what it refers to and prints them.
func (o *DescribeOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	u, err := dyn.Resource(o.kind.GVR).Namespace(ns).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return velerorun.NotFoundHint(kube.Explain(err, o.kind.GVR, o.Name), o.kind, ns)
	}
	var det *velerorun.Details
	if o.Details {
		det = velerorun.FetchDetails(ctx, dyn, u, velerorun.Insecure(o.factory))
	}
	if o.Output != "" {
		v := map[string]any{o.kind.Noun: u.Object}
		if det != nil {
			v["details"] = det
		}
		return printer.Print(o.Out, o.Output, v)
	}
	d := &describer{w: tabwriter.NewWriter(o.Out, 0, 8, 2, ' ', 0), now: time.Now()}
	if o.kind.Noun == "backup" {
		o.describeBackup(ctx, dyn, d, u)
	} else {
		o.describeRestore(ctx, dyn, d, u)
	}
	if det != nil {
		d.details(det, o.kind.Noun == "backup")
	}
	return d.w.Flush()
}

// details prints what --details read.
func (d *describer) details(det *velerorun.Details, isBackup bool) {
	// group starts a section, or says in one line that it is empty or
	// could not be read; it reports whether entries follow.
	group := func(label, what string, n int) bool {
		if why, ok := det.Unavailable[what]; ok {
			d.section(label)
			d.line(1, "Not available", why)
			return false
		}
		if n == 0 {
			d.line(0, label, "")
			return false
		}
		d.section(label)
		return true
	}
	if isBackup {
		if group("Resource list", "resources", len(det.Resources)) {
			for _, k := range det.Resources.Kinds() {
				fmt.Fprintf(d.w, "  %s:\t%d\n", k, len(det.Resources[k]))
				for _, it := range det.Resources[k] {
					d.item(it)
				}
			}
		}
		if group("Volumes", "volumes", len(det.Volumes)) {
			for _, v := range det.Volumes {
				d.line(1, v.Volume(), v.Protection())
			}
		}
	}
	pv, dt := "Pod volume backups", "Data uploads"
	if !isBackup {
		pv, dt = "Pod volume restores", "Data downloads"
	}
	for _, g := range []struct {
		label, key string
		items      []velero.Transfer
	}{{pv, "podVolumes", det.PodVolumes}, {dt, "dataTransfers", det.DataTransfers}} {
		if !group(g.label, g.key, len(g.items)) {
			continue
		}
		for _, t := range g.items {
			v := fmt.Sprintf("%s, %s", t.Phase, t.Progress())
			if t.Message != "" {
				v += " (" + t.Message + ")"
			}
			d.line(1, t.Volume, v)
		}
	}
	if det.Results == nil {
		group("Results", "results", 0)
		return
	}
	d.section("Results")
	for _, g := range []struct {
		label string
		r     velero.Result
	}{{"Errors", det.Results.Errors}, {"Warnings", det.Results.Warnings}} {
		msgs := g.r.Messages()
		fmt.Fprintf(d.w, "  %s:\t%d\n", g.label, len(msgs))
		for _, m := range msgs {
			d.item(m)
		}
	}
}

type describer struct {
	w   *tabwriter.Writer
	now time.Time
}

// section starts a group of indented lines.
func (d *describer) section(label string) { fmt.Fprintf(d.w, "%s:\t\n", label) }

// item is one entry of a list under the line above, kept in the table's
// columns so the alignment holds across it.
func (d *describer) item(s string) { fmt.Fprintf(d.w, "    -\t%s\n", s) }

func (d *describer) line(indent int, label string, value any) {
	v := fmt.Sprint(value)
	if v == "" {
		v = "<none>"
	}
	fmt.Fprintf(d.w, "%s%s:\t%s\n", strings.Repeat("  ", indent), label, v)
}

func list(o map[string]any, fields ...string) string {
	s, _, _ := unstructured.NestedStringSlice(o, fields...)
	return strings.Join(s, ", ")
}

func (d *describer) meta(u *unstructured.Unstructured) {
	d.line(0, "Name", u.GetName())
	d.line(0, "Namespace", u.GetNamespace())
	d.line(0, "Created", u.GetCreationTimestamp().Format(time.RFC3339))
	var labels []string
	for k, v := range u.GetLabels() {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	d.line(0, "Labels", strings.Join(labels, ", "))
}

func (d *describer) status(u *unstructured.Unstructured, k velerorun.Kind) {
	s := velero.ReadStatus(u)
	d.line(0, "Phase", s.Phase)
	d.section("Status")
	if !s.Started.IsZero() {
		d.line(1, "Started", s.Started.Format(time.RFC3339))
	}
	if !s.Finished.IsZero() {
		d.line(1, "Completed", s.Finished.Format(time.RFC3339))
	}
	if dur := s.Duration(d.now); dur > 0 {
		d.line(1, "Duration", wait.Elapsed(dur))
	}
	if !s.Expires.IsZero() {
		d.line(1, "Expires", s.Expires.Format(time.RFC3339))
	}
	d.line(1, "Items "+k.ItemsVerb, fmt.Sprintf("%d of %d", s.Items, s.TotalItems))
	d.line(1, "Warnings", s.Warnings)
	d.line(1, "Errors", s.Errors)
	d.line(1, "Failure reason", s.FailureReason)
	if len(s.ValidationErrors) == 0 {
		d.line(1, "Validation errors", "")
	} else {
		fmt.Fprintf(d.w, "  Validation errors:\t%d\n", len(s.ValidationErrors))
		for _, v := range s.ValidationErrors {
			d.item(v)
		}
	}
}

func (o *DescribeOptions) describeBackup(ctx context.Context, dyn dynamic.Interface, d *describer, u *unstructured.Unstructured) {
	d.meta(u)
	sp := u.Object
	d.section("Spec")
	d.line(1, "Included namespaces", list(sp, "spec", "includedNamespaces"))
	d.line(1, "Excluded namespaces", list(sp, "spec", "excludedNamespaces"))
	d.line(1, "Included resources", orDefault(list(sp, "spec", "includedResources"), "* (all)"))
	d.line(1, "Excluded resources", list(sp, "spec", "excludedResources"))
	d.line(1, "Label selector", selectorString(sp))
	d.line(1, "TTL", kube.Str(sp, "spec", "ttl"))
	snap := "server default"
	if v, ok, _ := unstructured.NestedBool(sp, "spec", "snapshotVolumes"); ok {
		snap = fmt.Sprint(v)
	}
	d.line(1, "Snapshot volumes", snap)
	d.status(u, velerorun.Backup)

	loc := kube.Str(sp, "spec", "storageLocation")
	d.line(0, "Storage location", loc)
	if loc != "" {
		bsl, err := dyn.Resource(gvr.BSL).Namespace(u.GetNamespace()).Get(ctx, loc, metav1.GetOptions{})
		if err != nil {
			fmt.Fprintf(o.ErrOut, "Warning: %v\n", kube.Explain(err, gvr.BSL, loc))
		} else {
			b := bsl.Object
			d.line(1, "Phase", kube.Str(b, "status", "phase"))
			d.line(1, "Message", kube.Str(b, "status", "message"))
			d.line(1, "Provider", kube.Str(b, "spec", "provider"))
			d.line(1, "Bucket", strings.TrimSuffix(kube.Str(b, "spec", "objectStorage", "bucket")+"/"+kube.Str(b, "spec", "objectStorage", "prefix"), "/"))
			d.line(1, "Region", kube.Str(b, "spec", "config", "region"))
			d.line(1, "Last synced", kube.Str(b, "status", "lastSyncedTime"))
		}
	}
	// Deletion requests tell why a backup is stuck in Deleting (velero#3701).
	sel := metav1.ListOptions{LabelSelector: velero.LabelBackupName + "=" + u.GetName()}
	if dbrs, err := dyn.Resource(gvr.DeleteBackupRequest).Namespace(u.GetNamespace()).List(ctx, sel); err == nil && len(dbrs.Items) > 0 {
		d.section("Deletion requests")
		for _, r := range dbrs.Items {
			d.line(1, r.GetName(), orDefault(kube.Str(r.Object, "status", "phase"), velero.PhaseNew))
			errs, _, _ := unstructured.NestedStringSlice(r.Object, "status", "errors")
			for _, e := range errs {
				d.item("error: " + e)
			}
		}
	}
}

func (o *DescribeOptions) describeRestore(ctx context.Context, dyn dynamic.Interface, d *describer, u *unstructured.Unstructured) {
	d.meta(u)
	sp := u.Object
	d.line(0, "Backup", kube.Str(sp, "spec", "backupName"))
	d.section("Spec")
	d.line(1, "Included namespaces", orDefault(list(sp, "spec", "includedNamespaces"), "* (all in the backup)"))
	d.line(1, "Excluded namespaces", list(sp, "spec", "excludedNamespaces"))
	m, _, _ := unstructured.NestedStringMap(sp, "spec", "namespaceMapping")
	var pairs []string
	for k, v := range m {
		pairs = append(pairs, k+":"+v)
	}
	sort.Strings(pairs)
	d.line(1, "Namespace mappings", strings.Join(pairs, ", "))
	d.line(1, "Existing resource policy", orDefault(kube.Str(sp, "spec", "existingResourcePolicy"), "none"))
	d.line(1, "Label selector", selectorString(sp))
	d.status(u, velerorun.Restore)
	if b, err := dyn.Resource(gvr.Backup).Namespace(u.GetNamespace()).Get(ctx, kube.Str(sp, "spec", "backupName"), metav1.GetOptions{}); err == nil {
		d.line(0, "Backup storage location", kube.Str(b.Object, "spec", "storageLocation"))
	}
}

func selectorString(o map[string]any) string {
	ml, _, _ := unstructured.NestedStringMap(o, "spec", "labelSelector", "matchLabels")
	var parts []string
	for k, v := range ml {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	exprs, _, _ := unstructured.NestedSlice(o, "spec", "labelSelector", "matchExpressions")
	for _, e := range exprs {
		m, _ := e.(map[string]any)
		vals, _, _ := unstructured.NestedStringSlice(m, "values")
		parts = append(parts, fmt.Sprintf("%s %s (%s)", kube.Str(m, "key"), strings.ToLower(kube.Str(m, "operator")), strings.Join(vals, ",")))
	}
	return strings.Join(parts, ",")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
