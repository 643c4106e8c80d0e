// Package velero builds Velero's velero.io/v1 objects (Backup, Restore,
// DeleteBackupRequest) as unstructured data and reads their status. The
// builders are pure: options in, object out. The Velero Go module is not used:
// it weighs tens of megabytes for the few fields touched here.
package velero

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
)

// APIVersion of every Velero object built here.
const APIVersion = "velero.io/v1"

// Phases of Backups and Restores that the plugin acts on.
const (
	PhaseNew              = "New"
	PhaseInProgress       = "InProgress"
	PhaseCompleted        = "Completed"
	PhasePartiallyFailed  = "PartiallyFailed"
	PhaseFailed           = "Failed"
	PhaseFailedValidation = "FailedValidation"
	PhaseDeleting         = "Deleting"

	// BSL phases.
	PhaseAvailable   = "Available"
	PhaseUnavailable = "Unavailable"

	// DeleteBackupRequest's last phase.
	PhaseProcessed = "Processed"
)

// Labels Velero reads on a DeleteBackupRequest.
const (
	LabelBackupName = "velero.io/backup-name"
	LabelBackupUID  = "velero.io/backup-uid"
)

// Terminal reports whether a Backup or Restore phase is final. The
// WaitingForPluginOperations and Finalizing phases are not: Velero is still
// at work (the mistake velero#5964 fixed in its own CLI).
func Terminal(phase string) bool {
	switch phase {
	case PhaseCompleted, PhasePartiallyFailed, PhaseFailed, PhaseFailedValidation:
		return true
	}
	return false
}

// BackupOptions are the inputs of a Backup.
type BackupOptions struct {
	Name, Namespace    string
	IncludedNamespaces []string
	TTL                time.Duration
	StorageLocation    string
	// Selector is a label selector in kubectl's syntax ("app=web,tier!=db").
	Selector                             string
	IncludedResources, ExcludedResources []string
	// SnapshotVolumes is left to Velero's default when nil.
	SnapshotVolumes *bool
	// DefaultVolumesToFsBackup backs up every pod volume through the node
	// agent (Kopia) unless the pod opts out; nil leaves Velero's default.
	DefaultVolumesToFsBackup *bool
	// SnapshotMoveData moves CSI snapshots' data to the storage location
	// (OADP's Data Mover); nil leaves Velero's default.
	SnapshotMoveData *bool
}

// NewBackup builds the Backup; the only error is a malformed selector.
func NewBackup(o BackupOptions) (*unstructured.Unstructured, error) {
	spec := map[string]any{
		"includedNamespaces": strs(o.IncludedNamespaces),
		"storageLocation":    o.StorageLocation,
		"ttl":                o.TTL.String(),
	}
	if o.Selector != "" {
		sel, err := selector(o.Selector)
		if err != nil {
			return nil, err
		}
		spec["labelSelector"] = sel
	}
	if len(o.IncludedResources) > 0 {
		spec["includedResources"] = strs(o.IncludedResources)
	}
	if len(o.ExcludedResources) > 0 {
		spec["excludedResources"] = strs(o.ExcludedResources)
	}
	if o.SnapshotVolumes != nil {
		spec["snapshotVolumes"] = *o.SnapshotVolumes
	}
	if o.DefaultVolumesToFsBackup != nil {
		spec["defaultVolumesToFsBackup"] = *o.DefaultVolumesToFsBackup
	}
	if o.SnapshotMoveData != nil {
		spec["snapshotMoveData"] = *o.SnapshotMoveData
	}
	return object("Backup", o.Name, o.Namespace, spec), nil
}

// RestoreOptions are the inputs of a Restore.
type RestoreOptions struct {
	Name, Namespace, BackupName string
	IncludedNamespaces          []string
	NamespaceMapping            map[string]string
	// ExistingResourcePolicy is "none" or "update"; "" leaves Velero's default.
	ExistingResourcePolicy string
}

// NewRestore builds the Restore.
func NewRestore(o RestoreOptions) *unstructured.Unstructured {
	spec := map[string]any{"backupName": o.BackupName}
	if len(o.IncludedNamespaces) > 0 {
		spec["includedNamespaces"] = strs(o.IncludedNamespaces)
	}
	if len(o.NamespaceMapping) > 0 {
		m := map[string]any{}
		for k, v := range o.NamespaceMapping {
			m[k] = v
		}
		spec["namespaceMapping"] = m
	}
	if o.ExistingResourcePolicy != "" {
		spec["existingResourcePolicy"] = o.ExistingResourcePolicy
	}
	return object("Restore", o.Name, o.Namespace, spec)
}

// NewDeleteBackupRequest builds the request that makes Velero delete a
// backup with its data in object storage. Deleting the Backup object alone
// leaves the data, and the next sync brings the Backup back (velero#7509).
func NewDeleteBackupRequest(namespace, backupName, backupUID string) *unstructured.Unstructured {
	u := object("DeleteBackupRequest", "", namespace, map[string]any{"backupName": backupName})
	u.SetGenerateName(backupName + "-")
	labels := map[string]string{LabelBackupName: backupName}
	if backupUID != "" {
		labels[LabelBackupUID] = backupUID
	}
	u.SetLabels(labels)
	return u
}

// ExistingResourcePolicies are the values Restore's existingResourcePolicy takes.
var ExistingResourcePolicies = []string{"none", "update"}

