package status

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// listed is a role as ListRoles gives it: the trust URL-encoded.
func listed(name, doc string) ListedRole {
	return ListedRole{Name: name, ARN: iam.RoleARN("aws", account, "/", name), Trust: url.PathEscape(doc)}
}

func TestRolesSharingIssuer(t *testing.T) {
	provider := iam.OIDCProviderARN("aws", account, issuer)
	host := clusterfacts.IssuerHost(issuer)
	otherIssuer := "https://oidc.example.com/c2"
	subTrust := func(op, sub string) string {
		return `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity",` +
			`"Condition":{"` + op + `":{"` + host + `:sub":"` + sub + `"}}}]}`
	}
	self := "c1" + iam.RoleSuffix
	for _, tc := range []struct {
		name  string
		roles []ListedRole
		want  []SharedIssuer
	}{
		{name: "only this cluster's role", roles: []ListedRole{listed(self, iam.TrustPolicy("aws", account, issuer, ns).JSON())}},
		{name: "another cluster's role on another issuer",
			roles: []ListedRole{listed("c2"+iam.RoleSuffix, iam.TrustPolicy("aws", account, otherIssuer, ns).JSON())}},
		{name: "another cluster's role on this issuer, same namespace: same sub",
			roles: []ListedRole{listed(self, iam.TrustPolicy("aws", account, issuer, ns).JSON()), listed("c2"+iam.RoleSuffix, iam.TrustPolicy("aws", account, issuer, ns).JSON())},
			want:  []SharedIssuer{{ARN: iam.RoleARN("aws", account, "/", "c2"+iam.RoleSuffix), SameSubject: true}}},
		{name: "setup's name, another namespace: not the same sub",
			roles: []ListedRole{listed("c2"+iam.RoleSuffix, iam.TrustPolicy("aws", account, issuer, "oadp-c2").JSON())},
			want:  []SharedIssuer{{ARN: iam.RoleARN("aws", account, "/", "c2"+iam.RoleSuffix)}}},
		{name: "a hand-named role for OADP's velero elsewhere",
			roles: []ListedRole{listed("backup-role", subTrust("StringEquals", "system:serviceaccount:other-ns:velero"))},
			want:  []SharedIssuer{{ARN: iam.RoleARN("aws", account, "/", "backup-role")}}},
		{name: "a pattern that admits this namespace's velero",
			roles: []ListedRole{listed("wide-role", subTrust("StringLike", "system:serviceaccount:*:velero"))},
			want:  []SharedIssuer{{ARN: iam.RoleARN("aws", account, "/", "wide-role"), SameSubject: true}}},
		{name: "a role of this issuer for something that is not OADP",
			roles: []ListedRole{listed("registry-role", subTrust("StringEquals", "system:serviceaccount:openshift-image-registry:registry"))}},
		{name: "an unreadable trust document is not a verdict", roles: []ListedRole{{Name: "x" + iam.RoleSuffix, Trust: "%zz"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RolesSharingIssuer(tc.roles, provider, self, ns); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSharedIssuerCheck(t *testing.T) {
	other := listed("c2"+iam.RoleSuffix, iam.TrustPolicy("aws", account, issuer, ns).JSON())
	elsewhere := listed("c3"+iam.RoleSuffix, iam.TrustPolicy("aws", account, issuer, "oadp-c3").JSON())
	setUp := &corev1.Secret{}
	for _, tc := range []struct {
		name   string
		ch     Chain
		result Result
		cause  string
	}{
		{name: "no other role", ch: Chain{Secret: setUp}, result: OK},
		{name: "no other role before setup", ch: Chain{}, result: Skipped},
		{name: "same sub, set up: failed", ch: Chain{OtherRoles: []ListedRole{other}, Secret: setUp}, result: Failed,
			cause: "each cluster's velero may assume the other's role"},
		{name: "same sub before setup: a warning", ch: Chain{OtherRoles: []ListedRole{other}}, result: Warning, cause: other.ARN},
		{name: "another sub: a warning", ch: Chain{OtherRoles: []ListedRole{elsewhere}, Secret: setUp}, result: Warning,
			cause: "for other service accounts"},
		{name: "both kinds", ch: Chain{OtherRoles: []ListedRole{other, elsewhere}, Secret: setUp}, result: Failed,
			cause: elsewhere.ARN + " trust it for other service accounts"},
		{name: "no iam:ListRoles", ch: Chain{OtherRolesErr: errors.New("AccessDenied")}, result: Warning, cause: "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ch.Namespace, tc.ch.RoleName = ns, "c1"+iam.RoleSuffix
			r := Build(inputs(&tc.ch))
			c := find(t, r, CheckSharedIssuer)
			if c.Result != tc.result || !strings.Contains(c.Cause, tc.cause) || c.Area != AreaIAM {
				t.Errorf("got %+v; want %s with cause holding %q", c, tc.result, tc.cause)
			}
			if (c.Result == Warning || c.Result == Failed) && !strings.Contains(c.Fix, "its own OIDC configuration") && tc.ch.OtherRolesErr == nil {
				t.Errorf("fix %q does not name distinct OIDC configurations", c.Fix)
			}
			if tc.result == Failed && r.Ready {
				t.Errorf("a failed check left the report ready")
			}
		})
	}
}
