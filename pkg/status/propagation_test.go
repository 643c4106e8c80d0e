package status

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// An AccessDenied from STS on a role minutes old may be IAM still
// propagating it: status says so beside the refusal, and not for an old
// role or another error. The message is STS's own (see faults' AccessDenied,
// as the real Velero server reports it in the e2e test).
func TestYoungRoleBesideAccessDenied(t *testing.T) {
	now := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	denied := errors.New("cannot assume " + roleARN + ": AWS answered AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity")
	cases := []struct {
		name    string
		age     time.Duration
		err     error
		younger bool
	}{
		{"made 20s ago", 20 * time.Second, denied, true},
		{"made 4m ago", 4 * time.Minute, denied, true},
		{"made an hour ago", time.Hour, denied, false},
		{"another error on a new role", 20 * time.Second, errors.New("cannot assume: AWS answered InvalidIdentityToken: no OpenIDConnect provider found"), false},
	}
	trust := url.PathEscape(iam.TrustPolicy("aws", account, issuer, ns).JSON())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := &Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1", Now: now,
				Role:       &Role{ARN: roleARN, Trust: trust, Created: now.Add(-tc.age)},
				AssumeRole: &AssumeRole{RoleARN: roleARN, Err: tc.err}}
			c := find(t, Build(inputs(ch)), CheckAssumeRole)
			if c.Result != Failed {
				t.Fatalf("assume role %s, want Failed", c.Result)
			}
			if got := strings.Contains(c.Cause, "IAM may still be propagating"); got != tc.younger {
				t.Errorf("propagation named: %v, want %v: %s", got, tc.younger, c.Cause)
			}
			if tc.younger && !strings.Contains(c.Cause, "created "+tc.age.String()+" ago") {
				t.Errorf("the role's age is not given: %s", c.Cause)
			}
		})
	}
}
