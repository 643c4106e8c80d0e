package checks

import (
	"slices"
	"testing"
)

func TestLikelyCauses(t *testing.T) {
	general := []string{
		"the secret's role_arn names another role, or its key is not \"credentials\"",
		"the role lacks the S3 permissions of the policy (policy detached or edited)",
	}
	for _, tc := range []struct {
		name, msg, first string
	}{
		{"no provider", "WebIdentityErr: No OpenIDConnect provider found in your account for https://issuer", "IAM has no OIDC provider for the cluster's issuer in this account"},
		{"audience", "InvalidIdentityToken: Incorrect token audience", "the OIDC provider does not list the client ID \"openshift\", or the trust policy has an aud condition other than openshift"},
		{"trust", "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity", "the role's trust policy does not name this cluster's issuer or the velero service account, or IAM has not yet propagated a role made or changed moments ago"},
		{"no bucket", "rpc error: NoSuchBucket: The specified bucket does not exist", "the bucket does not exist yet (the CloudStorage has not created it) or is in another account"},
		{"region", "PermanentRedirect: use the bucket's endpoint", "the bucket is in another region than config.region of the location"},
		{"unknown", "something else entirely", ""},
	} {
		got := LikelyCauses(tc.msg)
		if !slices.Equal(got[len(got)-2:], general) {
			t.Errorf("%s: the general causes are not last: %q", tc.name, got)
		}
		if tc.first == "" {
			if len(got) != 2 {
				t.Errorf("%s: an unknown message got specific causes: %q", tc.name, got)
			}
			continue
		}
		if len(got) != 3 || got[0] != tc.first {
			t.Errorf("%s: LikelyCauses(%q) = %q, want %q first", tc.name, tc.msg, got, tc.first)
		}
	}
}

func TestBucketMissing(t *testing.T) {
	for msg, want := range map[string]bool{
		"NoSuchBucket: The specified bucket does not exist": true,
		"bucket does not exist":                             true,
		"AccessDenied":                                      false,
		"":                                                  false,
	} {
		if got := BucketMissing(msg); got != want {
			t.Errorf("BucketMissing(%q) = %v, want %v", msg, got, want)
		}
	}
}