// ParseNamespaceMappings reads "old:new,old2:new2" (repeatable) into a map.
func ParseNamespaceMappings(values []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range values {
		for _, pair := range strings.Split(v, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			from, to, ok := strings.Cut(pair, ":")
			from, to = strings.TrimSpace(from), strings.TrimSpace(to)
			if !ok || from == "" || to == "" || strings.Contains(to, ":") {
				return nil, fmt.Errorf("malformed --namespace-mappings entry %q: write OLD:NEW, several separated by commas (backup-ns:restored-ns)", pair)
			}
			if prev, dup := m[from]; dup && prev != to {
				return nil, fmt.Errorf("--namespace-mappings maps %q twice (to %q and %q): give one target", from, prev, to)
			}
			m[from] = to
		}
	}
	return m, nil
}

func selector(s string) (map[string]any, error) {
	ls, err := metav1.ParseToLabelSelector(s)
	if err != nil {
		return nil, fmt.Errorf("invalid --selector %q: %w (write it as for kubectl -l: app=web,tier in (api,web))", s, err)
	}
	return runtime.DefaultUnstructuredConverter.ToUnstructured(ls)
}

func object(kind, name, namespace string, spec map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"namespace": namespace}
	if name != "" {
		meta["name"] = name
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion, "kind": kind, "metadata": meta, "spec": spec,
	}}
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Status is what a Backup's or Restore's status says, in one shape for both.
type Status struct {
	Phase string
	// Items is itemsBackedUp for a Backup, itemsRestored for a Restore.
	Items, TotalItems int64
	Errors, Warnings  int64
	ValidationErrors  []string
	FailureReason     string
	Started, Finished time.Time
	// Expires is a Backup's expiration; zero for restores.
	Expires time.Time
}

// ReadStatus reads a Backup's or a Restore's status.
func ReadStatus(obj *unstructured.Unstructured) Status {
	o := obj.Object
	items := "itemsBackedUp"
	if obj.GetKind() == "Restore" {
		items = "itemsRestored"
	}
	s := Status{
		Phase:         kube.Str(o, "status", "phase"),
		Items:         kube.Int(o, "status", "progress", items),
		TotalItems:    kube.Int(o, "status", "progress", "totalItems"),
		Errors:        kube.Int(o, "status", "errors"),
		Warnings:      kube.Int(o, "status", "warnings"),
		FailureReason: kube.Str(o, "status", "failureReason"),
		Started:       timeField(o, "status", "startTimestamp"),
		Finished:      timeField(o, "status", "completionTimestamp"),
		Expires:       timeField(o, "status", "expiration"),
	}
	s.ValidationErrors, _, _ = unstructured.NestedStringSlice(o, "status", "validationErrors")
	if s.Phase == "" {
		// Velero has not picked it up yet; its API documents "" as New.
		s.Phase = PhaseNew
	}
	return s
}

// Duration is how long the operation ran: start to completion, or to now
// while it runs; zero before it starts.
func (s Status) Duration(now time.Time) time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	end := s.Finished
	if end.IsZero() {
		end = now
	}
	return end.Sub(s.Started)
}

func timeField(o map[string]any, fields ...string) time.Time {
	t, err := time.Parse(time.RFC3339, kube.Str(o, fields...))
	if err != nil {
		return time.Time{}
	}
	return t
}

// DefaultLocation picks the BSL a new Backup goes to when none is named: the
// one marked default. It fails, naming what to do, when there is no default
// or the default is not Available.
func DefaultLocation(bsls []unstructured.Unstructured) (string, error) {
	var available, defaults []string
	for _, b := range bsls {
		phase := kube.Str(b.Object, "status", "phase")
		if phase == PhaseAvailable {
			available = append(available, b.GetName())
		}
		if def, _, _ := unstructured.NestedBool(b.Object, "spec", "default"); def {
			if phase == PhaseAvailable {
				return b.GetName(), nil
			}
			defaults = append(defaults, fmt.Sprintf("%q is %s%s", b.GetName(), orDefault(phase, "not validated yet"), message(b)))
		}
	}
	sort.Strings(available)
	hint := "run 'kubectl oadp-sts status' and check the DataProtectionApplication"
	if len(available) > 0 {
		hint = "name an available one with --storage-location (" + strings.Join(available, ", ") + ")"
	}
	switch {
	case len(bsls) == 0:
		return "", fmt.Errorf("no backup storage location in this namespace: set up OADP first ('kubectl oadp-sts setup') or pass -n with the OADP namespace")
	case len(defaults) > 0:
		return "", fmt.Errorf("the default backup storage location %s, not Available: %s", strings.Join(defaults, "; "), hint)
	}
	return "", fmt.Errorf("no backup storage location is marked default: %s", hint)
}

// LocationReady checks that the named BSL exists among bsls and is Available.
func LocationReady(bsls []unstructured.Unstructured, name string) error {
	var names []string
	for _, b := range bsls {
		names = append(names, b.GetName())
		if b.GetName() != name {
			continue
		}
		if phase := kube.Str(b.Object, "status", "phase"); phase != PhaseAvailable {
			return fmt.Errorf("backup storage location %q is %s%s: wait for Velero to validate it, or fix it and check with 'kubectl oadp-sts status'", name, orDefault(phase, "not validated yet"), message(b))
		}
		return nil
	}
	slices.Sort(names)
	return fmt.Errorf("no backup storage location %q: use one of %s", name, orDefault(strings.Join(names, ", "), "<none>"))
}

func message(b unstructured.Unstructured) string {
	if m := kube.Str(b.Object, "status", "message"); m != "" {
		return " (" + m + ")"
	}
	return ""
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
