package schedule

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
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

// DescribeOptions are the inputs of `describe schedule NAME`.
type DescribeOptions struct {
	Name string

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewDescribeCmd returns the `schedule` noun of `describe`.
func NewDescribeCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DescribeOptions{factory: f, IOStreams: streams}
	return &cobra.Command{
		Use:     "schedule NAME",
		Aliases: Aliases,
		Short:   "Show a schedule: cron, template, phase, last and next backup, its backups (velero schedule describe)",
		Long: templates.LongDesc(`
			Show a schedule: its cron expression and whether it is paused, the backup
			template (namespaces, resources, selector, TTL, location), Velero's phase and
			validation errors, the last backup and when the next is due, and the backups
			it made with their phases.`),
		Example:           templates.Examples(`kubectl oadp-sts describe schedule hello-nightly`),
		Args:              cmdutil.Args(1, 1, "the name of one schedule", "list them with 'kubectl oadp-sts get schedules'"),
		ValidArgsFunction: completion.ScheduleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
}

// Run reads the schedule and its backups and prints them.
func (o *DescribeOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	u, err := dyn.Resource(gvr.Schedule).Namespace(ns).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return notFound(err, o.Name, ns)
	}
	bl, err := dyn.Resource(gvr.Backup).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: velero.LabelScheduleName + "=" + o.Name})
	if err != nil {
		return kube.Explain(err, gvr.Backup, "")
	}
	w := tabwriter.NewWriter(o.Out, 0, 8, 2, ' ', 0)
	describe(w, u, bl.Items, time.Now())
	return w.Flush()
}

func describe(w *tabwriter.Writer, u *unstructured.Unstructured, backups []unstructured.Unstructured, now time.Time) {
	line := func(indent int, label string, v any) {
		s := fmt.Sprint(v)
		if s == "" {
			s = "<none>"
		}
		fmt.Fprintf(w, "%s%s:\t%s\n", strings.Repeat("  ", indent), label, s)
	}
	st := velero.ReadSchedule(u)
	o := u.Object
	line(0, "Name", u.GetName())
	line(0, "Namespace", u.GetNamespace())
	line(0, "Created", u.GetCreationTimestamp().UTC().Format(time.RFC3339))
	line(0, "Schedule", st.Cron)
	line(0, "Paused", st.Paused)
	line(0, "Phase", st.Phase)
	if len(st.ValidationErrors) > 0 {
		fmt.Fprintf(w, "Validation errors:\t%d\n", len(st.ValidationErrors))
		for _, v := range st.ValidationErrors {
			fmt.Fprintf(w, "    -\t%s\n", v)
		}
	}
	fmt.Fprintf(w, "Template:\t\n")
	t := func(f ...string) []string {
		s, _, _ := unstructured.NestedStringSlice(o, append([]string{"spec", "template"}, f...)...)
		return s
	}
	line(1, "Included namespaces", strings.Join(t("includedNamespaces"), ", "))
	line(1, "Included resources", orDefault(strings.Join(t("includedResources"), ", "), "* (all)"))
	line(1, "Excluded resources", strings.Join(t("excludedResources"), ", "))
	ml, _, _ := unstructured.NestedStringMap(o, "spec", "template", "labelSelector", "matchLabels")
	var sel []string
	for k, v := range ml {
		sel = append(sel, k+"="+v)
	}
	sort.Strings(sel)
	line(1, "Label selector", strings.Join(sel, ","))
	line(1, "TTL", kube.Str(o, "spec", "template", "ttl"))
	line(1, "Storage location", orDefault(kube.Str(o, "spec", "template", "storageLocation"), "the default at each run"))
	for _, b := range []struct{ label, field string }{
		{"Snapshot volumes", "snapshotVolumes"}, {"File-system backup by default", "defaultVolumesToFsBackup"}, {"Snapshot move data", "snapshotMoveData"},
	} {
		v := "server default"
		if x, ok, _ := unstructured.NestedBool(o, "spec", "template", b.field); ok {
			v = fmt.Sprint(x)
		}
		line(1, b.label, v)
	}
	own, _, _ := unstructured.NestedBool(o, "spec", "useOwnerReferencesInBackup")
	line(0, "Owner references in backups", own)
	last := "<none>"
	if !st.LastBackup.IsZero() {
		last = st.LastBackup.UTC().Format(time.RFC3339)
	}
	line(0, "Last backup", last)
	line(0, "Next run", nextRun(st, now))
	sort.Slice(backups, func(i, j int) bool { return newer(&backups[i], &backups[j]) })
	fmt.Fprintf(w, "Backups:\t%d\n", len(backups))
	for i := range backups {
		s := velero.ReadStatus(&backups[i])
		fmt.Fprintf(w, "    -\t%s\t%s, %d of %d items, %d errors, %d warnings\n", backups[i].GetName(), s.Phase, s.Items, s.TotalItems, s.Errors, s.Warnings)
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
