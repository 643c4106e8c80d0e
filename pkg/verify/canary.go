// Package verify is the domain of `verify`: the canary a run backs up and
// restores (its names, labels and random content), the comparison of what
// came back, which objects an earlier run left behind, and the verdict. All of
// it is pure: the command reads and writes the cluster, this package decides.
package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
)

const (
	// RunLabel carries a run's ID on everything it creates, so a run finds
	// its own objects and a later one those an interrupted run left.
	RunLabel = "oadp-sts.openshift.io/verify"
	// UntilAnnotation is when the run that made an object has surely ended
	// (its start plus every timeout it has); past it the object is a
	// leftover. An interrupted run sets it to the moment it gave up.
	UntilAnnotation = "oadp-sts.openshift.io/verify-until"

	// Prefix starts every canary namespace: verify's own, never a user's.
	Prefix = "oadp-sts-verify-"
	// RestoredSuffix ends the namespace the canary is restored into.
	RestoredSuffix = "-restored"

	// ContentSize is the size of each random payload: large enough to span
	// more than one compression block, small enough for any etcd.
	ContentSize = 4096

	// VolumeFile is the file the volume's writer pod fills with random bytes.
	VolumeFile = "/data/canary.bin"
	// VolumeSize is the requested size of the canary PVC.
	VolumeSize = "1Gi"
	// VolumeImage runs the writer; any image with sh, head and sha256sum works.
	VolumeImage = "registry.access.redhat.com/ubi9/ubi-minimal:latest"

	configMapName = "oadp-sts-verify"
	secretName    = "oadp-sts-verify"
	pvcName       = "oadp-sts-verify"
	podName       = "oadp-sts-verify-writer"
)

// Keys of the canary's payloads.
const (
	KeyBinary = "canary.bin"
	KeyText   = "canary.txt"
)

// NewRunID reads 4 random bytes as 8 hex digits: with the prefix, a namespace
// name no user picks and no two runs share.
func NewRunID(rnd io.Reader) (string, error) {
	b := make([]byte, 4)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("no randomness for the canary's name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Canary is one run's test data and the names of everything it creates.
type Canary struct {
	ID string
	// Namespace holds the canary; Restored is where it is restored to.
	Namespace, Restored string
	// BackupName and RestoreName are the Velero objects' names.
	BackupName, RestoreName string
	// OADPNamespace is where the Backup, the Restore and the DPT go.
	OADPNamespace string
	// Until is the UntilAnnotation every object gets.
	Until time.Time

	ConfigMap map[string]string // the text payload
	Binary    []byte            // the ConfigMap's binaryData payload
	Secret    []byte            // the Secret's payload

	// StorageClass is --volume's class; "" means no volume.
	StorageClass string
}

// NewCanary draws the canary's content from rnd.
func NewCanary(id, oadpNamespace, storageClass string, until time.Time, rnd io.Reader) (*Canary, error) {
	c := &Canary{
		ID: id, Namespace: Prefix + id, Restored: Prefix + id + RestoredSuffix,
		BackupName: Prefix + id, RestoreName: Prefix + id, OADPNamespace: oadpNamespace,
		Until: until.UTC().Truncate(time.Second), StorageClass: storageClass,
		Binary: make([]byte, ContentSize), Secret: make([]byte, ContentSize),
	}
	text := make([]byte, ContentSize/2)
	for _, b := range [][]byte{c.Binary, c.Secret, text} {
		if _, err := io.ReadFull(rnd, b); err != nil {
			return nil, fmt.Errorf("no randomness for the canary's content: %w", err)
		}
	}
	c.ConfigMap = map[string]string{KeyText: hex.EncodeToString(text)}
	return c, nil
}

// Bytes is how much payload the canary carries, as compared after the restore.
func (c *Canary) Bytes() int {
	n := len(c.Binary) + len(c.Secret)
	for _, v := range c.ConfigMap {
		n += len(v)
	}
	return n
}

func (c *Canary) meta(name, namespace string) map[string]any {
	m := map[string]any{
		"name": name,
		"labels": map[string]any{
			manifests.ManagedByLabel: manifests.ManagedByValue,
			RunLabel:                 c.ID,
		},
		"annotations": map[string]any{UntilAnnotation: c.Until.Format(time.RFC3339)},
	}
	if namespace != "" {
		m["namespace"] = namespace
	}
	return m
}

func (c *Canary) mark(u *unstructured.Unstructured) *unstructured.Unstructured {
	m := c.meta(u.GetName(), u.GetNamespace())
	u.Object["metadata"] = mergeMeta(u.Object["metadata"], m)
	return u
}

func mergeMeta(old any, add map[string]any) map[string]any {
	out, _ := old.(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range add {
		if k == "name" && v == "" {
			continue
		}
		out[k] = v
	}
	return out
}

// Objects are the canary's objects in the order they are created: the
// namespace, the ConfigMap, the Secret and, with a volume, the PVC and the
// writer pod.
func (c *Canary) Objects() []*unstructured.Unstructured {
	bin := map[string]any{KeyBinary: b64(c.Binary)}
	data := map[string]any{}
	for k, v := range c.ConfigMap {
		data[k] = v
	}
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": c.meta(c.Namespace, "")}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": c.meta(configMapName, c.Namespace),
			"data": data, "binaryData": bin}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": c.meta(secretName, c.Namespace),
			"type": "Opaque", "data": map[string]any{KeyBinary: b64(c.Secret)}}},
	}
	if c.StorageClass != "" {
		objs = append(objs, c.pvc(), c.writerPod())
	}
	return objs
}

