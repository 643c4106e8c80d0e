package schedule

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/get"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/velerorun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

// NewGetCmd returns the `schedules` noun of `get`, listed by pkg/cmd/get.
func NewGetCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return get.NewNounCmd(f, streams, get.Noun{
		Kind:     velerorun.Kind{Noun: "schedule", GVR: gvr.Schedule},
		Aliases:  []string{"schedule", "sched"},
		Short:    "List schedules: cron, paused, last backup and its phase, next run (velero schedule get)",
		Complete: completion.ScheduleNames(f),
		Columns:  get.Columns("NAME", "STATUS", "SCHEDULE", "LAST BACKUP", "LAST PHASE", "NEXT RUN", "TTL", "NAMESPACES"),
		Cells:    cells,
	})
}

// cells are the schedules' rows, with each one's newest backup.
func cells(ctx context.Context, dyn dynamic.Interface, ns string, items []unstructured.Unstructured, now time.Time) ([][]any, error) {
	latest, err := lastBackups(ctx, dyn, ns)
	if err != nil {
		return nil, err
	}
	out := make([][]any, len(items))
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
		out[i] = []any{u.GetName(), status, st.Cron, last, phase, nextRun(st, now),
			printer.OrNone(kube.Str(u.Object, "spec", "template", "ttl")),
			printer.OrNone(strings.Join(stringSlice(u, "spec", "template", "includedNamespaces"), ","))}
	}
	return out, nil
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
