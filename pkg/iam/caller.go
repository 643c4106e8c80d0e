package iam

import (
	"fmt"
	"slices"
	"strings"
)

// CallerCommands are the commands that call AWS with their user's own
// credentials (the others read the cluster only).
var CallerCommands = []string{"setup", "status", "cleanup", "verify"}

// callerCalls are the AWS operations each command makes with the user's
// credentials, named as the SDK and pkg/awsclient's interfaces name them:
// the one place the plugin's own user's needs are written down.
var callerCalls = map[string][]string{
	"setup": {
		"GetCallerIdentity", "GetOpenIDConnectProvider",
		"GetPolicy", "GetPolicyVersion", "CreatePolicy", "TagPolicy", "CreatePolicyVersion", "ListPolicyVersions", "DeletePolicyVersion",
		"GetRole", "CreateRole", "TagRole", "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
		"ListAttachedRolePolicies", "AttachRolePolicy",
		// The bucket setup makes and hardens (pkg/bucket).
		"HeadBucket", "ListBuckets", "GetBucketLocation", "CreateBucket",
		"GetPublicAccessBlock", "PutPublicAccessBlock", "GetBucketEncryption", "PutBucketEncryption",
		"GetBucketTagging", "PutBucketTagging", "GetBucketVersioning", "PutBucketVersioning",
	},
	"status": {
		"GetCallerIdentity", "GetOpenIDConnectProvider", "GetRole", "ListAttachedRolePolicies", "GetPolicy", "GetPolicyVersion",
		// The other roles trusting the cluster's issuer (the shared issuer check).
		"ListRoles",
		"GetBucketLocation", "HeadBucket",
		// The hardening of the bucket setup made (pkg/bucket's Read).
		"ListBuckets", "GetPublicAccessBlock", "GetBucketEncryption", "GetBucketTagging", "GetBucketVersioning",
		// --assume-role's AssumeRoleWithWebIdentity is signed by the
		// service account's token, not the user's credentials: no action.
	},
	"cleanup": {
		"GetCallerIdentity", "GetRole", "ListAttachedRolePolicies", "DetachRolePolicy", "DeleteRole",
		"GetPolicy", "ListEntitiesForPolicy", "ListPolicyVersions", "DeletePolicyVersion", "DeletePolicy",
		"GetBucketTagging", "HeadBucket", "ListObjectVersions", "ListObjectsV2", "DeleteObjects", "DeleteBucket",
	},
	// verify counts what its canary's backup left in the bucket.
	"verify": {"ListObjectsV2"},
}

// callActions are the IAM actions an operation needs. Most are the
// operation's own name; the rest follow the service authorization reference:
// a create with tags also needs the tag action, S3's operations map to
// their bucket and object actions.
var callActions = map[string][]string{
	"GetCallerIdentity":    {"sts:GetCallerIdentity"},
	"CreateRole":           {"iam:CreateRole", "iam:TagRole"},
	"CreatePolicy":         {"iam:CreatePolicy", "iam:TagPolicy"},
	"HeadBucket":           {"s3:ListBucket"},
	"GetBucketLocation":    {"s3:GetBucketLocation"},
	"GetBucketTagging":     {"s3:GetBucketTagging"},
	"PutBucketTagging":     {"s3:PutBucketTagging"},
	"ListBuckets":          {"s3:ListAllMyBuckets"},
	"CreateBucket":         {"s3:CreateBucket"},
	"GetPublicAccessBlock": {"s3:GetBucketPublicAccessBlock"},
	"PutPublicAccessBlock": {"s3:PutBucketPublicAccessBlock"},
	"GetBucketEncryption":  {"s3:GetEncryptionConfiguration"},
	"PutBucketEncryption":  {"s3:PutEncryptionConfiguration"},
	"GetBucketVersioning":  {"s3:GetBucketVersioning"},
	"PutBucketVersioning":  {"s3:PutBucketVersioning"},
	"ListObjectVersions":   {"s3:ListBucketVersions"},
	"ListObjectsV2":        {"s3:ListBucket"},
	"DeleteObjects":        {"s3:DeleteObject", "s3:DeleteObjectVersion"},
	"DeleteBucket":         {"s3:DeleteBucket"},
}

// ActionsFor is the IAM actions an AWS operation needs.
func ActionsFor(operation string) []string {
	if a, ok := callActions[operation]; ok {
		return a
	}
	return []string{"iam:" + operation}
}

// CallerActions are the IAM actions the user running the given commands
// needs, sorted; an unknown command is an error.
func CallerActions(commands ...string) ([]string, error) {
	var out []string
	for _, c := range commands {
		calls, ok := callerCalls[c]
		if !ok {
			return nil, fmt.Errorf("%q makes no AWS call with your credentials: choose from %s", c, strings.Join(CallerCommands, ", "))
		}
		for _, op := range calls {
			out = append(out, ActionsFor(op)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CallerPolicy is the least policy for the user running the commands: one
// statement per service. Resources are "*": the names setup uses come from
// flags and the cluster, so a policy written before setup cannot name them.
func CallerPolicy(commands ...string) (Document, error) {
	actions, err := CallerActions(commands...)
	if err != nil {
		return Document{}, err
	}
	var doc = Document{Version: PolicyVersion}
	for _, svc := range []string{"sts", "iam", "s3"} {
		var acts []string
		for _, a := range actions {
			if strings.HasPrefix(a, svc+":") {
				acts = append(acts, a)
			}
		}
		if len(acts) > 0 {
			doc.Statement = append(doc.Statement, Statement{Effect: "Allow", Action: acts, Resource: "*"})
		}
	}
	return doc, nil
}
