package backup_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// A plain backup goes to the location of the DPA setup recorded, even when
// another location is the default; when that location is not Available the
// backup is refused, naming it, rather than sent elsewhere.
func TestBackupUsesTheRecordedDPAsLocation(t *testing.T) {
	r := setup(t)
	const dpa = "mycluster-velero"
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cluster-name", "mycluster", "--dpa-name", dpa); res.Code != 0 {
		t.Fatalf("setup: exit %d: %s", res.Code, res.Stderr)
	}
	// The operator's location for the recorded DPA, and another default one
	// (setup's BSL rig-dpa-1 from the helper).
	putBSL(t, r, manifests.BSLName(dpa), false, "Available", rig.Region)

	res := clitest.Run(t, "backup", "hello-world", "--dry-run=client", "-o", "yaml")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var b struct {
		Spec struct {
			StorageLocation string `json:"storageLocation"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(res.Stdout), &b); err != nil {
		t.Fatal(err)
	}
	if b.Spec.StorageLocation != manifests.BSLName(dpa) {
		t.Errorf("storageLocation %q, want %q, the recorded DPA's, not the default %s", b.Spec.StorageLocation, manifests.BSLName(dpa), bslName)
	}

	// A flag still wins.
	res = clitest.Run(t, "backup", "hello-world", "--dry-run=client", "-o", "yaml", "--storage-location", bslName)
	if res.Code != 0 || !strings.Contains(res.Stdout, "storageLocation: "+bslName) {
		t.Errorf("--storage-location %s: exit %d, stdout %s", bslName, res.Code, res.Stdout)
	}

	putBSL(t, r, manifests.BSLName(dpa), false, "Unavailable", rig.Region)
	res = clitest.Run(t, "backup", "hello-world", "--wait=false")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, manifests.BSLName(dpa)) || !strings.Contains(res.Stderr, "dataprotectionapplication/"+dpa) {
		t.Errorf("recorded location Unavailable: exit %d, stderr %q; want %d naming it and its DPA", res.Code, res.Stderr, exitcode.Error)
	}
	if n := count(t, r, gvr.Backup); n != 0 {
		t.Errorf("%d backups created to an Unavailable location", n)
	}
}
