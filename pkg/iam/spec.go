package iam

import (
	"cmp"
	"fmt"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
)

// DefaultPolicyName is the chapter's policy name.
const DefaultPolicyName = "OadpVer1"

// RoleSuffix follows the cluster name in the chapter's role name.
const RoleSuffix = "-openshift-oadp-aws-cloud-credentials"

// DefaultRoleName is the chapter's role name for a cluster, within IAM's 64
// characters: a longer cluster name is shortened with a stable hash suffix
// (names.Fit), so no default role name is ever refused.
func DefaultRoleName(clusterName string) string {
	return names.Fit(clusterName, RoleSuffix, MaxRoleNameLen)
}

// Inputs are the facts and choices a Spec is built from.
type Inputs struct {
	Partition        string
	AccountID        string
	OIDCIssuer       string
	Namespace        string
	ClusterID        string
	OpenShiftVersion string

	PolicyName string
	RoleName   string
	// RolePath is "/" unless --role-path says otherwise.
	RolePath            string
	PermissionsBoundary string
	// Scope, when set, scopes the permissions policy to one bucket; nil is
	// the chapter's policy (the CloudStorage path, where the operator makes
	// the bucket).
	Scope *Scope
}

// Spec is the desired IAM state: a policy, a role, the attachment.
type Spec struct {
	PolicyName string
	PolicyARN  string
	Policy     Document
	PolicyTags Tags

	RoleName            string
	RolePath            string
	RoleARN             string
	Trust               Document
	RoleTags            Tags
	PermissionsBoundary string

	// ClusterID is whose role this is; a role tagged for another cluster is
	// never taken over.
	ClusterID string
	// OwnerTags go on what is created, never onto what already exists.
	OwnerTags Tags
}

// Validate checks every name and value before any call to IAM.
func (in Inputs) Validate() error {
	if err := ValidatePolicyName(in.PolicyName, "set a shorter or plainer --policy-name"); err != nil {
		return err
	}
	if err := ValidateRoleName(in.RoleName, "set --role-name, or a shorter --cluster-name (the default role name is <cluster-name>"+RoleSuffix+")"); err != nil {
		return err
	}
	if err := ValidatePath(in.RolePath); err != nil {
		return err
	}
	if err := ValidateBoundary(in.PermissionsBoundary); err != nil {
		return err
	}
	for _, f := range []struct{ v, flag string }{
		{in.AccountID, "--account-id"}, {in.Partition, "--partition"}, {in.OIDCIssuer, "--oidc-issuer"}, {in.Namespace, "-n"},
	} {
		if f.v == "" {
			return fmt.Errorf("no value for %s: give it, or let the plugin read it from the cluster and AWS", f.flag)
		}
	}
	return nil
}

// NewSpec validates in and builds the desired state.
func NewSpec(in Inputs) (*Spec, error) {
	in.RolePath = cmp.Or(in.RolePath, "/")
	if err := in.Validate(); err != nil {
		return nil, err
	}
	policy := PermissionsPolicy()
	if in.Scope != nil {
		sc := *in.Scope
		sc.Partition = in.Partition
		policy = ScopedPolicy(sc)
	}
	return &Spec{
		PolicyName:          in.PolicyName,
		PolicyARN:           PolicyARN(in.Partition, in.AccountID, in.PolicyName),
		Policy:              policy,
		PolicyTags:          PolicyTags(in.OpenShiftVersion, in.Namespace),
		RoleName:            in.RoleName,
		RolePath:            in.RolePath,
		RoleARN:             RoleARN(in.Partition, in.AccountID, in.RolePath, in.RoleName),
		Trust:               TrustPolicy(in.Partition, in.AccountID, in.OIDCIssuer, in.Namespace),
		RoleTags:            RoleTags(in.ClusterID, in.OpenShiftVersion, in.Namespace),
		PermissionsBoundary: in.PermissionsBoundary,
		ClusterID:           in.ClusterID,
		OwnerTags:           OwnershipTags(in.ClusterID),
	}, nil
}
