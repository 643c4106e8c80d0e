package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// How Velero chooses a VolumeSnapshotClass for a CSI driver.
const (
	snapshotClassLabel   = "velero.io/csi-volumesnapshot-class"
	defaultSnapshotClass = "snapshot.storage.kubernetes.io/is-default-class"
	defaultStorageClass  = "storageclass.kubernetes.io/is-default-class"
)

// The provisioners whose volumes native AWS snapshots cover.
const (
	ebsInTree = "kubernetes.io/aws-ebs"
	ebsCSI    = "ebs.csi.aws.com"
)

// StorageWarning is one way the snapshot mode does not fit the cluster's
// storage, or a part of it that could not be read: what and what to do.
type StorageWarning struct {
	Cause, Fix string
	// Unread means the storage could not be read, not that it does not fit.
	Unread bool
}

func (w StorageWarning) String() string { return w.Cause + ": " + w.Fix }

// SnapshotPlan is what the storage is checked against: the DPA's snapshot
// mode, and where file-system backup stands (the other way to cover a volume).
type SnapshotPlan struct {
	Mode string // manifests.SnapshotsCSI or manifests.SnapshotsNative
	// FSBackup is true when the node agent runs (setup --fs-backup).
	FSBackup bool
	// NoFSBackup is true on OADP 1.2, whose only uploader, Restic, STS does
	// not support.
	NoFSBackup bool
}

// PlanFor is the plan of a DPA: its mode and its node agent.
func PlanFor(dpa *unstructured.Unstructured) SnapshotPlan {
	_, restic, _ := unstructured.NestedMap(dpa.Object, "spec", "configuration", "restic")
	_, agent, _ := unstructured.NestedMap(dpa.Object, "spec", "configuration", "nodeAgent")
	return SnapshotPlan{Mode: manifests.SnapshotMode(dpa), FSBackup: manifests.FSBackupEnabled(dpa), NoFSBackup: restic && !agent}
}

// fsBackup is the file-system backup way out, "" where there is none.
func (p SnapshotPlan) fsBackup() string {
	switch {
	case p.NoFSBackup:
		return ""
	case p.FSBackup:
		return "back them up file by file: 'kubectl oadp-sts backup NAMESPACE --default-volumes-to-fs-backup'"
	}
	return "rerun setup with --fs-backup to copy their files with Kopia"
}

// fixes joins the ways out that apply.
func fixes(ways ...string) string {
	var out []string
	for _, w := range ways {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, ", or ")
}

