package checks

import "strings"

// BucketMissing reports whether Velero's message says the bucket does not
// exist (yet): setup's wait keeps waiting on it, because the operator makes a
// CloudStorage's bucket after its location.
func BucketMissing(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "nosuchbucket") || strings.Contains(m, "bucket does not exist")
}

// AccessDenied reports whether Velero's message is STS refusing the role:
// a trust policy that does not admit the token, or one IAM has not yet
// propagated.
func AccessDenied(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "accessdenied") || strings.Contains(m, "not authorized to perform sts:assumerolewithwebidentity")
}

// LikelyCauses maps Velero's error text to the known STS pitfalls
// (procedure.md, steps 3 and 5), most specific first; the last two apply to
// any message.
func LikelyCauses(msg string) []string {
	m := strings.ToLower(msg)
	var out []string
	switch {
	case strings.Contains(m, "no openidconnect provider"):
		out = append(out, "IAM has no OIDC provider for the cluster's issuer in this account")
	case strings.Contains(m, "incorrect token audience"):
		out = append(out, "the OIDC provider does not list the client ID \"openshift\", or the trust policy has an aud condition other than openshift")
	case AccessDenied(m):
		out = append(out, "the role's trust policy does not name this cluster's issuer or the velero service account, or IAM has not yet propagated a role made or changed moments ago")
	case BucketMissing(m):
		out = append(out, "the bucket does not exist yet (the CloudStorage has not created it) or is in another account")
	case strings.Contains(m, "region"), strings.Contains(m, "permanentredirect"), strings.Contains(m, "authorizationheadermalformed"):
		out = append(out, "the bucket is in another region than config.region of the location")
	}
	return append(out,
		"the secret's role_arn names another role, or its key is not \"credentials\"",
		"the role lacks the S3 permissions of the policy (policy detached or edited)")
}
