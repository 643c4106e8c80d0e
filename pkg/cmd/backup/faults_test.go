package backup_test

import (
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// backup and restore make no AWS call of their own (Velero talks to S3, not
// the plugin), so AWS failing every call changes nothing for them: both end
// Completed and the proxy sees no request at all.
func TestBackupAndRestoreNeedNoAWS(t *testing.T) {
	r := setup(t)
	p, err := faults.Start(r.AWSEndpoint, faults.Options{Rate: 1, Throttle: 1, ServerError: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t.Setenv("AWS_ENDPOINT_URL", p.URL)

	play(t, r, gvr.Backup, "hello-world", ended("Completed", nil))
	res := clitest.Run(t, "backup", "hello-world", "--timeout", "1m")
	if res.Code != 0 || !strings.Contains(res.Stdout, `Backup "hello-world" Completed`) {
		t.Fatalf("backup: exit %d", res.Code)
	}
	play(t, r, gvr.Restore, "hello-world", ended("Completed", nil))
	res = clitest.Run(t, "restore", "hello-world", "--timeout", "1m")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Completed") {
		t.Fatalf("restore: exit %d", res.Code)
	}
	if n := p.Stats().Requests; n != 0 {
		t.Errorf("backup and restore made %d AWS requests, want none", n)
	}
}
