package install

import (
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	missing := apierrors.NewNotFound(schema.GroupResource{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshotclasses"}, "")
	if w := snapshotClassWarnings([]string{"ebs.csi.aws.com"}, nil, missing); len(w) != 1 || !strings.Contains(w[0].Cause, "serves no VolumeSnapshotClass API") || !strings.Contains(w[0].Fix, "--snapshots=native") {
		t.Errorf("missing API: %q", w)
	}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "snapshot.storage.k8s.io", Resource: "volumesnapshotclasses"}, "", nil)
	if w := snapshotClassWarnings([]string{"ebs.csi.aws.com"}, nil, forbidden); len(w) != 1 || !strings.HasPrefix(w[0].Cause, "could not list VolumeSnapshotClasses") {
		t.Errorf("forbidden: %q", w)
	}
	if w := snapshotClassWarnings(nil, nil, missing); w != nil {
		t.Errorf("no CSI driver in use needs no class: %q", w)
	}
	one := []unstructured.Unstructured{{Object: map[string]any{"metadata": map[string]any{"name": "only"}, "driver": "ebs.csi.aws.com"}}}
	if w := snapshotClassWarnings([]string{"ebs.csi.aws.com"}, one, nil); w != nil {
		t.Errorf("Velero takes a driver's only class: %q", w)
	}
}
