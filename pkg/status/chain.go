package status

import (
	"fmt"
	"time"

	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
)

// Chain is what the command read of the STS chain beyond readiness: the IAM
// objects, the objects setup makes in the OADP namespace, the buckets, what
// Velero did, and optionally the role assumed end to end. An object that is
// absent is nil (or an empty list) with a nil error; an error means it could
// not be read, which is a warning, never a failure: a broken link must be seen
// to be broken.
type Chain struct {
	Namespace string
	// SetupCommand is the setup command line for the names in use, for fixes.
	SetupCommand string

	RoleName   string
	PolicyName string
	Role       *Role
	RoleErr    error
	// Attached are the ARNs of the managed policies attached to the role.
	Attached    []string
	AttachedErr error
	Policy      *Policy
	PolicyErr   error
	// OtherRoles are the account's roles at the role's path, as ListRoles
	// gives them, for the shared-issuer check.
	OtherRoles    []ListedRole
	OtherRolesErr error

	Secret          *corev1.Secret
	SecretErr       error
	Subscription    *unstructured.Unstructured
	SubscriptionErr error
	// CredentialsRequest is the operator's
	// openshift-cloud-credential-operator/oadp-aws-credentials-request (the
	// ROLEARN flow), nil when absent or not served.
	CredentialsRequest    *unstructured.Unstructured
	CredentialsRequestErr error
	// InstallPlans are the OADP namespace's OLM InstallPlans.
	InstallPlans    []olm.Plan
	InstallPlansErr error

	DPAs   []unstructured.Unstructured
	DPAErr error
	// DPASecrets are the secrets the DPAs name (dparules.SecretNames), by
	// name; a name missing is a secret that does not exist. DPASecretsErr is
	// set when one could not be read, and the rules are then not judged.
	DPASecrets    map[string]map[string][]byte
	DPASecretsErr error
	BSLs          []unstructured.Unstructured
	BSLErr        error
	CloudStorages []unstructured.Unstructured
	Backups       []unstructured.Unstructured
	Restores      []unstructured.Unstructured
	VeleroErr     error

	Buckets []Bucket
	// Hardening is the bucket of a velero location setup made or adopted,
	// nil on the CloudStorage path.
	Hardening *Hardening

	// SnapshotMode is the DPA's (manifests.SnapshotMode), "" when it takes
	// no volume snapshots; SnapshotWarnings are where the cluster's storage
	// does not fit it.
	SnapshotMode     string
	SnapshotWarnings []checks.StorageWarning

	// AssumeRole is nil unless --assume-role asked for it.
	AssumeRole *AssumeRole

	// Now is when the facts were read, for "validated 3m ago".
	Now time.Time
}

// Role is the IAM role as GetRole returns it.
type Role struct {
	ARN string
	// Trust is the assume-role policy document, URL-encoded as IAM gives it.
	Trust string
	Tags  []iamtypes.Tag
	// Created is the role's CreateDate: STS may refuse a role minutes old.
	Created time.Time
}

// PropagationWindow is how young a role is when an AccessDenied from STS
// may be IAM still propagating it rather than a wrong trust policy: IAM
// documents seconds, and minutes are seen.
const PropagationWindow = 5 * time.Minute

// youngRole says, beside an AccessDenied, that the role is new enough for
// IAM to be still propagating it; "" for an older or unknown role.
func (c *Chain) youngRole(msg string) string {
	if c.Role == nil || c.Role.Created.IsZero() || c.Now.IsZero() || !checks.AccessDenied(msg) {
		return ""
	}
	age := c.Now.Sub(c.Role.Created)
	if age < 0 || age >= PropagationWindow {
		return ""
	}
	return fmt.Sprintf("; the role was created %s ago, and IAM may still be propagating it: STS refuses a new role with this same AccessDenied for seconds to minutes",
		age.Round(time.Second))
}

// Policy is the permissions policy and its default version's document.
type Policy struct {
	ARN       string
	VersionID string
	Document  string
}

// Bucket is one bucket a location or the CloudStorage names.
type Bucket struct {
	Name string
	// From names the objects that point at it ("cloudstorage/x", "backupstoragelocation/y").
	From   []string
	Exists bool
	// Region is the bucket's region as GetBucketLocation gives it, normalised
	// ("" and "EU" are us-east-1 and eu-west-1).
	Region string
	// LocationRegions are the config.region of each location using it.
	LocationRegions map[string]string
	Err             error
}

// AssumeRole is the end-to-end test: a token of the velero service account
// from the API server, given to STS.
type AssumeRole struct {
	RoleARN string
	// Claims of the token the API server issued (not verified here: STS does that).
	Issuer, Subject string
	Audience        []string
	TokenErr        error
	AssumedARN      string
	Err             error
}

// setUp reports whether any object setup makes exists in the namespace.
func (c *Chain) setUp() bool {
	return c.Secret != nil || len(c.DPAs) > 0 || len(c.CloudStorages) > 0 || subscriptionRoleARN(c.Subscription) != ""
}

// chain builds the checks of the chain in order.
type chain struct {
	*Chain
	in     Inputs
	add    func(Check)
	recent *Recent

	// Filled as the checks run, for the checks after them.
	roleARN string
	trust   *trustDoc
	shared  []SharedIssuer
}

func (c *chain) build() {
	c.iamChecks()
	c.sharedIssuerCheck()
	c.credentialChecks()
	c.credentialsRequestCheck()
	c.operatorChecks()
	c.upgradeChecks()
	c.storageChecks()
	c.recentChecks()
	if c.AssumeRole != nil {
		c.assumeRoleCheck()
	}
}

// awsKnown reports whether the caller's account and partition are known.
func (c *chain) awsKnown() bool { return c.in.AWS != nil && c.in.AWS.AccountID != "" }

// expectedRoleARN is the role's ARN as IAM reports it, else as setup would
// make it at path "/".
func (c *chain) expectedRoleARN() string {
	switch {
	case c.Role != nil:
		return c.Role.ARN
	case c.awsKnown():
		return iam.RoleARN(c.in.AWS.Partition, c.in.AWS.AccountID, "/", c.RoleName)
	}
	return ""
}

func (c *chain) setupFix() string {
	if c.SetupCommand != "" {
		return c.SetupCommand
	}
	return "kubectl oadp-sts setup --yes"
}

func (c *chain) issuerHost() string { return clusterfacts.IssuerHost(c.in.Cluster.OIDCIssuer) }

func checkIn(area string, ch Check) Check {
	ch.Area = area
	return ch
}

// notSetUp is the skipped check of an object that setup has not made yet.
func (c *chain) notSetUp(area, name, what string) {
	c.add(checkIn(area, Check{Name: name, Result: Skipped,
		Message: what + ": not set up yet, run '" + c.setupFix() + "'"}))
}