// when returns s if ok, else "".
func when(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// Storage is what the storage check reads, each part with its read error.
type Storage struct {
	Classes      map[string]string // storage class name -> provisioner
	DefaultClass string
	// Used counts the PVCs of each storage class (a bounded first page).
	Used                                   map[string]int
	SnapshotClasses                        []unstructured.Unstructured
	ClassesErr, PVCErr, SnapshotClassesErr error
}

// ReadStorage lists the storage classes, the PVCs and the
// VolumeSnapshotClasses at once.
func ReadStorage(ctx context.Context, client dynamic.Interface) *Storage {
	s := &Storage{Classes: map[string]string{}, Used: map[string]int{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		l, err := client.Resource(gvr.StorageClass).List(ctx, metav1.ListOptions{})
		if err != nil {
			s.ClassesErr = err
			return
		}
		for _, sc := range l.Items {
			s.Classes[sc.GetName()] = kube.Str(sc.Object, "provisioner")
			if sc.GetAnnotations()[defaultStorageClass] == "true" {
				s.DefaultClass = sc.GetName()
			}
		}
	})
	wg.Go(func() {
		l, err := client.Resource(gvr.VolumeSnapshotClass).List(ctx, metav1.ListOptions{})
		if err != nil {
			s.SnapshotClassesErr = err
			return
		}
		s.SnapshotClasses = l.Items
	})
	wg.Go(func() {
		// A bounded page: enough to see which classes applications use.
		l, err := client.Resource(gvr.PVC).List(ctx, metav1.ListOptions{Limit: 500})
		if err != nil {
			s.PVCErr = err
			return
		}
		for _, p := range l.Items {
			s.Used[kube.Str(p.Object, "spec", "storageClassName")]++
		}
	})
	wg.Wait()
	return s
}

// StorageWarnings reads the cluster's storage and checks it against plan.
func StorageWarnings(ctx context.Context, client dynamic.Interface, plan SnapshotPlan) []StorageWarning {
	return plan.Warnings(ReadStorage(ctx, client))
}

// Warnings is the chapter's storage check: where the storage classes, the
// classes PVCs use and (for CSI) the VolumeSnapshotClasses do not fit the
// plan, or could not be read. Warnings never stop setup.
func (plan SnapshotPlan) Warnings(s *Storage) []StorageWarning {
	if s.ClassesErr != nil {
		return []StorageWarning{{Unread: true, Cause: fmt.Sprintf("could not list storage classes to check the snapshot mode (%v)", kube.Explain(s.ClassesErr, gvr.StorageClass, "")),
			Fix: "ask a cluster-admin for list on storageclasses.storage.k8s.io"}}
	}
	var warnings []StorageWarning
	classes, used := s.Classes, s.Used
	if s.PVCErr != nil {
		used = nil
		warnings = append(warnings, StorageWarning{Unread: true,
			Cause: fmt.Sprintf("could not list PVCs, so only the default storage class was checked (%v)", kube.Explain(s.PVCErr, gvr.PVC, "")),
			Fix:   "ask a cluster-admin for list on persistentvolumeclaims in all namespaces"})
	}
	switch plan.Mode {
	case manifests.SnapshotsCSI:
		warnings = append(warnings, plan.csiWarnings(classes, used)...)
		warnings = append(warnings, plan.snapshotClassWarnings(csiDrivers(classes, used, s.DefaultClass), s.SnapshotClasses, s.SnapshotClassesErr)...)
	case manifests.SnapshotsNative:
		var other []string
		anyCSI := false
		for class, n := range used {
			if p, ok := classes[class]; ok && p != ebsInTree && p != ebsCSI {
				other = append(other, fmt.Sprintf("%s (%d PVCs, %s)", class, n, p))
				anyCSI = anyCSI || isCSI(p)
			}
		}
		if len(other) > 0 {
			sort.Strings(other)
			warnings = append(warnings, StorageWarning{Cause: "PVCs use storage classes that are not EBS, which native AWS snapshots do not cover: " + strings.Join(other, ", "),
				Fix: fixes(when(anyCSI, "rerun setup with --snapshots=csi (with a VolumeSnapshotClass for their CSI drivers)"), plan.fsBackup(), "accept that their volumes are not backed up")})
		}
	}
	return warnings
}

// csiWarnings are the volumes CSI snapshots cannot reach at all.
func (p SnapshotPlan) csiWarnings(classes map[string]string, used map[string]int) []StorageWarning {
	var warnings []StorageWarning
	csi, ebs := 0, 0
	for _, prov := range classes {
		if isCSI(prov) {
			csi++
		}
		if prov == ebsInTree {
			ebs++
		}
	}
	if csi == 0 {
		warnings = append(warnings, StorageWarning{Cause: "no storage class has a CSI provisioner, so CSI snapshots will not cover any volume",
			Fix: fixes(when(ebs > 0, "rerun setup with --snapshots=native"), p.fsBackup(), "install a CSI driver")})
	}
	var inTree []string
	allEBS := true
	for class, n := range used {
		if prov, ok := classes[class]; ok && !isCSI(prov) {
			inTree = append(inTree, fmt.Sprintf("%s (%d PVCs, %s)", class, n, prov))
			allEBS = allEBS && prov == ebsInTree
		}
	}
	if len(inTree) > 0 {
		sort.Strings(inTree)
		warnings = append(warnings, StorageWarning{Cause: "PVCs use non-CSI storage classes that CSI snapshots do not cover: " + strings.Join(inTree, ", "),
			Fix: fixes(when(allEBS, "rerun setup with --snapshots=native"), p.fsBackup(), "move them to a CSI storage class")})
	}
	return warnings
}

func isCSI(provisioner string) bool {
	return provisioner != "" && !strings.HasPrefix(provisioner, "kubernetes.io/")
}

// csiDrivers are the CSI provisioners whose volumes CSI snapshots will have
// to cover: those of the classes PVCs use, or of the default class when no
// PVC exists yet (or PVCs could not be listed).
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
// VolumeSnapshotClass for. Velero (pkg/util/csi, v1.18) takes the driver's
// class labelled velero.io/csi-volumesnapshot-class, else one carrying the
// default-class annotation (whatever its value), else the driver's only
// class; otherwise the CSI backup of those volumes fails.
func (p SnapshotPlan) snapshotClassWarnings(drivers []string, vscs []unstructured.Unstructured, listErr error) []StorageWarning {
	if len(drivers) == 0 {
		return nil
	}
	switch {
	case kube.IsTypeMissing(listErr):
		return []StorageWarning{{Cause: "the cluster serves no VolumeSnapshotClass API (snapshot.storage.k8s.io/v1), so CSI snapshots cannot work",
			Fix: fixes("install the CSI snapshot controller", when(onlyDriver(drivers, ebsCSI), "rerun setup with --snapshots=native"), p.fsBackup())}}
	case listErr != nil:
		return []StorageWarning{{Unread: true, Cause: fmt.Sprintf("could not list VolumeSnapshotClasses to check CSI snapshots (%v)", kube.Explain(listErr, gvr.VolumeSnapshotClass, "")),
			Fix: "ask a cluster-admin for list on volumesnapshotclasses.snapshot.storage.k8s.io"}}
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
			_, marked := v.GetAnnotations()[defaultSnapshotClass]
			chosen = chosen || labelled || marked
		}
		sort.Strings(names)
		switch {
		case len(names) == 0:
			warnings = append(warnings, StorageWarning{Cause: fmt.Sprintf("no VolumeSnapshotClass for CSI driver %s, so Velero cannot snapshot its volumes", d),
				Fix: fixes(fmt.Sprintf("create one for that driver labelled %s=true", snapshotClassLabel), when(d == ebsCSI, "rerun setup with --snapshots=native"), p.fsBackup())})
		case !chosen && len(names) > 1:
			warnings = append(warnings, StorageWarning{
				Cause: fmt.Sprintf("%d VolumeSnapshotClasses for CSI driver %s (%s) and none is labelled %s or marked default, so Velero cannot choose", len(names), d, strings.Join(names, ", "), snapshotClassLabel),
				Fix:   fmt.Sprintf("label the one Velero should use, e.g. 'oc label volumesnapshotclass %s %s=true'", names[0], snapshotClassLabel)})
		}
	}
	return warnings
}

func onlyDriver(drivers []string, only string) bool { return len(drivers) == 1 && drivers[0] == only }
