// Package status turns discovered facts into a report: the facts themselves and
// a list of checks, each ok, warning, failed or skipped, with a cause and a fix
// when it is not ok. Building the report is pure: pkg/status/gather does the
// reads and the command prints. It must not read the cluster or AWS, and it
// owns every check's wording, so a rule lives in one place.
package status

import (
	"fmt"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
)

// Result is a check's outcome.
type Result string

const (
	OK      Result = "ok"
	Warning Result = "warning"
	Failed  Result = "failed"
	Skipped Result = "skipped"
)

// Areas group the checks in the order the STS chain runs: the cluster and AWS
// first, the objects setup makes next, what Velero did last.
const (
	AreaCluster     = "cluster"
	AreaAWS         = "aws"
	AreaIAM         = "iam"
	AreaCredentials = "credentials"
	AreaOperator    = "operator"
	AreaStorage     = "storage"
	AreaRecent      = "recent"
	AreaAssumeRole  = "assume role"
)

// Check is one link of the STS chain.
type Check struct {
	Area    string `json:"area"`
	Name    string `json:"name"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
	Cause   string `json:"cause,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// Report is what `status` prints.
type Report struct {
	Cluster *clusterfacts.Facts `json:"cluster"`
	AWS     *awsfacts.Facts     `json:"aws,omitempty"`
	OADP    *clusterfacts.OADP  `json:"oadp,omitempty"`
	// Namespace is the OADP namespace the chain was checked in.
	Namespace string `json:"namespace,omitempty"`
	// SetUp is true when any object setup makes is in the namespace.
	SetUp  bool    `json:"setUp"`
	Checks []Check `json:"checks"`
	// Recent are the last backups and restores, newest first.
	Recent *Recent `json:"recent,omitempty"`
	// SharedIssuer are the other OADP roles IAM shows trusting this
	// cluster's OIDC issuer (the shared issuer check).
	SharedIssuer []SharedIssuer `json:"sharedIssuer,omitempty"`
	// Ready is true when no check failed: before setup, the cluster is an AWS
	// STS cluster the plugin can set up; after it, every link of the chain holds.
	Ready bool `json:"ready"`
}

// Failed returns the checks that failed.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Result == Failed {
			out = append(out, c)
		}
	}
	return out
}

// Inputs are the results of discovery; AWSErr is set when AWS could not be read.
type Inputs struct {
	Cluster *clusterfacts.Facts
	OADP    *clusterfacts.OADP
	AWS     *awsfacts.Facts
	AWSErr  error
	// Chain is what was read beyond readiness; nil checks readiness only.
	Chain *Chain
}

// Build evaluates the readiness checks of an AWS STS cluster, then the
// chain's when one was read.
func Build(in Inputs) *Report {
	r := &Report{Cluster: in.Cluster, AWS: in.AWS, OADP: in.OADP}
	r.Checks = inArea(AreaCluster, clusterChecks(in.Cluster))
	if in.Cluster.Platform != "AWS" {
		// Nothing in AWS can be this cluster's: no caller, provider or role
		// is looked up, and one line says so.
		r.Checks = append(r.Checks, Check{Area: AreaAWS, Name: "aws", Result: Skipped, Message: fmt.Sprintf("not looked up: the cluster runs on %s, not AWS, so no AWS identity, OIDC provider or role can be its", printer.OrNone(in.Cluster.Platform))})
		r.Ready = len(r.Failed()) == 0
		return r
	}
	r.Checks = append(r.Checks, inArea(AreaAWS, awsChecks(in))...)
	if in.Chain != nil {
		r.Namespace = in.Chain.Namespace
		r.SetUp = in.Chain.setUp()
		c := &chain{Chain: in.Chain, in: in, add: func(ch Check) { r.Checks = append(r.Checks, ch) }}
		c.build()
		r.Recent = c.recent
		r.SharedIssuer = c.shared
	}
	r.Ready = len(r.Failed()) == 0
	return r
}

// inArea puts checks into area.
func inArea(area string, checks []Check) []Check {
	for i := range checks {
		checks[i].Area = area
	}
	return checks
}

