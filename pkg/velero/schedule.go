package velero

import (
	"fmt"
	"maps"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
)

// LabelScheduleName is the label Velero puts on every backup a schedule makes.
const LabelScheduleName = "velero.io/schedule-name"

// Schedule phases as Velero sets them.
const (
	SchedulePhaseEnabled          = "Enabled"
	SchedulePhaseFailedValidation = "FailedValidation"
)

// cronHelp is what every cron error ends with: the forms Velero accepts.
const cronHelp = `write five fields (minute hour day-of-month month day-of-week) such as "0 1 * * *", or a descriptor such as @daily or "@every 1h"`

// ParseCron checks a schedule's cron expression with the parser Velero's
// schedule controller uses (github.com/netresearch/go-cron's ParseStandard in
// Velero v1.18.3), so what the plugin accepts, Velero accepts. Velero
// recovers from parser panics too; so does this.
func ParseCron(expr string) (s cron.Schedule, err error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("--schedule is empty: %s", cronHelp)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("--schedule %q is not a cron expression Velero accepts (%v): %s", expr, r, cronHelp)
		}
	}()
	s, err = cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("--schedule %q is not a cron expression Velero accepts (%v): %s", expr, err, cronHelp)
	}
	return s, nil
}

// ScheduleOptions are the inputs of a Schedule: the cron expression and the
// template of the backups it makes.
type ScheduleOptions struct {
	Name, Namespace, Cron string
	Template              BackupOptions
	Paused                bool
	// UseOwnerReferences makes each backup owned by the schedule, so deleting
	// the schedule object lets the garbage collector delete the Backup objects
	// (not their data); nil leaves Velero's default (false).
	UseOwnerReferences *bool
}

// NewSchedule builds the Schedule; errors are a malformed cron expression or selector.
func NewSchedule(o ScheduleOptions) (*unstructured.Unstructured, error) {
	if _, err := ParseCron(o.Cron); err != nil {
		return nil, err
	}
	b, err := NewBackup(o.Template)
	if err != nil {
		return nil, err
	}
	tmpl, _, _ := unstructured.NestedMap(b.Object, "spec")
	spec := map[string]any{"schedule": o.Cron, "template": tmpl}
	if o.Paused {
		spec["paused"] = true
	}
	if o.UseOwnerReferences != nil {
		spec["useOwnerReferencesInBackup"] = *o.UseOwnerReferences
	}
	return object("Schedule", o.Name, o.Namespace, spec), nil
}

// TimestampedName is the name Velero gives a schedule's backup made at t.
func TimestampedName(schedule string, t time.Time) string {
	return schedule + "-" + t.UTC().Format("20060102150405")
}

// BackupFromSchedule builds the Backup a schedule would make now, the way
// Velero's schedule controller does (its builder's FromSchedule): the
// template's spec; the template's labels, else the schedule's, plus the
// schedule-name label; the schedule's annotations; and an owner reference when
// the schedule asks for one.
func BackupFromSchedule(sched *unstructured.Unstructured, name string) *unstructured.Unstructured {
	tmpl, _, _ := unstructured.NestedMap(sched.Object, "spec", "template")
	tmpl = runtime.DeepCopyJSON(tmpl)
	labels, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "labels")
	if labels == nil {
		labels = maps.Clone(sched.GetLabels())
	}
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelScheduleName] = sched.GetName()
	delete(tmpl, "metadata")
	b := object("Backup", name, sched.GetNamespace(), tmpl)
	b.SetLabels(labels)
	if a := sched.GetAnnotations(); len(a) > 0 {
		b.SetAnnotations(maps.Clone(a))
	}
	if own, _, _ := unstructured.NestedBool(sched.Object, "spec", "useOwnerReferencesInBackup"); own {
		yes := true
		b.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: APIVersion, Kind: "Schedule", Name: sched.GetName(), UID: sched.GetUID(), Controller: &yes,
		}})
	}
	return b
}

// ScheduleStatus is what a Schedule says about itself, and when it runs next.
type ScheduleStatus struct {
	Phase            string
	Cron             string
	Paused           bool
	LastBackup       time.Time
	ValidationErrors []string
	// NextRun is when Velero will next make a backup; zero when paused or
	// when the expression does not parse.
	NextRun time.Time
}

// ReadSchedule reads a Schedule's status and works out its next run the way
// Velero's controller does: the expression's next time after the last
// backup (or the creation, before the first), or after the last skipped run
// when that is later.
func ReadSchedule(u *unstructured.Unstructured) ScheduleStatus {
	o := u.Object
	s := ScheduleStatus{
		Phase:      orDefault(kube.Str(o, "status", "phase"), PhaseNew),
		Cron:       kube.Str(o, "spec", "schedule"),
		LastBackup: timeField(o, "status", "lastBackup"),
	}
	s.Paused, _, _ = unstructured.NestedBool(o, "spec", "paused")
	s.ValidationErrors, _, _ = unstructured.NestedStringSlice(o, "status", "validationErrors")
	if s.Paused {
		return s
	}
	c, err := ParseCron(s.Cron)
	if err != nil {
		return s
	}
	base := s.LastBackup
	if base.IsZero() {
		base = u.GetCreationTimestamp().Time
	}
	if skipped := timeField(o, "status", "lastSkipped"); skipped.After(base) {
		base = skipped
	}
	s.NextRun = c.Next(base)
	return s
}
