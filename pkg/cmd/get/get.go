// Package get is `get backups|restores` (velero backup get, restore get),
// and the machinery every noun of `get` shares: a metav1.Table printed by
// cli-runtime's table printer (--no-headers, --show-labels), -o through
// kubectl's PrintFlags, -l, -A and -w, a real watch. pkg/cmd/schedule adds
// `get schedules` with NewNounCmd.
package get

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
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
// packages add their own nouns with AddCommand and NewNounCmd.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "List Velero backups, restores or schedules (velero backup get, restore get, schedule get)",
		Long: templates.LongDesc(`
			List Velero backups, restores or schedules in the OADP namespace as a table, or
			print them with kubectl's -o formats (yaml, json, name, jsonpath, go-template,
			custom-columns).
			-l selects by label, -w watches for changes until Ctrl-C. 'get backups' is
			'velero backup get'; 'get restores' is 'velero restore get'.`),
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewNounCmd(f, streams, backups(f)), NewNounCmd(f, streams, restores(f)))
	return cmd
}

// Noun is one resource `get` lists: how to find it and its table's columns.
type Noun struct {
	Kind    velerorun.Kind
	Aliases []string
	Short   string
	Columns []metav1.TableColumnDefinition
	// Cells are the cells of each item's row, in Columns' order. ctx and the
	// client let a noun read what its rows show of other objects
	// (a schedule's last backup).
	Cells func(ctx context.Context, dyn dynamic.Interface, ns string, items []unstructured.Unstructured, now time.Time) ([][]any, error)
	// BySchedule adds --schedule (backups only).
	BySchedule bool
	Complete   cobra.CompletionFunc
}

// Options are the inputs of `get NOUN [NAME]`.
type Options struct {
	Name          string
	Selector      string
	Schedule      string
	NoHeaders     bool
	ShowLabels    bool
	Watch         bool
	AllNamespaces bool
	PrintFlags    *printer.ObjectFlags

	noun    Noun
	printer printers.ResourcePrinter
	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewNounCmd returns `get NOUNs [NAME]` for n.
func NewNounCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams, n Noun) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams, noun: n, PrintFlags: printer.NewObjectFlags("the " + n.Kind.Noun + "s").WithCustomColumns()}
	noun := n.Kind.Noun
	cmd := &cobra.Command{
		Use:     noun + "s [NAME]",
		Aliases: n.Aliases,
		Short:   n.Short,
		Example: templates.Examples(fmt.Sprintf(`
			kubectl oadp-sts get %[1]ss
			kubectl oadp-sts get %[1]s hello-world -o yaml
			kubectl oadp-sts get %[1]ss -o jsonpath='{.items[*].metadata.name}'
			kubectl oadp-sts get %[1]ss -o custom-columns=NAME:.metadata.name,PHASE:.status.phase
			kubectl oadp-sts get %[1]ss -l app=shop --show-labels
			kubectl oadp-sts get %[1]ss -w`, noun)),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: n.Complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	o.PrintFlags.AddFlags(cmd)
	fl.StringVarP(&o.Selector, "selector", "l", "", "only the "+noun+"s with these labels (kubectl -l syntax: key=value, key!=value, 'key in (a,b)')")
	fl.BoolVar(&o.NoHeaders, "no-headers", false, "print the table without its header line")
	fl.BoolVar(&o.ShowLabels, "show-labels", false, "add each "+noun+"'s labels as the table's last column")
	fl.BoolVarP(&o.Watch, "watch", "w", false, "after listing, print each change as it happens, until Ctrl-C")
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list the "+noun+"s of every namespace, not only the OADP one")
	if n.BySchedule {
		fl.StringVar(&o.Schedule, "schedule", "", "only the backups this schedule made (label velero.io/schedule-name)")
		completion.Register(cmd, map[string]cobra.CompletionFunc{"schedule": completion.ScheduleNames(f)})
	}
	return cmd
}

// Complete takes NAME.
func (o *Options) Complete(args []string) {
	if len(args) == 1 {
		o.Name = args[0]
	}
}

// Validate checks the flags before anything is read.
func (o *Options) Validate() error {
	if o.Schedule != "" && o.Name != "" {
		return fmt.Errorf("--schedule lists a schedule's backups and NAME gets one backup: give one or the other")
	}
	if o.Selector != "" && o.Name != "" {
		return fmt.Errorf("-l/--selector lists by label and NAME gets one %s: give one or the other", o.noun.Kind.Noun)
	}
	if o.AllNamespaces && o.Name != "" {
		return fmt.Errorf("-A/--all-namespaces lists every namespace and NAME gets one %s from one: give one or the other (and -n NAMESPACE for another namespace)", o.noun.Kind.Noun)
	}
	if _, err := labels.Parse(o.Selector); err != nil {
		return fmt.Errorf("-l/--selector %q: %v (write key=value, key!=value or 'key in (a,b)')", o.Selector, err)
	}
	o.PrintFlags.CustomColumns.NoHeaders = o.NoHeaders
	p, err := o.PrintFlags.Printer()
	if err != nil {
		return err
	}
	o.printer = p
	return nil
}