// clusterChecks are the cluster's own links: platform, region, issuer and
// credentials mode.
func clusterChecks(f *clusterfacts.Facts) []Check {
	var out []Check
	add := func(c Check) { out = append(out, c) }
	if f.Platform == "AWS" {
		add(Check{Name: "platform", Result: OK, Message: "AWS, region " + printer.OrNone(f.Region)})
	} else {
		add(Check{Name: "platform", Result: Failed, Message: "platform " + printer.OrNone(f.Platform),
			Cause: fmt.Sprintf("the cluster runs on %s, and this plugin sets up OADP for AWS STS only", printer.OrNone(f.Platform)),
			Fix:   "use the OADP documentation for this platform, or point --context at an AWS cluster"})
	}
	if f.Platform == "AWS" && f.Region == "" {
		add(Check{Name: "region", Result: Failed, Message: "no region",
			Cause: "Infrastructure cluster has no status.platformStatus.aws.region",
			Fix:   "the cluster's installation is incomplete; check 'oc get infrastructure cluster -o yaml'"})
	}

	issuerOK := f.OIDCIssuer != ""
	switch {
	case issuerOK && clusterfacts.IssuerTrailingSlash(f.OIDCIssuer):
		host := clusterfacts.IssuerHost(f.OIDCIssuer)
		add(Check{Name: "oidc issuer", Result: Failed, Message: f.OIDCIssuer + " ends in \"/\"",
			Cause: fmt.Sprintf("no Red Hat tool makes an issuer with a trailing slash; the API server puts it verbatim into every token's iss (%s), "+
				"and STS has been seen not to find an IAM OIDC provider created with the slash (aws/aws-sam-cli#7432), so the plugin cannot promise STS accepts these tokens; "+
				"it names the provider %s (no slash) in its checks, trust keys and hints", f.OIDCIssuer, host),
			Fix: "set spec.serviceAccountIssuer of Authentication cluster to https://" + host + " (without the slash; the cluster then reissues its tokens), and create the IAM provider with that URL"})
	case issuerOK:
		add(Check{Name: "oidc issuer", Result: OK, Message: f.OIDCIssuer})
	default:
		add(Check{Name: "oidc issuer", Result: Failed, Message: "not set",
			Cause: "Authentication cluster has no spec.serviceAccountIssuer, so pods get no web-identity tokens AWS can trust",
			Fix:   "install the cluster with short-term credentials (ccoctl, credentialsMode Manual) or use ROSA with STS"})
	}

	switch {
	case f.CredentialsMode == "Manual":
		add(Check{Name: "credentials mode", Result: OK, Message: "Manual"})
	case f.NoCloudCredential && f.STS:
		add(Check{Name: "credentials mode", Result: OK, Message: "no CloudCredential: hosted control plane with an issuer",
			Cause: "no Cloud Credential Operator runs in this cluster, so nothing serves CredentialsRequests: setup writes the cloud-credentials secret itself (--credentials=secret)"})
	case f.NoCloudCredential:
		add(Check{Name: "credentials mode", Result: Failed, Message: "no CloudCredential",
			Cause: "the cluster has no CloudCredential object, so its credentials mode is unknown, and it is not a hosted control plane with an issuer, the one shape that makes such a cluster STS",
			Fix:   "check 'oc get cloudcredential cluster -o yaml' and 'oc get infrastructure cluster -o yaml'; the plugin needs credentialsMode Manual with an OIDC issuer"})
	case f.CredentialsMode == "":
		add(Check{Name: "credentials mode", Result: Failed, Message: `default ("")`,
			Cause: `credentialsMode is the default (""): the Cloud Credential Operator mints or passes through long-lived IAM keys (which one it decides from the root secret), not STS`,
			Fix:   "on this cluster use OADP's standard AWS setup with an access key secret; the plugin needs credentialsMode Manual with an OIDC issuer"})
	default:
		add(Check{Name: "credentials mode", Result: Failed, Message: f.CredentialsMode,
			Cause: fmt.Sprintf("credentials mode is %s: the cluster uses long-lived IAM keys, not STS", f.CredentialsMode),
			Fix:   "on this cluster use OADP's standard AWS setup with an access key secret; the plugin needs credentialsMode Manual with an OIDC issuer"})
	}

	return out
}

// awsChecks are the caller and the OIDC provider for the cluster's issuer.
func awsChecks(in Inputs) []Check {
	var out []Check
	add := func(c Check) { out = append(out, c) }
	f := in.Cluster
	issuerOK := f.OIDCIssuer != ""
	switch {
	case in.AWSErr != nil:
		add(Check{Name: "aws identity", Result: Failed, Message: "unknown", Cause: in.AWSErr.Error(),
			Fix: "make AWS credentials for the cluster's account available (--aws-profile, AWS_PROFILE, 'aws sso login')"})
	case in.AWS != nil:
		add(Check{Name: "aws identity", Result: OK, Message: in.AWS.ARN})
	}

	switch {
	case in.AWS == nil || !issuerOK:
		add(Check{Name: "oidc provider", Result: Skipped, Message: "needs the AWS identity and the cluster's issuer"})
	case !in.AWS.OIDCProviderExists:
		add(Check{Name: "oidc provider", Result: Failed, Message: in.AWS.OIDCProviderARN + " missing",
			Cause: "IAM has no OIDC provider for the cluster's issuer in account " + in.AWS.AccountID + ", so STS answers \"No OpenIDConnect provider found\"",
			Fix:   awsfacts.CreateProviderHint(f.OIDCIssuer)})
	case !in.AWS.HasOpenShiftAudience():
		add(Check{Name: "oidc provider", Result: Failed, Message: "client IDs " + strings.Join(in.AWS.OIDCClientIDs, ","),
			Cause: "the provider does not list the client ID \"openshift\", the audience of OpenShift's projected tokens",
			Fix:   fmt.Sprintf("aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn %s --client-id openshift", in.AWS.OIDCProviderARN)})
	default:
		add(Check{Name: "oidc provider", Result: OK, Message: in.AWS.OIDCProviderARN})
	}

	return out
}
