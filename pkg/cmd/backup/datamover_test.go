package backup_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// --snapshot-move-data is refused before anything is created while the DPA
// keeps the node agent off (the Data Mover's DataUploads run in it), and
// sets spec.snapshotMoveData once setup --data-mover has turned it on.
func TestBackupSnapshotMoveDataNeedsTheNodeAgent(t *testing.T) {
	r := setup(t)
	ctx := context.Background()
	dpa := func(dataMover bool) {
		t.Helper()
		o := manifests.Options{Namespace: oadpNS, ClusterName: rig.InfraName, Region: rig.Region, OADPVersion: "1.4", DataMover: dataMover}
		if err := r.Apply(ctx, manifests.DPA(o.WithDefaults())); err != nil {
			t.Fatal(err)
		}
	}
	dpa(false)
	t.Cleanup(func() {
		_ = r.Dynamic.Resource(gvr.DPA).Namespace(oadpNS).Delete(context.Background(), rig.InfraName+"-dpa", metav1.DeleteOptions{})
	})
	res := clitest.Run(t, "backup", "hello-world", "--name", "moved", "--snapshot-move-data", "--wait=false")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "--snapshot-move-data needs OADP's node agent, and dataprotectionapplication/"+rig.InfraName+"-dpa keeps it off: run 'kubectl oadp-sts setup --data-mover' first") {
		t.Errorf("exit %d; want a refusal naming the flag and the fix:\n%s", res.Code, res.Stderr)
	}
	if n := count(t, r, gvr.Backup); n != 0 {
		t.Errorf("%d backups created despite the refusal", n)
	}

	dpa(true)
	if res := clitest.Run(t, "backup", "hello-world", "--name", "moved", "--snapshot-move-data", "--wait=false"); res.Code != 0 {
		t.Fatalf("exit %d with the node agent on: %s", res.Code, res.Stderr)
	}
	b, err := r.Dynamic.Resource(gvr.Backup).Namespace(oadpNS).Get(ctx, "moved", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, found, _ := unstructured.NestedBool(b.Object, "spec", "snapshotMoveData"); !found || !v {
		t.Errorf("spec = %v, want snapshotMoveData true", b.Object["spec"])
	}
}