// Run lists or gets, prints, and with -w goes on printing each change.
func (o *Options) Run(ctx context.Context) error {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	if o.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	k := o.noun.Kind
	c := dyn.Resource(k.GVR).Namespace(ns)
	lo := metav1.ListOptions{LabelSelector: o.selector()}
	if o.Name != "" {
		lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", o.Name).String()
	}
	l, err := c.List(ctx, lo)
	if err != nil {
		return kube.Explain(err, k.GVR, "")
	}
	if o.Name != "" && len(l.Items) == 0 && !o.Watch {
		// The same error a Get gives, with where to look.
		_, err := c.Get(ctx, o.Name, metav1.GetOptions{})
		if err == nil {
			err = fmt.Errorf("%s %q is gone", k.Noun, o.Name)
		}
		return velerorun.NotFoundHint(kube.Explain(err, k.GVR, o.Name), k, ns)
	}
	if o.Schedule != "" && len(l.Items) == 0 {
		// No backups of a deleted schedule is still an answer; of an
		// unknown one, a typo to point out.
		if _, err := dyn.Resource(gvr.Schedule).Namespace(ns).Get(ctx, o.Schedule, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("%w: list them with 'kubectl oadp-sts get schedules%s'", kube.Explain(err, gvr.Schedule, o.Schedule), cmdutil.NamespaceFlag(ns))
		}
	}
	table := o.tablePrinter()
	if err := o.print(ctx, dyn, table, l); err != nil {
		return err
	}
	if !o.Watch {
		return nil
	}
	return o.watch(ctx, dyn, c, table, lo, l.GetResourceVersion())
}

func (o *Options) selector() string {
	sel := o.Selector
	if o.Schedule != "" {
		if sel != "" {
			sel += ","
		}
		sel += velero.LabelScheduleName + "=" + o.Schedule
	}
	return sel
}

func (o *Options) tablePrinter() printers.ResourcePrinter {
	return printers.NewTablePrinter(printers.PrintOptions{NoHeaders: o.NoHeaders, ShowLabels: o.ShowLabels, WithNamespace: o.AllNamespaces})
}

// print writes the listed items: the one object with NAME and -o, the
// list with -o, else the table (or, when empty, a note on stderr).
func (o *Options) print(ctx context.Context, dyn dynamic.Interface, table printers.ResourcePrinter, l *unstructured.UnstructuredList) error {
	if o.printer != nil {
		var obj runtime.Object = l
		if o.Name != "" && len(l.Items) == 1 {
			obj = &l.Items[0]
		}
		return o.printer.PrintObj(obj, o.Out)
	}
	if len(l.Items) == 0 {
		switch {
		case o.Schedule != "":
			fmt.Fprintf(o.ErrOut, "No backups of schedule %s in %s yet.\n", o.Schedule, o.where())
		case !o.Watch || o.Name == "":
			fmt.Fprintf(o.ErrOut, "No %ss in %s.\n", o.noun.Kind.Noun, o.where())
		}
		return nil
	}
	t, err := o.table(ctx, dyn, l.Items)
	if err != nil {
		return err
	}
	return table.PrintObj(t, o.Out)
}

func (o *Options) where() string {
	if o.AllNamespaces {
		return "any namespace"
	}
	return o.factory.Namespace()
}

// table is the items as a metav1.Table, each row carrying its object so the
// printer can show its namespace and labels.
func (o *Options) table(ctx context.Context, dyn dynamic.Interface, items []unstructured.Unstructured) (*metav1.Table, error) {
	cells, err := o.noun.Cells(ctx, dyn, o.factory.Namespace(), items, time.Now())
	if err != nil {
		return nil, err
	}
	t := &metav1.Table{ColumnDefinitions: o.noun.Columns}
	for i := range items {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells[i], Object: runtime.RawExtension{Object: &items[i]}})
	}
	return t, nil
}

