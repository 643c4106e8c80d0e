package velero

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestResultsMessages(t *testing.T) {
	r, err := ParseResults([]byte(`{"errors":{"velero":["v1"],"cluster":["c1"],"namespaces":{"b":["b1"],"a":["a1","a2"]}},"warnings":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"velero: v1", "cluster: c1", "namespace a: a1", "namespace a: a2", "namespace b: b1"}
	if got := r.Errors.Messages(); !reflect.DeepEqual(got, want) {
		t.Errorf("messages = %v, want %v", got, want)
	}
	if got := r.Warnings.Messages(); len(got) != 0 {
		t.Errorf("warnings = %v", got)
	}
	if _, err := ParseResults([]byte("<Error/>")); err == nil {
		t.Error("a non-JSON results file was read")
	}
}

func TestVolumeProtection(t *testing.T) {
	cases := []struct {
		in   string
		name string
		want string
	}{
		{`{"pvcName":"data","pvcNamespace":"shop","backupMethod":"CSISnapshot","result":"succeeded"}`, "shop/data", "CSI snapshot, succeeded"},
		{`{"pvcName":"data","pvcNamespace":"shop","backupMethod":"CSISnapshot","snapshotDataMoved":true}`, "shop/data", "data upload (CSI snapshot moved to the storage location)"},
		{`{"pvName":"pv-1","backupMethod":"NativeSnapshot","result":"failed"}`, "pv-1", "native snapshot, failed"},
		{`{"pvbInfo":{"podName":"web","podNamespace":"shop","volumeName":"cache"},"backupMethod":"PodVolumeBackup"}`, "shop/web volume cache", "file-system backup"},
		{`{"pvcName":"scratch","pvcNamespace":"shop","skipped":true,"skippedReason":"no applicable method"}`, "shop/scratch", "skipped: no applicable method"},
	}
	for _, tc := range cases {
		v, err := ParseVolumeInfos([]byte("[" + tc.in + "]"))
		if err != nil {
			t.Fatal(err)
		}
		if v[0].Volume() != tc.name || v[0].Protection() != tc.want {
			t.Errorf("%s: %q %q, want %q %q", tc.in, v[0].Volume(), v[0].Protection(), tc.name, tc.want)
		}
	}
}

func TestReadTransfer(t *testing.T) {
	du := &unstructured.Unstructured{Object: map[string]any{
		"kind": "DataUpload", "metadata": map[string]any{"name": "b-x"},
		"spec":   map[string]any{"sourceNamespace": "shop", "sourcePVC": "data"},
		"status": map[string]any{"phase": "InProgress", "node": "w1", "progress": map[string]any{"bytesDone": int64(1536), "totalBytes": int64(3 << 20)}},
	}}
	got := ReadTransfer(du)
	if got.Volume != "pvc shop/data" || got.Phase != "InProgress" || got.Node != "w1" || got.Progress() != "1.5 KiB of 3.0 MiB" {
		t.Errorf("%+v %q", got, got.Progress())
	}
	pvb := &unstructured.Unstructured{Object: map[string]any{
		"kind": "PodVolumeBackup", "metadata": map[string]any{"name": "b-y"},
		"spec": map[string]any{"pod": map[string]any{"namespace": "shop", "name": "web"}, "volume": "cache", "node": "w2"},
	}}
	if got := ReadTransfer(pvb); got.Volume != "pod shop/web volume cache" || got.Phase != "New" || got.Node != "w2" || got.Progress() != "no bytes counted" {
		t.Errorf("%+v", got)
	}
}

func TestResourceListSorted(t *testing.T) {
	l, err := ParseResourceList([]byte(`{"v1/Service":["hw/b","hw/a"],"apps/v1/Deployment":["hw/d"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Kinds(), []string{"apps/v1/Deployment", "v1/Service"}) || !reflect.DeepEqual(l["v1/Service"], []string{"hw/a", "hw/b"}) {
		t.Errorf("%v", l)
	}
}
