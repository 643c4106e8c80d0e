package install

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

var (
	storageClasses  = schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}
	pvcs            = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	snapshotClasses = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
)

// How Velero chooses a VolumeSnapshotClass for a CSI driver.
const (
	snapshotClassLabel   = "velero.io/csi-volumesnapshot-class"
	defaultSnapshotClass = "snapshot.storage.kubernetes.io/is-default-class"
	defaultStorageClass  = "storageclass.kubernetes.io/is-default-class"
)

// orFSBackup is the other way to back up volumes no snapshot covers.
const orFSBackup = ", or --fs-backup to copy their files with Kopia"

// ebsInTree is the in-tree EBS provisioner; CSI snapshots do not cover its volumes.
const ebsInTree = "kubernetes.io/aws-ebs"

// StorageWarning is one way the snapshot mode does not fit the cluster's
// storage: what is wrong and what to do.
type StorageWarning struct {
	Cause, Fix string
}

func (w StorageWarning) String() string { return w.Cause + ": " + w.Fix }

// StorageWarnings is the chapter's storage check: it lists the storage
// classes and the classes that PVCs use, and warns when the snapshot mode does
// not cover them. Warnings never stop setup.
func (i *Installer) StorageWarnings(ctx context.Context, mode string) []StorageWarning {
	var (
		wg                   sync.WaitGroup
		classes              = map[string]string{} // name -> provisioner
		defaultClass         string
		used                 = map[string]int{} // class -> PVC count
		vscs                 []unstructured.Unstructured
		scErr, pvcErr, vsErr error
	)
	wg.Go(func() {
		l, err := i.Client.Resource(storageClasses).List(ctx, metav1.ListOptions{})
		if err != nil {
			scErr = err
			return
		}
		for _, sc := range l.Items {
			classes[sc.GetName()] = kube.Str(sc.Object, "provisioner")
			if sc.GetAnnotations()[defaultStorageClass] == "true" {
				defaultClass = sc.GetName()
			}
		}
	})
	if mode == manifests.SnapshotsCSI {
		wg.Go(func() {
			l, err := i.Client.Resource(snapshotClasses).List(ctx, metav1.ListOptions{})
			if err != nil {
				vsErr = err
				return
			}
			vscs = l.Items
		})
	}
	wg.Go(func() {
		// A bounded page: enough to see which classes applications use.
		l, err := i.Client.Resource(pvcs).List(ctx, metav1.ListOptions{Limit: 500})
		if err != nil {
			pvcErr = err
			return
		}
		for _, p := range l.Items {
			used[kube.Str(p.Object, "spec", "storageClassName")]++
		}
	})
	wg.Wait()
	if scErr != nil {
		return []StorageWarning{{Cause: fmt.Sprintf("could not list storage classes to check the snapshot mode (%v)", kube.Explain(scErr, storageClasses, "")),
			Fix: "ask a cluster-admin for list on storageclasses.storage.k8s.io"}}
	}
	var warnings []StorageWarning
	if pvcErr != nil {
		used = nil
	}
	csi := 0
	for _, p := range classes {
		if isCSI(p) {
			csi++
		}
	}
	switch mode {
	case manifests.SnapshotsCSI:
		if csi == 0 {
			warnings = append(warnings, StorageWarning{"no storage class has a CSI provisioner, so CSI snapshots will not cover any volume", "use --snapshots=native" + orFSBackup})
		}
		var inTree []string
		for class, n := range used {
			if p, ok := classes[class]; ok && !isCSI(p) {
				inTree = append(inTree, fmt.Sprintf("%s (%d PVCs, %s)", class, n, p))
			}
		}
		if len(inTree) > 0 {
			sort.Strings(inTree)
			warnings = append(warnings, StorageWarning{"PVCs use non-CSI storage classes that CSI snapshots do not cover: " + strings.Join(inTree, ", "), "use --snapshots=native" + orFSBackup})
		}
		warnings = append(warnings, snapshotClassWarnings(csiDrivers(classes, used, defaultClass), vscs, vsErr)...)
	case manifests.SnapshotsNative:
		var other []string
		for class, n := range used {
			if p, ok := classes[class]; ok && p != ebsInTree && p != "ebs.csi.aws.com" {
				other = append(other, fmt.Sprintf("%s (%d PVCs, %s)", class, n, p))
			}
		}
		if len(other) > 0 {
			sort.Strings(other)
			warnings = append(warnings, StorageWarning{"PVCs use storage classes that are not EBS, which native AWS snapshots do not cover: " + strings.Join(other, ", "),
				"use --snapshots=csi (with a VolumeSnapshotClass for their CSI drivers)" + orFSBackup})
		}
	}
	return warnings
}

