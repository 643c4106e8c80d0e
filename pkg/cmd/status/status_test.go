package status_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

type report struct {
	Cluster struct {
		Name, ID, Version, Platform, Region, OIDCIssuer, CredentialsMode string
		STS                                                              bool
	}
	AWS struct {
		AccountID, ARN, Partition, OIDCProviderARN string
		OIDCProviderExists                         bool
	}
	OADP struct {
		Installed bool
		Version   string
	}
	Checks []struct{ Area, Name, Result, Message, Cause, Fix string }
	Ready  bool
}

func statusJSON(t *testing.T, args ...string) (report, clitest.Result) {
	t.Helper()
	res := clitest.Run(t, append([]string{"status", "-o", "json"}, args...)...)
	var rep report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("status -o json printed no JSON report: %v\n%s", err, res.Stdout)
	}
	return rep, res
}

func check(t *testing.T, rep report, name string) (result, cause, fix string) {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Result, c.Cause, c.Fix
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return
}

func TestStatusReadyCluster(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)

	rep, res := statusJSON(t)
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0 on a ready cluster; stderr: %s", res.Code, res.Stderr)
	}
	c := rep.Cluster
	if c.Name != rig.InfraName || c.ID != rig.ClusterID || c.Version != rig.OpenShiftVer || c.Platform != "AWS" ||
		c.Region != rig.Region || c.OIDCIssuer != rig.Issuer || c.CredentialsMode != "Manual" || !c.STS {
		t.Errorf("cluster facts = %+v, want the rig's", c)
	}
	a := rep.AWS
	if a.AccountID != rig.AWSAccount || a.Partition != "aws" || a.OIDCProviderARN != rig.OIDCProviderARN() || !a.OIDCProviderExists {
		t.Errorf("aws facts = %+v, want account %s and provider %s present", a, rig.AWSAccount, rig.OIDCProviderARN())
	}
	if rep.OADP.Installed != true {
		t.Errorf("oadp.installed = false, but the rig has the OADP CRDs")
	}
	if !rep.Ready {
		t.Errorf("ready = false on a ready cluster: %+v", rep.Checks)
	}

	human := clitest.Run(t, "status", "--cluster-name", "prod")
	for _, want := range []string{"Cluster:", "prod", rig.ClusterID, rig.Issuer, "ok       oidc provider", "Ready: next, run 'kubectl oadp-sts setup'"} {
		if !strings.Contains(human.Stdout, want) {
			t.Errorf("human output lacks %q:\n%s", want, human.Stdout)
		}
	}
}

// Each broken fact fails its own check with its own fix, exit code 2.
func TestStatusNotReady(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	ctx := context.Background()

	cases := []struct {
		name      string
		breakIt   func(*rig.ClusterObjects)
		breakAWS  func()
		check     string
		wantCause string
		wantFix   string
	}{
		{name: "non-AWS platform", check: "platform", wantCause: "runs on GCP", wantFix: "OADP documentation",
			breakIt: func(c *rig.ClusterObjects) {
				c.Infrastructure.Object["status"].(map[string]any)["platformStatus"] = map[string]any{"type": "GCP", "gcp": map[string]any{"projectID": "p", "region": "us-central1"}}
				c.Infrastructure.Object["status"].(map[string]any)["platform"] = "GCP"
			}},
		{name: "empty issuer", check: "oidc issuer", wantCause: "no spec.serviceAccountIssuer", wantFix: "short-term credentials",
			breakIt: func(c *rig.ClusterObjects) {
				c.Authentication.Object["spec"].(map[string]any)["serviceAccountIssuer"] = ""
			}},
		{name: "credentials mode Mint", check: "credentials mode", wantCause: "credentials mode is Mint", wantFix: "access key",
			breakIt: func(c *rig.ClusterObjects) {
				c.CloudCredential.Object["spec"].(map[string]any)["credentialsMode"] = "Mint"
			}},
		{name: "missing OIDC provider", check: "oidc provider", wantCause: "No OpenIDConnect provider found", wantFix: "ccoctl aws create-identity-provider",
			breakAWS: func() {
				if _, err := r.IAM().DeleteOpenIDConnectProvider(ctx, deleteProvider()); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.Fresh(t)
			if tc.breakIt != nil {
				objs := rig.STSCluster()
				tc.breakIt(&objs)
				if err := r.ApplyCluster(ctx, objs); err != nil {
					t.Fatal(err)
				}
			}
			if tc.breakAWS != nil {
				tc.breakAWS()
			}
			rep, res := statusJSON(t)
			if res.Code != exitcode.NotReady {
				t.Errorf("exit %d, want %d", res.Code, exitcode.NotReady)
			}
			if rep.Ready {
				t.Errorf("ready = true")
			}
			result, cause, fix := check(t, rep, tc.check)
			if result != "failed" || !strings.Contains(cause, tc.wantCause) || !strings.Contains(fix, tc.wantFix) {
				t.Errorf("check %q = %s / %q / %q, want failed with cause %q and fix %q", tc.check, result, cause, fix, tc.wantCause, tc.wantFix)
			}
			for _, c := range rep.Checks {
				if c.Result == "failed" && c.Name != tc.check {
					t.Errorf("check %q failed too (%s); only %q is broken", c.Name, c.Cause, tc.check)
				}
			}
			human := clitest.Run(t, "status")
			if !strings.Contains(human.Stdout, "failed   "+tc.check) || !strings.Contains(human.Stdout, "fix:   ") {
				t.Errorf("human output does not show the failed check with its fix:\n%s", human.Stdout)
			}
		})
	}
}