// watch prints each change after the listing at rv, until ctx ends
// (Ctrl-C), which is how kubectl's -w ends too. The retry watcher resumes
// where it was when the API server closes the watch.
func (o *Options) watch(ctx context.Context, dyn dynamic.Interface, c dynamic.ResourceInterface, table printers.ResourcePrinter, lo metav1.ListOptions, rv string) error {
	lw := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.LabelSelector, opts.FieldSelector = lo.LabelSelector, lo.FieldSelector
		return c.Watch(ctx, opts)
	}}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, rv, lw)
	if err != nil {
		return kube.Explain(err, o.noun.Kind.GVR, o.Name)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.Done():
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the watch on %ss ended: run the command again", o.noun.Kind.Noun)
		case ev, ok := <-w.ResultChan():
			if !ok {
				continue // Done says why
			}
			if ev.Type == watch.Error {
				return fmt.Errorf("watching %ss: %w", o.noun.Kind.Noun, kube.Explain(apiStatusError(ev.Object), o.noun.Kind.GVR, o.Name))
			}
			u, isObj := ev.Object.(*unstructured.Unstructured)
			if !isObj || ev.Type == watch.Bookmark {
				continue
			}
			if o.printer != nil {
				if err := o.printer.PrintObj(u, o.Out); err != nil {
					return err
				}
				continue
			}
			t, err := o.table(ctx, dyn, []unstructured.Unstructured{*u})
			if err != nil {
				return err
			}
			if err := table.PrintObj(t, o.Out); err != nil {
				return err
			}
		}
	}
}

func apiStatusError(obj runtime.Object) error {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if msg := kube.Str(u.Object, "message"); msg != "" {
			return errors.New(msg)
		}
	}
	return errors.New("the API server ended the watch with an error")
}

func column(name, format string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string", Format: format}
}

// Columns builds table column definitions from their names.
func Columns(names ...string) []metav1.TableColumnDefinition {
	c := make([]metav1.TableColumnDefinition, len(names))
	for i, n := range names {
		format := ""
		if n == "NAME" {
			format = "name"
		}
		c[i] = column(n, format)
	}
	return c
}

func backups(f *cmdutil.Factory) Noun {
	return Noun{
		Kind: velerorun.Backup, Aliases: []string{"backup"}, Complete: completion.BackupNames(f),
		Short:      "List backups: phase, items, errors, warnings, times (velero backup get)",
		Columns:    Columns("NAME", "PHASE", "ITEMS", "ERRORS", "WARNINGS", "STARTED", "DURATION", "EXPIRES", "STORAGE LOCATION"),
		BySchedule: true,
		Cells: func(_ context.Context, _ dynamic.Interface, _ string, items []unstructured.Unstructured, now time.Time) ([][]any, error) {
			return rows(items, now, func(u *unstructured.Unstructured, s velero.Status, started, took string) []any {
				return []any{u.GetName(), s.Phase, itemCount(s), s.Errors, s.Warnings, started, took, expires(s, now),
					printer.OrNone(kube.Str(u.Object, "spec", "storageLocation"))}
			}), nil
		},
	}
}

func restores(f *cmdutil.Factory) Noun {
	return Noun{
		Kind: velerorun.Restore, Aliases: []string{"restore"}, Complete: completion.RestoreNames(f),
		Short:   "List restores: backup, phase, items, errors, warnings, times (velero restore get)",
		Columns: Columns("NAME", "BACKUP", "PHASE", "ITEMS", "ERRORS", "WARNINGS", "STARTED", "DURATION"),
		Cells: func(_ context.Context, _ dynamic.Interface, _ string, items []unstructured.Unstructured, now time.Time) ([][]any, error) {
			return rows(items, now, func(u *unstructured.Unstructured, s velero.Status, started, took string) []any {
				return []any{u.GetName(), printer.OrNone(kube.Str(u.Object, "spec", "backupName")), s.Phase, itemCount(s),
					s.Errors, s.Warnings, started, took}
			}), nil
		},
	}
}

func rows(items []unstructured.Unstructured, now time.Time, row func(*unstructured.Unstructured, velero.Status, string, string) []any) [][]any {
	out := make([][]any, len(items))
	for i := range items {
		s := velero.ReadStatus(&items[i])
		started, took := "<none>", "<none>"
		if !s.Started.IsZero() {
			started = duration.HumanDuration(now.Sub(s.Started)) + " ago"
			took = duration.HumanDuration(s.Duration(now))
		}
		out[i] = row(&items[i], s, started, took)
	}
	return out
}

func itemCount(s velero.Status) string { return fmt.Sprintf("%d/%d", s.Items, s.TotalItems) }

func expires(s velero.Status, now time.Time) string {
	switch {
	case s.Expires.IsZero():
		return "<none>"
	case s.Expires.After(now):
		return "in " + duration.HumanDuration(s.Expires.Sub(now))
	}
	return "expired"
}
