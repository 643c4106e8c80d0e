package schedule_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// A schedule whose backups need the node agent (the Data Mover, or
// file-system backup) is refused while the DPA keeps the agent off, as
// backup's are: otherwise every backup it makes would fail its volumes, night
// after night. Once setup --data-mover has turned it on, the schedule is made.
func TestCreateNeedsTheNodeAgent(t *testing.T) {
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
	for flag, fix := range map[string]string{"--snapshot-move-data": "--data-mover", "--default-volumes-to-fs-backup": "--fs-backup"} {
		res := mustRun(t, exitcode.Error, "schedule", "create", "moved-nightly", "--schedule", "@daily", "--include-namespaces", "hello-world", flag)
		want := flag + " needs OADP's node agent, and dataprotectionapplication/" + rig.InfraName + "-dpa keeps it off: run 'kubectl oadp-sts setup " + fix + "' first"
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("%s: stderr %q, want %q", flag, res.Stderr, want)
		}
	}
	// Turning it off explicitly needs no agent.
	mustRun(t, 0, "schedule", "create", "plain-nightly", "--schedule", "@daily", "--include-namespaces", "hello-world", "--snapshot-move-data=false", "--dry-run=server")
	if l, err := r.Dynamic.Resource(gvr.Schedule).Namespace(oadpNS).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("schedules after the refusals: %v %v", l, err)
	}

	dpa(true)
	mustRun(t, 0, "schedule", "create", "moved-nightly", "--schedule", "@daily", "--include-namespaces", "hello-world", "--snapshot-move-data")
	if got := get(t, r, gvr.Schedule, "moved-nightly"); got.Object["spec"].(map[string]any)["template"].(map[string]any)["snapshotMoveData"] != true {
		t.Errorf("spec %v, want snapshotMoveData true", got.Object["spec"])
	}
}
