package status

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
)

// results is "name=result ..." of checks, for compact expectations.
func results(checks []Check) string {
	var out []string
	for _, c := range checks {
		out = append(out, fmt.Sprintf("%s=%s", c.Name, c.Result))
	}
	return strings.Join(out, " ")
}

func TestClusterChecks(t *testing.T) {
	sts := clusterfacts.Facts{Platform: "AWS", Region: "us-east-2", OIDCIssuer: "https://oidc.example.com/c", CredentialsMode: "Manual", STS: true}
	with := func(change func(*clusterfacts.Facts)) *clusterfacts.Facts {
		f := sts
		change(&f)
		return &f
	}
	for _, tc := range []struct {
		name string
		f    *clusterfacts.Facts
		want string
	}{
		{"sts cluster", &sts, "platform=ok oidc issuer=ok credentials mode=ok"},
		{"no region", with(func(f *clusterfacts.Facts) { f.Region = "" }), "platform=ok region=failed oidc issuer=ok credentials mode=ok"},
		{"other platform", with(func(f *clusterfacts.Facts) { f.Platform = "GCP" }), "platform=failed oidc issuer=ok credentials mode=ok"},
		{"issuer with a slash", with(func(f *clusterfacts.Facts) { f.OIDCIssuer += "/" }), "platform=ok oidc issuer=failed credentials mode=ok"},
		{"no issuer", with(func(f *clusterfacts.Facts) { f.OIDCIssuer = "" }), "platform=ok oidc issuer=failed credentials mode=ok"},
		{"hosted control plane", with(func(f *clusterfacts.Facts) { f.CredentialsMode, f.NoCloudCredential = "", true }), "platform=ok oidc issuer=ok credentials mode=ok"},
		{"no CloudCredential, not STS", with(func(f *clusterfacts.Facts) { f.CredentialsMode, f.NoCloudCredential, f.STS = "", true, false }), "platform=ok oidc issuer=ok credentials mode=failed"},
		{"default mode", with(func(f *clusterfacts.Facts) { f.CredentialsMode = "" }), "platform=ok oidc issuer=ok credentials mode=failed"},
		{"mint mode", with(func(f *clusterfacts.Facts) { f.CredentialsMode = "Mint" }), "platform=ok oidc issuer=ok credentials mode=failed"},
	} {
		got := clusterChecks(tc.f)
		if results(got) != tc.want {
			t.Errorf("%s: clusterChecks = %s, want %s", tc.name, results(got), tc.want)
		}
		for _, c := range got {
			if c.Result == Failed && (c.Cause == "" || c.Fix == "") {
				t.Errorf("%s: %s failed without a cause and a fix: %+v", tc.name, c.Name, c)
			}
		}
	}
}

func TestAWSChecks(t *testing.T) {
	cluster := &clusterfacts.Facts{Platform: "AWS", OIDCIssuer: "https://oidc.example.com/c"}
	provider := &awsfacts.Facts{Identity: awsfacts.Identity{AccountID: "123456789012", ARN: "arn:aws:iam::123456789012:user/me"},
		OIDCProviderARN: "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/c", OIDCProviderExists: true, OIDCClientIDs: []string{"openshift"}}
	noAudience := *provider
	noAudience.OIDCClientIDs = []string{"sts.amazonaws.com"}
	missing := *provider
	missing.OIDCProviderExists = false
	for _, tc := range []struct {
		name string
		in   Inputs
		want string
	}{
		{"all there", Inputs{Cluster: cluster, AWS: provider}, "aws identity=ok oidc provider=ok"},
		{"no credentials", Inputs{Cluster: cluster, AWSErr: errors.New("no credentials")}, "aws identity=failed oidc provider=skipped"},
		{"no issuer to look up", Inputs{Cluster: &clusterfacts.Facts{Platform: "AWS"}, AWS: provider}, "aws identity=ok oidc provider=skipped"},
		{"no provider", Inputs{Cluster: cluster, AWS: &missing}, "aws identity=ok oidc provider=failed"},
		{"no openshift audience", Inputs{Cluster: cluster, AWS: &noAudience}, "aws identity=ok oidc provider=failed"},
	} {
		if got := results(awsChecks(tc.in)); got != tc.want {
			t.Errorf("%s: awsChecks = %s, want %s", tc.name, got, tc.want)
		}
	}
}
