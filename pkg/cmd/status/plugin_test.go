package status_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// kubectl finds the plugin on PATH by its file name and runs it: the way a
// user calls `kubectl oadp-sts`.
func TestKubectlPluginLookup(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		rig.SkipOrFail(t, &rig.MissingError{What: "kubectl", Fix: "install kubectl 1.26+ on PATH"})
	}
	bin := filepath.Dir(clitest.Binary(t))
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(kubectl, args...)
		cmd.Env = append(os.Environ(), r.EnvList()...)
		cmd.Env = append(cmd.Env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}

	help, _, err := run("oadp-sts", "--help")
	if err != nil || !strings.Contains(help, "kubectl oadp-sts [command]") || !strings.Contains(help, "setup") {
		t.Errorf("kubectl oadp-sts --help: %v\n%s", err, help)
	}
	out, stderr, err := run("oadp-sts", "status", "-o", "json")
	if err != nil {
		t.Fatalf("kubectl oadp-sts status -o json: %v\n%s", err, stderr)
	}
	var rep struct {
		Cluster struct{ ID, OIDCIssuer string }
		AWS     struct{ AccountID string }
		Ready   bool
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Cluster.ID != rig.ClusterID || rep.Cluster.OIDCIssuer != rig.Issuer || rep.AWS.AccountID != rig.AWSAccount || !rep.Ready {
		t.Errorf("report through kubectl = %+v, want the rig's facts", rep)
	}
}
