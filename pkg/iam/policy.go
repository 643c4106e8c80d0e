// Package iam builds the IAM documents and tags OADP needs on an AWS STS
// cluster, and converges a policy, a role and their attachment towards them.
// Building is pure; Plan only reads IAM, and Apply makes the changes a plan lists.
package iam

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
)

// PolicyVersion is the only policy language version IAM knows.
const PolicyVersion = "2012-10-17"

// Service accounts of the OADP operator and of Velero: the only subjects the
// role trusts, so no other pod in the cluster can assume it.
const (
	OperatorServiceAccount = "openshift-adp-controller-manager"
	VeleroServiceAccount   = "velero"
)

// PermissionActions are the chapter's 25 actions, in its order: what Velero's
// AWS plugin and the operator's CloudStorage controller call.
var PermissionActions = []string{
	"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:GetBucketTagging",
	"s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration",
	"s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:GetBucketLocation",
	"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
	"s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
	"ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeVolumeAttribute",
	"ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus", "ec2:CreateTags",
	"ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:DeleteSnapshot",
}

// Document is an IAM policy document as this package writes it. Documents read
// back from IAM are compared with Equal, never with this type.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement; Action is a string or a list, as in the chapter.
type Statement struct {
	Effect    string            `json:"Effect"`
	Principal map[string]string `json:"Principal,omitempty"`
	Action    any               `json:"Action"`
	// Resource is a string or a list, like Action.
	Resource  any                            `json:"Resource,omitempty"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// PermissionsPolicy is the chapter's permissions policy.
func PermissionsPolicy() Document {
	return Document{Version: PolicyVersion, Statement: []Statement{{
		Effect:   "Allow",
		Action:   append([]string(nil), PermissionActions...),
		Resource: "*",
	}}}
}

// TrustPolicy lets the two OADP service accounts of namespace ns assume the
// role with tokens of the cluster's issuer. There is deliberately no aud
// condition: OpenShift's tokens carry "openshift", not EKS's
// "sts.amazonaws.com", and the provider's client ID list already checks it.
func TrustPolicy(partition, accountID, issuer, ns string) Document {
	host := clusterfacts.IssuerHost(issuer)
	return Document{Version: PolicyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: map[string]string{"Federated": OIDCProviderARN(partition, accountID, issuer)},
		Action:    "sts:AssumeRoleWithWebIdentity",
		Condition: map[string]map[string][]string{"StringEquals": {host + ":sub": ServiceAccountSubjects(ns)}},
	}}}
}

// ServiceAccountSubjects are the token subjects the trust policy allows.
func ServiceAccountSubjects(ns string) []string {
	return []string{
		"system:serviceaccount:" + ns + ":" + OperatorServiceAccount,
		"system:serviceaccount:" + ns + ":" + VeleroServiceAccount,
	}
}

// OIDCProviderARN is the IAM OIDC provider of an issuer, in the caller's partition.
func OIDCProviderARN(partition, accountID, issuer string) string {
	return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, accountID, clusterfacts.IssuerHost(issuer))
}

// PolicyARN is the ARN of a customer-managed policy at path "/".
func PolicyARN(partition, accountID, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:policy/%s", partition, accountID, name)
}

// RoleARN is the ARN of a role at path (which starts and ends with "/").
func RoleARN(partition, accountID, path, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", partition, accountID, cmp.Or(path, "/"), name)
}

// PartitionForRegion is the partition a region belongs to; "aws" when unknown.
func PartitionForRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// JSON is the document as IAM accepts it: compact.
func (d Document) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // only strings, maps and slices: cannot fail
	}
	return string(b)
}

// Indented is the document for people.
func (d Document) Indented() string {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}
