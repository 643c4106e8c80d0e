package status

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// CheckSharedIssuer is the check of other OADP roles trusting this
// cluster's OIDC issuer.
const CheckSharedIssuer = "shared issuer"

// ListedRole is a role as IAM's ListRoles gives it: no tags (ListRoles
// returns none), the trust document URL-encoded.
type ListedRole struct {
	Name  string
	ARN   string
	Trust string
}

// SharedIssuer is another OADP role that trusts the cluster's OIDC issuer.
type SharedIssuer struct {
	ARN string `json:"arn"`
	// SameSubject: it also trusts the sub of this namespace's velero
	// service account, so tokens of either cluster's velero (they carry the
	// same iss and sub) are accepted by both roles.
	SameSubject bool `json:"sameSubject"`
}

// RolesSharingIssuer picks, from the listed roles, the other OADP roles
// that trust the OIDC provider providerARN: roles named as setup names them
// (iam.RoleSuffix) or trusting one of OADP's two service accounts in any
// namespace. A role trusting the issuer for something else is not OADP's
// business. self is this cluster's role, left out; ns is the OADP namespace.
// When two clusters share an issuer (a registered ROSA OIDC configuration
// reused), a trust policy keyed on issuer and sub cannot tell them apart.
func RolesSharingIssuer(roles []ListedRole, providerARN, self, ns string) []SharedIssuer {
	velero := "system:serviceaccount:" + ns + ":" + iam.VeleroServiceAccount
	var out []SharedIssuer
	for _, r := range roles {
		if r.Name == self {
			continue
		}
		t, err := parseTrust(r.Trust)
		if err != nil || !slices.Contains(t.federated, providerARN) {
			continue
		}
		if !strings.HasSuffix(r.Name, iam.RoleSuffix) && !t.trustsOADP() {
			continue
		}
		out = append(out, SharedIssuer{ARN: r.ARN, SameSubject: t.admitsSubject(velero)})
	}
	slices.SortFunc(out, func(a, b SharedIssuer) int { return strings.Compare(a.ARN, b.ARN) })
	return out
}

// trustsOADP reports whether a subject names one of OADP's service accounts.
func (t *trustDoc) trustsOADP() bool {
	for _, s := range t.subjects {
		_, sa, ok := strings.Cut(strings.TrimPrefix(s, "system:serviceaccount:"), ":")
		if ok && (sa == iam.VeleroServiceAccount || sa == iam.OperatorServiceAccount) {
			return true
		}
	}
	return false
}

// admitsSubject reports whether a token with this sub passes the trust's
// sub conditions, patterns as STS matches them.
func (t *trustDoc) admitsSubject(sub string) bool {
	if slices.Contains(t.subjects, sub) {
		return true
	}
	for _, p := range t.subjectPatterns {
		if ok, _ := path.Match(p, sub); ok {
			return true
		}
	}
	return false
}

// sharedIssuerCheck says when IAM shows other OADP roles trusting this
// cluster's issuer. One that also trusts this namespace's velero is a
// failure once set up: each cluster's velero can then assume the other's
// role and reach its backups. One trusting only other subjects is a
// warning: a service account of that name made here would get in. Before
// setup nothing of this cluster's is exposed yet, so it is a warning too.
func (c *chain) sharedIssuerCheck() {
	add := func(ch Check) { c.add(checkIn(AreaIAM, ch)) }
	switch {
	case !c.awsKnown() || c.in.Cluster.OIDCIssuer == "":
		add(Check{Name: CheckSharedIssuer, Result: Skipped, Message: "needs the AWS identity and the cluster's issuer"})
		return
	case c.OtherRolesErr != nil:
		add(Check{Name: CheckSharedIssuer, Result: Warning, Message: "cannot list the account's roles", Cause: c.OtherRolesErr.Error(),
			Fix: "grant the calling identity iam:ListRoles ('kubectl oadp-sts policy --for-user=status' prints what status needs)"})
		return
	}
	a := c.in.AWS
	provider := iam.OIDCProviderARN(a.Partition, a.AccountID, c.in.Cluster.OIDCIssuer)
	c.shared = RolesSharingIssuer(c.OtherRoles, provider, c.RoleName, c.Namespace)
	host := c.issuerHost()
	switch {
	case len(c.shared) == 0 && !c.setUp():
		c.notSetUp(AreaIAM, CheckSharedIssuer, "no other OADP role trusts "+host)
		return
	case len(c.shared) == 0:
		add(Check{Name: CheckSharedIssuer, Result: OK, Message: "no other OADP role trusts " + host})
		return
	}
	var same, other []string
	for _, s := range c.shared {
		if s.SameSubject {
			same = append(same, s.ARN)
		} else {
			other = append(other, s.ARN)
		}
	}
	fix := fmt.Sprintf("give each cluster its own OIDC configuration (on ROSA 'rosa create oidc-config' per cluster; a registered one is meant to be shared), "+
		"or, if one role for every cluster of issuer %s is meant, use that one role on each of them (setup --role-name)", host)
	ch := Check{Name: CheckSharedIssuer, Result: Warning, Fix: fix}
	switch {
	case len(same) > 0:
		ch.Message = fmt.Sprintf("%d other OADP role(s) trust this issuer and this namespace's velero", len(same))
		ch.Cause = fmt.Sprintf("%s trust %s and the sub %s, as %s does: tokens of every cluster with this issuer carry that iss and sub, so each cluster's velero may assume the other's role and read or delete its backups",
			strings.Join(same, ", "), provider, "system:serviceaccount:"+c.Namespace+":"+iam.VeleroServiceAccount, roleNoun(c.RoleName))
		if c.setUp() {
			ch.Result = Failed
		}
	default:
		ch.Message = fmt.Sprintf("%d other OADP role(s) trust this issuer", len(other))
		ch.Cause = fmt.Sprintf("%s trust %s for other service accounts: IAM cannot tell this cluster's tokens from another's with the same issuer, so a service account of that name and namespace here could assume them",
			strings.Join(other, ", "), provider)
	}
	if len(same) > 0 && len(other) > 0 {
		ch.Cause += fmt.Sprintf("; %s trust it for other service accounts", strings.Join(other, ", "))
	}
	add(ch)
}

// roleNoun names this cluster's role in a cause.
func roleNoun(role string) string {
	if role == "" {
		return "this cluster's role would"
	}
	return "role " + role
}
