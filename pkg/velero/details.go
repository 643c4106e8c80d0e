package velero

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
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

// Transfer is one PodVolumeBackup, PodVolumeRestore, DataUpload or
// DataDownload: the data of one volume on its way to or from the bucket.
type Transfer struct {
	Name       string `json:"name"`
	Volume     string `json:"volume"`
	Phase      string `json:"phase"`
	Node       string `json:"node,omitempty"`
	BytesDone  int64  `json:"bytesDone"`
	TotalBytes int64  `json:"totalBytes"`
	Message    string `json:"message,omitempty"`
}

// ReadTransfer reads any of the four kinds; each names its volume its own way.
func ReadTransfer(u *unstructured.Unstructured) Transfer {
	o := u.Object
	t := Transfer{
		Name:       u.GetName(),
		Phase:      orDefault(kube.Str(o, "status", "phase"), PhaseNew),
		BytesDone:  kube.Int(o, "status", "progress", "bytesDone"),
		TotalBytes: kube.Int(o, "status", "progress", "totalBytes"),
		Message:    kube.Str(o, "status", "message"),
		Node:       orDefault(kube.Str(o, "spec", "node"), kube.Str(o, "status", "node")),
	}
	switch u.GetKind() {
	case "PodVolumeBackup", "PodVolumeRestore":
		t.Volume = fmt.Sprintf("pod %s/%s volume %s", kube.Str(o, "spec", "pod", "namespace"), kube.Str(o, "spec", "pod", "name"), kube.Str(o, "spec", "volume"))
	case "DataUpload":
		t.Volume = "pvc " + kube.Str(o, "spec", "sourceNamespace") + "/" + kube.Str(o, "spec", "sourcePVC")
	case "DataDownload":
		t.Volume = "pvc " + kube.Str(o, "spec", "targetVolume", "namespace") + "/" + kube.Str(o, "spec", "targetVolume", "pvc")
	}
	return t
}

// Progress is "1.5 MiB of 2.0 MiB" (or the phase's word when nothing moved yet).
func (t Transfer) Progress() string {
	if t.TotalBytes == 0 && t.BytesDone == 0 {
		return "no bytes counted"
	}
	return fmt.Sprintf("%s of %s", bytesIEC(t.BytesDone), bytesIEC(t.TotalBytes))
}

func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
