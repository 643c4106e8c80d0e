// Package get is `get backups|restores` (velero backup get, restore get);
// pkg/cmd/schedule adds `get schedules` under the same parent.
package get

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
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

// NewCmd returns `get`, with `backups` and `restores` under it. Other
// packages may add their own nouns with AddCommand.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "List Velero backups, restores or schedules (velero backup get, restore get, schedule get)",
		Long: templates.LongDesc(`
			List Velero backups or restores in the OADP namespace as a table, or print them
			with -o yaml|json|name. 'get backups' is 'velero backup get'; 'get restores'
			is 'velero restore get'.`),
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newGetCmd(f, streams, velerorun.Backup, []string{"backup"}), newGetCmd(f, streams, velerorun.Restore, []string{"restore"}))
	return cmd
}

// GetOptions are the inputs of `get backups|restores`.
type GetOptions struct {
	Name   string
	Output string
	// Schedule lists only the backups a schedule made (backups only).
	Schedule string

	kind    velerorun.Kind
	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

func newGetCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams, k velerorun.Kind, aliases []string) *cobra.Command {
	o := &GetOptions{factory: f, IOStreams: streams, kind: k}
	cmd := &cobra.Command{
		Use:     k.Noun + "s [NAME]",
		Aliases: aliases,
		Short:   fmt.Sprintf("List %ss: phase, items, errors, warnings, times (velero %s get)", k.Noun, k.Noun),
		Example: templates.Examples(fmt.Sprintf(`
			kubectl oadp-sts get %[1]ss
			kubectl oadp-sts get %[1]s hello-world -o yaml`, k.Noun)),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: velerorun.Names(f, k),
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
	if k.Noun == "backup" {
		cmd.Flags().StringVar(&o.Schedule, "schedule", "", "only the backups this schedule made (label velero.io/schedule-name)")
		_ = cmd.RegisterFlagCompletionFunc("schedule", completion.ScheduleNames(f))
	}
	return cmd
}

// Validate checks -o.
func (o *GetOptions) Validate() error {
	if o.Schedule != "" && o.Name != "" {
		return fmt.Errorf("--schedule lists a schedule's backups and NAME gets one backup: give one or the other")
	}
	return printer.ValidateObjectFormat(o.Output)
}

// Run lists or gets and prints.
func (o *GetOptions) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	c := dyn.Resource(o.kind.GVR).Namespace(ns)
	var items []unstructured.Unstructured
	var obj runtime.Object
	if o.Name != "" {
		u, err := c.Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			return velerorun.NotFoundHint(kube.Explain(err, o.kind.GVR, o.Name), o.kind, ns)
		}
		items, obj = []unstructured.Unstructured{*u}, u
	} else {
		lo := metav1.ListOptions{}
		if o.Schedule != "" {
			lo.LabelSelector = velero.LabelScheduleName + "=" + o.Schedule
		}
		l, err := c.List(ctx, lo)
		if err != nil {
			return kube.Explain(err, o.kind.GVR, "")
		}
		items, obj = l.Items, l
		if o.Schedule != "" && len(items) == 0 {
			// No backups of a deleted schedule is still an answer; of an
			// unknown one, a typo to point out.
			if _, err := dyn.Resource(gvr.Schedule).Namespace(ns).Get(ctx, o.Schedule, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("%w: list them with 'kubectl oadp-sts get schedules%s'", kube.Explain(err, gvr.Schedule, o.Schedule), cmdutil.NamespaceFlag(ns))
			}
		}
	}
	if o.Output != "" {
		return printer.Object(o.Out, o.Output, obj)
	}
	if len(items) == 0 && o.Schedule != "" {
		fmt.Fprintf(o.ErrOut, "No backups of schedule %s in %s yet.\n", o.Schedule, ns)
		return nil
	}
	if len(items) == 0 {
		fmt.Fprintf(o.ErrOut, "No %ss in %s.\n", o.kind.Noun, ns)
		return nil
	}
	printTable(o.Out, o.kind, items, time.Now())
	return nil
}

// printTable writes the kubectl-style table of backups or restores.
func printTable(w io.Writer, k velerorun.Kind, items []unstructured.Unstructured, now time.Time) {
	tw := printers.GetNewTabWriter(w)
	defer tw.Flush()
	if k.Noun == "backup" {
		fmt.Fprintln(tw, "NAME\tPHASE\tITEMS\tERRORS\tWARNINGS\tSTARTED\tDURATION\tEXPIRES\tSTORAGE LOCATION")
	} else {
		fmt.Fprintln(tw, "NAME\tBACKUP\tPHASE\tITEMS\tERRORS\tWARNINGS\tSTARTED\tDURATION")
	}
	for i := range items {
		u := &items[i]
		s := velero.ReadStatus(u)
		items := fmt.Sprintf("%d/%d", s.Items, s.TotalItems)
		started, took := "<none>", "<none>"
		if !s.Started.IsZero() {
			started = duration.HumanDuration(now.Sub(s.Started)) + " ago"
			took = duration.HumanDuration(s.Duration(now))
		}
		if k.Noun == "backup" {
			expires := "<none>"
			if !s.Expires.IsZero() {
				if d := s.Expires.Sub(now); d > 0 {
					expires = "in " + duration.HumanDuration(d)
				} else {
					expires = "expired"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", u.GetName(), s.Phase, items, s.Errors, s.Warnings,
				started, took, expires, printer.OrNone(kube.Str(u.Object, "spec", "storageLocation")))
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", u.GetName(), printer.OrNone(kube.Str(u.Object, "spec", "backupName")), s.Phase, items,
				s.Errors, s.Warnings, started, took)
		}
	}
}