func TestStatusMissingAWSCredentials(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")

	rep, res := statusJSON(t)
	if res.Code != exitcode.NotReady {
		t.Errorf("exit %d, want %d", res.Code, exitcode.NotReady)
	}
	result, cause, fix := check(t, rep, "aws identity")
	if result != "failed" || !strings.Contains(cause, "no AWS credentials found") || !strings.Contains(fix, "--aws-profile") {
		t.Errorf("aws identity check = %s / %q / %q", result, cause, fix)
	}
	if rep.Cluster.ID != rig.ClusterID {
		t.Errorf("cluster facts should still print without AWS: %+v", rep.Cluster)
	}
	if r, _, _ := check(t, rep, "oidc provider"); r != "skipped" {
		t.Errorf("oidc provider check = %s, want skipped without AWS", r)
	}
}

func TestStatusUnreachableCluster(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	b, err := os.ReadFile(r.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// Port 1 on loopback: nothing listens there.
	if err := os.WriteFile(kc, []byte(strings.ReplaceAll(string(b), r.APIServerURL, "https://127.0.0.1:1")), 0o600); err != nil {
		t.Fatal(err)
	}

	res := clitest.Run(t, "status", "--kubeconfig", kc)
	if res.Code != exitcode.Error {
		t.Errorf("exit %d, want %d", res.Code, exitcode.Error)
	}
	if !strings.Contains(res.Stderr, "cluster unreachable") || !strings.Contains(res.Stderr, "check --kubeconfig") {
		t.Errorf("stderr = %q, want an unreachable-cluster message with the fix", res.Stderr)
	}
	if strings.Contains(res.Stderr, "goroutine") || res.Stdout != "" {
		t.Errorf("unexpected output: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
}

func TestStatusForbidden(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	res := clitest.Run(t, "status", "--as", "nobody")
	if res.Code != exitcode.Error {
		t.Errorf("exit %d, want %d", res.Code, exitcode.Error)
	}
	if !strings.Contains(res.Stderr, "not allowed to read or change") || !strings.Contains(res.Stderr, "ask a cluster-admin") {
		t.Errorf("stderr = %q, want a forbidden message with the fix", res.Stderr)
	}
}

func TestStatusBadOutputFormat(t *testing.T) {
	res := clitest.Run(t, "status", "-o", "xml")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, `unknown output format "xml": use -o json or -o yaml`) {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}

// A plain Kubernetes cluster: no config.openshift.io API at all.
func TestStatusNotOpenShift(t *testing.T) {
	shared := rig.Get(t)
	shared.UseEnv(t)
	bare, err := rig.Start(context.Background(), rig.Options{Bare: true, NoMoto: true})
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	defer bare.Stop()

	res := clitest.Run(t, "status", "--kubeconfig", bare.Kubeconfig)
	if res.Code != exitcode.Error {
		t.Errorf("exit %d, want %d", res.Code, exitcode.Error)
	}
	if !strings.Contains(res.Stderr, "does not serve the config.openshift.io API, so it is not OpenShift") {
		t.Errorf("stderr = %q", res.Stderr)
	}
	if strings.Contains(res.Stderr, "could not find the requested resource") {
		t.Errorf("raw API error leaked: %q", res.Stderr)
	}
}
