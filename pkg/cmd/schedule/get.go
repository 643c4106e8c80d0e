package schedule

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

// GetOptions are the inputs of `get schedules [NAME]`.
type GetOptions struct {
	Name   string
	Output string

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewGetCmd returns the `schedules` noun of `get`.
func NewGetCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &GetOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "schedules [NAME]",
		Aliases: []string{"schedule", "sched"},
		Short:   "List schedules: cron, paused, last backup and its phase, next run (velero schedule get)",
		Example: templates.Examples(`
			kubectl oadp-sts get schedules
			kubectl oadp-sts get schedule hello-nightly -o yaml`),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completion.ScheduleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: yaml, json or name (default: a table)")
	return cmd
}

// Validate checks -o.
func (o *GetOptions) Validate() error {
	return printer.ValidateObjectFormat(o.Output)
}

// Run lists or gets and prints.
func (o *GetOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	c := dyn.Resource(gvr.Schedule).Namespace(ns)
	var items []unstructured.Unstructured
	var obj runtime.Object
	if o.Name != "" {
		u, err := c.Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			return notFound(err, o.Name, ns)
		}
		items, obj = []unstructured.Unstructured{*u}, u
	} else {
		l, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			return kube.Explain(err, gvr.Schedule, "")
		}
		items, obj = l.Items, l
	}
	if o.Output != "" {
		return printer.Object(o.Out, o.Output, obj)
	}
	if len(items) == 0 {
		fmt.Fprintf(o.ErrOut, "No schedules in %s.\n", ns)
		return nil
	}
	latest, err := lastBackups(ctx, dyn, ns)
	if err != nil {
		return err
	}
	printTable(o.Out, items, latest, time.Now())
	return nil
}

// lastBackups maps each schedule to its newest backup, found by the label
// Velero puts on them.
func lastBackups(ctx context.Context, dyn dynamic.Interface, ns string) (map[string]*unstructured.Unstructured, error) {
	l, err := dyn.Resource(gvr.Backup).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: velero.LabelScheduleName})
	if err != nil {
		return nil, kube.Explain(err, gvr.Backup, "")
	}
	out := map[string]*unstructured.Unstructured{}
	for i := range l.Items {
		b := &l.Items[i]
		s := b.GetLabels()[velero.LabelScheduleName]
		if cur := out[s]; cur == nil || newer(b, cur) {
			out[s] = b
		}
	}
	return out, nil
}

func newer(a, b *unstructured.Unstructured) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if ta.Equal(&tb) {
		return a.GetName() > b.GetName() // names end in their timestamp
	}
	return tb.Before(&ta)
}

// printTable writes the kubectl-style table of schedules.
func printTable(w io.Writer, items []unstructured.Unstructured, latest map[string]*unstructured.Unstructured, now time.Time) {
	sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
	tw := printers.GetNewTabWriter(w)
	defer tw.Flush()
	fmt.Fprintln(tw, "NAME\tSTATUS\tSCHEDULE\tLAST BACKUP\tLAST PHASE\tNEXT RUN\tTTL\tNAMESPACES")
	for i := range items {
		u := &items[i]
		st := velero.ReadSchedule(u)
		status := st.Phase
		if st.Paused {
			status = "Paused"
		}
		last, phase := "<none>", "<none>"
		if b := latest[u.GetName()]; b != nil {
			last = b.GetName()
			phase = velero.ReadStatus(b).Phase
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.GetName(), status, st.Cron, last, phase, nextRun(st, now),
			printer.OrNone(kube.Str(u.Object, "spec", "template", "ttl")),
			printer.OrNone(strings.Join(stringSlice(u, "spec", "template", "includedNamespaces"), ",")))
	}
}

// nextRun says when the next backup is due, relative to now.
func nextRun(st velero.ScheduleStatus, now time.Time) string {
	switch {
	case st.Paused:
		return "paused"
	case st.NextRun.IsZero():
		return "<none>"
	case !st.NextRun.After(now):
		return "due now"
	}
	return "in " + duration.HumanDuration(st.NextRun.Sub(now))
}

func stringSlice(u *unstructured.Unstructured, fields ...string) []string {
	s, _, _ := unstructured.NestedStringSlice(u.Object, fields...)
	return s
}
