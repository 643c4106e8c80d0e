package install

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

var (
	storageClasses = schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}
	pvcs           = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

// ebsInTree is the in-tree EBS provisioner; CSI snapshots do not cover its volumes.
const ebsInTree = "kubernetes.io/aws-ebs"

// StorageWarnings is the chapter's storage check: it lists the storage
// classes and the classes that PVCs use, and warns when the snapshot mode does
// not cover them. Warnings never stop setup.
func (i *Installer) StorageWarnings(ctx context.Context, mode string) []string {
	var (
		wg            sync.WaitGroup
		classes       = map[string]string{} // name -> provisioner
		used          = map[string]int{}    // class -> PVC count
		scErr, pvcErr error
	)
	wg.Go(func() {
		l, err := i.Client.Resource(storageClasses).List(ctx, metav1.ListOptions{})
		if err != nil {
			scErr = err
			return
		}
		for _, sc := range l.Items {
			classes[sc.GetName()] = kube.Str(sc.Object, "provisioner")
		}
	})
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
		return []string{fmt.Sprintf("could not list storage classes to check the snapshot mode (%v)", kube.Explain(scErr, storageClasses, ""))}
	}
	var warnings []string
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
			warnings = append(warnings, "no storage class has a CSI provisioner, so CSI snapshots will not cover any volume: use --snapshots=native")
		}
		var inTree []string
		for class, n := range used {
			if p, ok := classes[class]; ok && !isCSI(p) {
				inTree = append(inTree, fmt.Sprintf("%s (%d PVCs, %s)", class, n, p))
			}
		}
		if len(inTree) > 0 {
			sort.Strings(inTree)
			warnings = append(warnings, "PVCs use non-CSI storage classes that CSI snapshots do not cover: "+strings.Join(inTree, ", ")+"; use --snapshots=native")
		}
	case manifests.SnapshotsNative:
		var other []string
		for class, n := range used {
			if p, ok := classes[class]; ok && p != ebsInTree && p != "ebs.csi.aws.com" {
				other = append(other, fmt.Sprintf("%s (%d PVCs, %s)", class, n, p))
			}
		}
		if len(other) > 0 {
			sort.Strings(other)
			warnings = append(warnings, "PVCs use storage classes that are not EBS, which native AWS snapshots do not cover: "+strings.Join(other, ", "))
		}
	}
	return warnings
}

func isCSI(provisioner string) bool {
	return provisioner != "" && !strings.HasPrefix(provisioner, "kubernetes.io/")
}