func isCSI(provisioner string) bool {
	return provisioner != "" && !strings.HasPrefix(provisioner, "kubernetes.io/")
}

// csiDrivers are the CSI provisioners whose volumes CSI snapshots will have
// to cover: those of the classes PVCs use, or of the default class when no
// PVC exists yet.
func csiDrivers(classes map[string]string, used map[string]int, defaultClass string) []string {
	set := map[string]bool{}
	for class := range used {
		if p := classes[class]; isCSI(p) {
			set[p] = true
		}
	}
	if len(used) == 0 && isCSI(classes[defaultClass]) {
		set[classes[defaultClass]] = true
	}
	drivers := make([]string, 0, len(set))
	for d := range set {
		drivers = append(drivers, d)
	}
	sort.Strings(drivers)
	return drivers
}

// snapshotClassWarnings says which drivers Velero will find no
// VolumeSnapshotClass for. Velero takes the class of the driver labelled
// velero.io/csi-volumesnapshot-class, else the one marked default, else the
// driver's only class (velero pkg/util/csi); otherwise the CSI backup of
// those volumes fails.
func snapshotClassWarnings(drivers []string, vscs []unstructured.Unstructured, listErr error) []StorageWarning {
	if len(drivers) == 0 {
		return nil
	}
	switch {
	case kube.IsTypeMissing(listErr):
		return []StorageWarning{{"the cluster serves no VolumeSnapshotClass API (snapshot.storage.k8s.io/v1), so CSI snapshots cannot work",
			"install the CSI snapshot controller, or use --snapshots=native"}}
	case listErr != nil:
		return []StorageWarning{{fmt.Sprintf("could not list VolumeSnapshotClasses to check CSI snapshots (%v)", kube.Explain(listErr, snapshotClasses, "")),
			"ask a cluster-admin for list on volumesnapshotclasses.snapshot.storage.k8s.io"}}
	}
	var warnings []StorageWarning
	for _, d := range drivers {
		var names []string
		chosen := false
		for _, v := range vscs {
			if kube.Str(v.Object, "driver") != d {
				continue
			}
			names = append(names, v.GetName())
			_, labelled := v.GetLabels()[snapshotClassLabel]
			chosen = chosen || labelled || v.GetAnnotations()[defaultSnapshotClass] == "true"
		}
		sort.Strings(names)
		switch {
		case len(names) == 0:
			warnings = append(warnings, StorageWarning{fmt.Sprintf("no VolumeSnapshotClass for CSI driver %s, so Velero cannot snapshot its volumes", d),
				fmt.Sprintf("create one for that driver labelled %s=true, or use --snapshots=native", snapshotClassLabel)})
		case !chosen && len(names) > 1:
			warnings = append(warnings, StorageWarning{
				fmt.Sprintf("%d VolumeSnapshotClasses for CSI driver %s (%s) and none is labelled %s or marked default, so Velero cannot choose", len(names), d, strings.Join(names, ", "), snapshotClassLabel),
				fmt.Sprintf("'oc label volumesnapshotclass %s %s=true'", names[0], snapshotClassLabel)})
		}
	}
	return warnings
}