func (c *Canary) pvc() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": c.meta(pvcName, c.Namespace),
		"spec": map[string]any{
			"accessModes":      []any{"ReadWriteOnce"},
			"storageClassName": c.StorageClass,
			"resources":        map[string]any{"requests": map[string]any{"storage": VolumeSize}},
		},
	}}
}

// WriterScript fills the volume once and prints the file's checksum. It runs
// again in the restored pod, where the file exists already: then it only
// prints the checksum of what came back. The pod keeps running because
// Velero's file-system backup copies only volumes of running pods.
const WriterScript = `set -e
f=` + VolumeFile + `
[ -s "$f" ] || head -c 1048576 /dev/urandom > "$f"
echo "sha256 $(sha256sum "$f" | cut -d' ' -f1)"
exec sleep 86400`

func (c *Canary) writerPod() *unstructured.Unstructured {
	meta := c.meta(podName, c.Namespace)
	// Velero's file-system backup opts a pod's volumes in by this annotation
	// even when the Backup does not default to it.
	meta["annotations"].(map[string]any)["backup.velero.io/backup-volumes"] = "data"
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{
			"restartPolicy": "Never",
			// What OpenShift's restricted-v2 SCC and the restricted pod
			// security level ask for; the SCC picks the user and fsGroup.
			"securityContext": map[string]any{"seccompProfile": map[string]any{"type": "RuntimeDefault"}},
			"containers": []any{map[string]any{
				"name": "writer", "image": VolumeImage,
				"command":      []any{"sh", "-c", WriterScript},
				"volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data"}},
				"securityContext": map[string]any{
					"allowPrivilegeEscalation": false, "runAsNonRoot": true,
					"capabilities": map[string]any{"drop": []any{"ALL"}},
				},
			}},
			"volumes": []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": pvcName}}},
		},
	}}
}

// PodName is the writer pod's name, in the canary and in the restored namespace.
func PodName() string { return podName }

// ConfigMapName and SecretName name the canary's payload objects.
func ConfigMapName() string { return configMapName }
func SecretName() string    { return secretName }

// ParseChecksum finds the writer's "sha256 <hex>" line in its log.
func ParseChecksum(log string) (string, bool) {
	for _, l := range strings.Split(log, "\n") {
		if sum, ok := strings.CutPrefix(strings.TrimSpace(l), "sha256 "); ok && len(sum) == 2*sha256.Size {
			if _, err := hex.DecodeString(sum); err == nil {
				return sum, true
			}
		}
	}
	return "", false
}

// BackupOptions are what the Backup needs beyond the canary.
type BackupOptions struct {
	StorageLocation string
	// FSBackup backs the volume up through the node agent (Kopia);
	// otherwise a volume is snapshotted.
	FSBackup bool
}

// Backup is the canary's Backup. Its TTL is short: should every cleanup
// fail, Velero's own garbage collection removes it and its data.
func (c *Canary) BackupObject(o BackupOptions) *unstructured.Unstructured {
	bo := velero.BackupOptions{
		Name: c.BackupName, Namespace: c.OADPNamespace, IncludedNamespaces: []string{c.Namespace},
		TTL: time.Hour, StorageLocation: o.StorageLocation,
	}
	snapshots := c.StorageClass != "" && !o.FSBackup
	bo.SnapshotVolumes = &snapshots
	if c.StorageClass != "" {
		fs := o.FSBackup
		bo.DefaultVolumesToFsBackup = &fs
	}
	b, _ := velero.NewBackup(bo) // no selector: the only error cannot happen
	return c.mark(b)
}

// RestoreObject restores the canary into its second namespace.
func (c *Canary) RestoreObject() *unstructured.Unstructured {
	return c.mark(velero.NewRestore(velero.RestoreOptions{
		Name: c.RestoreName, Namespace: c.OADPNamespace, BackupName: c.BackupName,
		IncludedNamespaces: []string{c.Namespace},
		NamespaceMapping:   map[string]string{c.Namespace: c.Restored},
	}))
}

// DataProtectionTest is OADP 1.5's test of the location: an upload of
// uploadSize and, with a volume, a CSI snapshot of the canary PVC.
func (c *Canary) DataProtectionTest(location, snapshotClass string, timeout time.Duration) *unstructured.Unstructured {
	spec := map[string]any{
		"backupLocationName":    location,
		"uploadSpeedTestConfig": map[string]any{"fileSize": "10MB", "timeout": timeout.String()},
	}
	if c.StorageClass != "" {
		cfg := map[string]any{
			"timeout": timeout.String(),
			"volumeSnapshotSource": map[string]any{
				"persistentVolumeClaimName": pvcName, "persistentVolumeClaimNamespace": c.Namespace,
			},
		}
		if snapshotClass != "" {
			cfg["snapshotClassName"] = snapshotClass
		}
		spec["csiVolumeSnapshotTestConfigs"] = []any{cfg}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionTest",
		"metadata": c.meta(Prefix+c.ID, c.OADPNamespace), "spec": spec,
	}}
}

// Selector selects this run's objects.
func (c *Canary) Selector() string { return RunLabel + "=" + c.ID }

// AnySelector selects the objects of every run.
const AnySelector = RunLabel

// Leftover reports whether o belongs to a run that has ended: one past its
// UntilAnnotation, or one without it (made by hand, or mangled). A running
// verify's objects are never leftovers, so two runs do not undo each other.
func Leftover(o metav1.Object, now time.Time) bool {
	if _, ok := o.GetLabels()[RunLabel]; !ok {
		return false
	}
	until, err := time.Parse(time.RFC3339, o.GetAnnotations()[UntilAnnotation])
	return err != nil || !now.Before(until)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
