package velero

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The chapter's Backup, field for field.
func TestNewBackupIsTheChapters(t *testing.T) {
	b, err := NewBackup(BackupOptions{Name: "hello-world", Namespace: "openshift-adp", IncludedNamespaces: []string{"hello-world"}, TTL: 720 * time.Hour, StorageLocation: "rig-dpa-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": "hello-world", "namespace": "openshift-adp"},
		"spec":     map[string]any{"includedNamespaces": []any{"hello-world"}, "storageLocation": "rig-dpa-1", "ttl": "720h0m0s"},
	}
	if !reflect.DeepEqual(b.Object, want) {
		t.Errorf("backup =\n%v\nwant\n%v", b.Object, want)
	}
}

func TestNewBackupFilters(t *testing.T) {
	yes := true
	b, err := NewBackup(BackupOptions{Name: "a", IncludedNamespaces: []string{"a"}, TTL: time.Hour, Selector: "app=web,tier notin (db)",
		IncludedResources: []string{"pods"}, ExcludedResources: []string{"secrets"}, SnapshotVolumes: &yes})
	if err != nil {
		t.Fatal(err)
	}
	spec := b.Object["spec"].(map[string]any)
	if spec["snapshotVolumes"] != true || !reflect.DeepEqual(spec["includedResources"], []any{"pods"}) || !reflect.DeepEqual(spec["excludedResources"], []any{"secrets"}) {
		t.Errorf("spec = %v", spec)
	}
	if ml, _, _ := unstructured.NestedStringMap(spec, "labelSelector", "matchLabels"); ml["app"] != "web" {
		t.Errorf("labelSelector = %v", spec["labelSelector"])
	}
	if _, err := NewBackup(BackupOptions{Selector: "a=b=c"}); err == nil || !strings.Contains(err.Error(), "--selector") {
		t.Errorf("bad selector: %v", err)
	}
}

func TestParseNamespaceMappings(t *testing.T) {
	m, err := ParseNamespaceMappings([]string{"a:b, c:d", "e:f"})
	if err != nil || !reflect.DeepEqual(m, map[string]string{"a": "b", "c": "d", "e": "f"}) {
		t.Errorf("got %v, %v", m, err)
	}
	for _, bad := range []string{"a", "a:", ":b", "a:b:c", "a:b,a:c"} {
		if _, err := ParseNamespaceMappings([]string{bad}); err == nil || !strings.Contains(err.Error(), "--namespace-mappings") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestDeleteBackupRequest(t *testing.T) {
	d := NewDeleteBackupRequest("openshift-adp", "hello-world", "uid-1")
	if d.GetGenerateName() != "hello-world-" || d.GetLabels()[LabelBackupUID] != "uid-1" || d.Object["spec"].(map[string]any)["backupName"] != "hello-world" {
		t.Errorf("dbr = %v", d.Object)
	}
}

func bsl(name, phase string, def bool) unstructured.Unstructured {
	return unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"default": def}, "status": map[string]any{"phase": phase},
	}}
}

func TestDefaultLocation(t *testing.T) {
	if n, err := DefaultLocation([]unstructured.Unstructured{bsl("x-2", "Available", false), bsl("x-1", "Available", true)}); n != "x-1" || err != nil {
		t.Errorf("got %q, %v", n, err)
	}
	_, err := DefaultLocation([]unstructured.Unstructured{bsl("x-1", "Unavailable", true), bsl("x-2", "Available", false)})
	if err == nil || !strings.Contains(err.Error(), "--storage-location (x-2)") {
		t.Errorf("unavailable default: %v", err)
	}
	if _, err := DefaultLocation(nil); err == nil || !strings.Contains(err.Error(), "setup") {
		t.Errorf("none: %v", err)
	}
}

func TestReadStatusRestoreItems(t *testing.T) {
	r := &unstructured.Unstructured{Object: map[string]any{"kind": "Restore", "status": map[string]any{
		"phase": "InProgress", "progress": map[string]any{"itemsRestored": int64(3), "totalItems": int64(9)},
		"startTimestamp": "2024-01-01T00:00:00Z",
	}}}
	s := ReadStatus(r)
	if s.Items != 3 || s.TotalItems != 9 || s.Duration(s.Started.Add(time.Minute)) != time.Minute {
		t.Errorf("status = %+v", s)
	}
	if ReadStatus(&unstructured.Unstructured{Object: map[string]any{}}).Phase != PhaseNew {
		t.Error("no phase should read as New")
	}
}
