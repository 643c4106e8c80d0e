package checks

import (
	"errors"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func TestCSIDrivers(t *testing.T) {
	classes := map[string]string{"gp3-csi": "ebs.csi.aws.com", "efs": "efs.csi.aws.com", "gp2": "kubernetes.io/aws-ebs"}
	for _, c := range []struct {
		name string
		used map[string]int
		def  string
		want []string
	}{
		{"no PVCs: the default class's driver", nil, "gp3-csi", []string{"ebs.csi.aws.com"}},
		{"no PVCs, in-tree default", nil, "gp2", []string{}},
		{"no PVCs, no default", nil, "", []string{}},
		{"the drivers PVCs use, not the default's", map[string]int{"efs": 2, "gp2": 1}, "gp3-csi", []string{"efs.csi.aws.com"}},
		{"a PVC of an unknown class", map[string]int{"gone": 1}, "gp3-csi", []string{}},
	} {
		if got := csiDrivers(classes, c.used, c.def); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// The list error branches; the real API server's answers are in
// pkg/cmd/setup's TestSetupSnapshotClassCheck.
func TestSnapshotClassWarningsListErrors(t *testing.T) {
	missing := apierrors.NewNotFound(gvr.VolumeSnapshotClass.GroupResource(), "")
	if w := (SnapshotPlan{Mode: manifests.SnapshotsCSI}).snapshotClassWarnings([]string{"ebs.csi.aws.com"}, nil, missing); len(w) != 1 || !strings.Contains(w[0].Cause, "serves no VolumeSnapshotClass API") || !strings.Contains(w[0].Fix, "--snapshots=native") {
		t.Errorf("missing API: %q", w)
	}
	forbidden := apierrors.NewForbidden(gvr.VolumeSnapshotClass.GroupResource(), "", nil)
	if w := (SnapshotPlan{Mode: manifests.SnapshotsCSI}).snapshotClassWarnings([]string{"ebs.csi.aws.com"}, nil, forbidden); len(w) != 1 || !strings.HasPrefix(w[0].Cause, "could not list VolumeSnapshotClasses") {
		t.Errorf("forbidden: %q", w)
	}
	if w := (SnapshotPlan{Mode: manifests.SnapshotsCSI}).snapshotClassWarnings(nil, nil, missing); w != nil {
		t.Errorf("no CSI driver in use needs no class: %q", w)
	}
	one := []unstructured.Unstructured{{Object: map[string]any{"metadata": map[string]any{"name": "only"}, "driver": "ebs.csi.aws.com"}}}
	if w := (SnapshotPlan{Mode: manifests.SnapshotsCSI}).snapshotClassWarnings([]string{"ebs.csi.aws.com"}, one, nil); w != nil {
		t.Errorf("Velero takes a driver's only class: %q", w)
	}
}

// The way out a warning offers depends on where file-system backup stands
// and on the driver: native snapshots cover EBS only.
func TestSnapshotClassFixes(t *testing.T) {
	none := []unstructured.Unstructured{}
	for _, c := range []struct {
		name        string
		plan        SnapshotPlan
		driver      string
		want, avoid []string
	}{
		{"EBS, agent off", SnapshotPlan{Mode: manifests.SnapshotsCSI}, "ebs.csi.aws.com",
			[]string{"labelled velero.io/csi-volumesnapshot-class=true", "rerun setup with --snapshots=native", "rerun setup with --fs-backup"}, nil},
		{"EFS: native snapshots do not help", SnapshotPlan{Mode: manifests.SnapshotsCSI}, "efs.csi.aws.com",
			[]string{"rerun setup with --fs-backup"}, []string{"--snapshots=native"}},
		{"agent already on", SnapshotPlan{Mode: manifests.SnapshotsCSI, FSBackup: true}, "ebs.csi.aws.com",
			[]string{"--default-volumes-to-fs-backup"}, []string{"rerun setup with --fs-backup"}},
		{"OADP 1.2: no Kopia", SnapshotPlan{Mode: manifests.SnapshotsCSI, NoFSBackup: true}, "ebs.csi.aws.com",
			nil, []string{"fs-backup"}},
	} {
		w := c.plan.snapshotClassWarnings([]string{c.driver}, none, nil)
		if len(w) != 1 {
			t.Fatalf("%s: %d warnings", c.name, len(w))
		}
		for _, s := range c.want {
			if !strings.Contains(w[0].Fix, s) {
				t.Errorf("%s: fix %q lacks %q", c.name, w[0].Fix, s)
			}
		}
		for _, s := range c.avoid {
			if strings.Contains(w[0].Fix, s) {
				t.Errorf("%s: fix %q offers %q", c.name, w[0].Fix, s)
			}
		}
	}
	// Velero takes a class carrying the default annotation whatever its value.
	two := []unstructured.Unstructured{
		{Object: map[string]any{"metadata": map[string]any{"name": "a"}, "driver": "ebs.csi.aws.com"}},
		{Object: map[string]any{"metadata": map[string]any{"name": "b", "annotations": map[string]any{defaultSnapshotClass: "false"}}, "driver": "ebs.csi.aws.com"}},
	}
	if w := (SnapshotPlan{Mode: manifests.SnapshotsCSI}).snapshotClassWarnings([]string{"ebs.csi.aws.com"}, two, nil); w != nil {
		t.Errorf("Velero would choose b: %v", w)
	}
}

func TestPlanFor(t *testing.T) {
	o := manifests.Options{Namespace: "ns", ClusterName: "c", Region: "us-east-2", OADPVersion: "1.4", Snapshots: manifests.SnapshotsNative, FSBackup: true}
	if p := PlanFor(manifests.DPA(o.WithDefaults())); p != (SnapshotPlan{Mode: manifests.SnapshotsNative, FSBackup: true}) {
		t.Errorf("1.4 native with the agent: %+v", p)
	}
	o.OADPVersion, o.FSBackup, o.Snapshots = "1.2", false, manifests.SnapshotsCSI
	if p := PlanFor(manifests.DPA(o.WithDefaults())); p != (SnapshotPlan{Mode: manifests.SnapshotsCSI, NoFSBackup: true}) {
		t.Errorf("1.2: %+v", p)
	}
}

// The check itself is pure: storage in, warnings out.
func TestWarnings(t *testing.T) {
	csi := SnapshotPlan{Mode: manifests.SnapshotsCSI}
	native := SnapshotPlan{Mode: manifests.SnapshotsNative}
	vsc := []unstructured.Unstructured{{Object: map[string]any{"metadata": map[string]any{"name": "csi-aws-vsc"}, "driver": "ebs.csi.aws.com"}}}
	for _, c := range []struct {
		name    string
		plan    SnapshotPlan
		storage Storage
		want    []string // a substring of each warning, in order
	}{
		{"OpenShift's defaults fit CSI", csi,
			Storage{Classes: map[string]string{"gp3-csi": "ebs.csi.aws.com"}, DefaultClass: "gp3-csi", SnapshotClasses: vsc}, nil},
		{"in-tree EBS only, CSI mode", csi,
			Storage{Classes: map[string]string{"gp2": "kubernetes.io/aws-ebs"}, Used: map[string]int{"gp2": 1}},
			[]string{"no storage class has a CSI provisioner", "gp2 (1 PVCs, kubernetes.io/aws-ebs): rerun setup with --snapshots=native"}},
		{"EFS volumes, native mode", native,
			Storage{Classes: map[string]string{"efs": "efs.csi.aws.com"}, Used: map[string]int{"efs": 2}},
			[]string{"efs (2 PVCs, efs.csi.aws.com): rerun setup with --snapshots=csi"}},
		{"PVCs unreadable: the default class is checked", csi,
			Storage{Classes: map[string]string{"gp3-csi": "ebs.csi.aws.com"}, DefaultClass: "gp3-csi", PVCErr: errors.New("forbidden")},
			[]string{"could not list PVCs", "no VolumeSnapshotClass for CSI driver ebs.csi.aws.com"}},
	} {
		got := c.plan.Warnings(&c.storage)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d warnings, want %d: %v", c.name, len(got), len(c.want), got)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i].String(), w) {
				t.Errorf("%s: warning %d = %q, want %q in it", c.name, i, got[i], w)
			}
		}
	}
}
