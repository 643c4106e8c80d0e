package status

import (
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// The readiness verdict on the cluster shapes of ../shared/oracle/clusters,
// as facts; test/clusters runs the fixtures themselves through the binary.
func TestClusterShapes(t *testing.T) {
	cases := []struct {
		name        string
		cluster     clusterfacts.Facts
		ready       bool
		check, want string // a check and words its message or cause must hold
		notWant     string // words no check may hold
	}{
		{name: "hosted control plane without CloudCredential is STS",
			cluster: clusterfacts.Facts{Platform: "AWS", Region: "us-east-2", OIDCIssuer: issuer, ControlPlaneTopology: "External", NoCloudCredential: true, STS: true},
			ready:   true, check: "credentials mode", want: "writes the cloud-credentials secret itself", notWant: "Mint"},
		{name: "no CloudCredential, not hosted",
			cluster: clusterfacts.Facts{Platform: "AWS", Region: "us-east-2", OIDCIssuer: issuer, ControlPlaneTopology: "HighlyAvailable", NoCloudCredential: true},
			ready:   false, check: "credentials mode", want: "no CloudCredential", notWant: "Mint"},
		{name: "default credentials mode is not called Mint",
			cluster: clusterfacts.Facts{Platform: "AWS", Region: "us-west-2"},
			ready:   false, check: "credentials mode", want: `default ("")`, notWant: "(Mint)"},
		{name: "trailing slash is refused, not silent",
			cluster: clusterfacts.Facts{Platform: "AWS", Region: "us-east-2", OIDCIssuer: issuer + "/", CredentialsMode: "Manual", STS: true},
			ready:   false, check: "oidc issuer", want: "to " + issuer + " (without the slash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := inputs(nil)
			in.Cluster = &tc.cluster
			in.AWS.OIDCProviderARN = iam.OIDCProviderARN("aws", account, tc.cluster.OIDCIssuer)
			r := Build(in)
			if r.Ready != tc.ready {
				t.Errorf("ready %v, want %v: %+v", r.Ready, tc.ready, r.Failed())
			}
			c := find(t, r, tc.check)
			if !strings.Contains(c.Message+" "+c.Cause+" "+c.Fix, tc.want) {
				t.Errorf("%s: %q / %q / %q, want %q", tc.check, c.Message, c.Cause, c.Fix, tc.want)
			}
			for _, c := range r.Checks {
				if tc.notWant != "" && strings.Contains(c.Message+c.Cause, tc.notWant) {
					t.Errorf("%s says %q: %s %s", c.Name, tc.notWant, c.Message, c.Cause)
				}
			}
		})
	}
}

// On Azure the chain stops after the cluster: one skipped AWS line, no IAM.
func TestNonAWSPlatformIsOneLine(t *testing.T) {
	in := inputs(&Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1"})
	in.Cluster = &clusterfacts.Facts{Platform: "Azure", OIDCIssuer: "https://azclu.blob.core.windows.net/azclu", CredentialsMode: "Manual"}
	in.AWS = nil
	r := Build(in)
	var aws []Check
	for _, c := range r.Checks {
		if c.Area != AreaCluster {
			aws = append(aws, c)
		}
	}
	if len(aws) != 1 || aws[0].Result != Skipped || !strings.Contains(aws[0].Message, "Azure") || r.Ready {
		t.Errorf("checks beyond the cluster %+v, ready %v; want one skipped line naming Azure, not ready", aws, r.Ready)
	}
}

// The provider ARN status checks and the hint it prints name one string.
func TestTrailingSlashIssuerIsOneName(t *testing.T) {
	slash := "https://slash-oidc.s3.us-east-2.amazonaws.com/"
	in := inputs(nil)
	in.Cluster.OIDCIssuer = slash
	in.AWS = &awsfacts.Facts{Identity: awsfacts.Identity{AccountID: account, Partition: "aws"}, OIDCProviderARN: iam.OIDCProviderARN("aws", account, slash)}
	c := find(t, Build(in), "oidc provider")
	arn := strings.TrimSuffix(c.Message, " missing")
	url := c.Fix[strings.Index(c.Fix, "--url ")+len("--url "):]
	url = url[:strings.Index(url, " ")]
	if arn != iam.OIDCProviderARN("aws", account, url) || arn != iam.OIDCProviderARN("aws", account, slash) {
		t.Errorf("check names %s, the hint creates %s (ARN %s)", arn, url, iam.OIDCProviderARN("aws", account, url))
	}
}
