package velero

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Kinds of file a DownloadRequest fetches (its spec.target.kind), the ones
// the plugin reads. All are gzipped in the bucket.
const (
	TargetBackupLog          = "BackupLog"
	TargetBackupResourceList = "BackupResourceList"
	TargetBackupResults      = "BackupResults"
	TargetBackupVolumeInfos  = "BackupVolumeInfos"
	TargetRestoreLog         = "RestoreLog"
	TargetRestoreResults     = "RestoreResults"
)

// Result is one half of a results file: Velero's messages about itself, about
// cluster-scoped items, and per namespace.
type Result struct {
	Velero     []string            `json:"velero,omitempty"`
	Cluster    []string            `json:"cluster,omitempty"`
	Namespaces map[string][]string `json:"namespaces,omitempty"`
}

// Results is a backup's or restore's results file.
type Results struct {
	Errors   Result `json:"errors"`
	Warnings Result `json:"warnings"`
}

// ParseResults reads a results file (gunzipped).
func ParseResults(b []byte) (*Results, error) {
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("cannot read Velero's results file: %w", err)
	}
	return &r, nil
}

// Messages lists a result's messages, each prefixed with where it applies
// ("velero: ", "cluster: ", "namespace hello-world: "), in a stable order.
func (r Result) Messages() []string {
	var out []string
	for _, m := range r.Velero {
		out = append(out, "velero: "+m)
	}
	for _, m := range r.Cluster {
		out = append(out, "cluster: "+m)
	}
	nss := make([]string, 0, len(r.Namespaces))
	for ns := range r.Namespaces {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		for _, m := range r.Namespaces[ns] {
			out = append(out, "namespace "+ns+": "+m)
		}
	}
	return out
}

// ResourceList is a backup's list of what it holds: "apps/v1/Deployment" to
// "namespace/name" (or "name" for cluster-scoped items).
type ResourceList map[string][]string

// ParseResourceList reads a resource list file (gunzipped).
func ParseResourceList(b []byte) (ResourceList, error) {
	var l ResourceList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("cannot read Velero's resource list: %w", err)
	}
	for _, items := range l {
		slices.Sort(items)
	}
	return l, nil
}

// Kinds returns the resource list's keys, sorted.
func (l ResourceList) Kinds() []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// VolumeInfo is how one volume of a backup was protected, as Velero records
// it in the volume infos file. Only the fields the plugin shows are read.
type VolumeInfo struct {
	PVCName           string `json:"pvcName,omitempty"`
	PVCNamespace      string `json:"pvcNamespace,omitempty"`
	PVName            string `json:"pvName,omitempty"`
	BackupMethod      string `json:"backupMethod,omitempty"`
	SnapshotDataMoved bool   `json:"snapshotDataMoved"`
	Skipped           bool   `json:"skipped"`
	SkippedReason     string `json:"skippedReason,omitempty"`
	Result            string `json:"result,omitempty"`
	PVBInfo           *struct {
		VolumeName   string `json:"volumeName"`
		PodName      string `json:"podName"`
		PodNamespace string `json:"podNamespace"`
	} `json:"pvbInfo,omitempty"`
}

// ParseVolumeInfos reads a volume infos file (gunzipped).
func ParseVolumeInfos(b []byte) ([]VolumeInfo, error) {
	var v []VolumeInfo
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("cannot read Velero's volume infos: %w", err)
	}
	return v, nil
}

// Volume names the volume: namespace/pvc, else the PV, else the pod volume.
func (v VolumeInfo) Volume() string {
	switch {
	case v.PVCName != "":
		return v.PVCNamespace + "/" + v.PVCName
	case v.PVName != "":
		return v.PVName
	case v.PVBInfo != nil:
		return v.PVBInfo.PodNamespace + "/" + v.PVBInfo.PodName + " volume " + v.PVBInfo.VolumeName
	}
	return "<unnamed>"
}

// Protection says in a few words how the volume was protected.
func (v VolumeInfo) Protection() string {
	if v.Skipped {
		if v.SkippedReason != "" {
			return "skipped: " + v.SkippedReason
		}
		return "skipped"
	}
	var s string
	switch v.BackupMethod {
	case "NativeSnapshot":
		s = "native snapshot"
	case "CSISnapshot":
		s = "CSI snapshot"
		if v.SnapshotDataMoved {
			s = "data upload (CSI snapshot moved to the storage location)"
		}
	case "PodVolumeBackup":
		s = "file-system backup"
	default:
		s = "method " + orDefault(v.BackupMethod, "unknown")
	}
	if v.Result != "" {
		s += ", " + v.Result
	}
	return s
}
