package status

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
)

func subscriptionWith(rolearn string) *unstructured.Unstructured {
	spec := map[string]any{"name": "redhat-oadp-operator"}
	if rolearn != "" {
		spec["config"] = map[string]any{"env": []any{map[string]any{"name": "ROLEARN", "value": rolearn}}}
	}
	return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "redhat-oadp-operator"}, "spec": spec}}
}

func credentialsRequestFor(rolearn string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": credentialsRequest, "namespace": credentialsRequestNS},
		"spec":     map[string]any{"providerSpec": map[string]any{"kind": "AWSProviderSpec", "stsIAMRoleARN": rolearn}},
	}}
}

// The CredentialsRequest must name the Subscription's ROLEARN and the role
// (a reinstall with a corrected ROLEARN once left the old one); one left
// behind by a ROLEARN install is a warning; with neither, no check.
func TestCredentialsRequestCheck(t *testing.T) {
	old := iam.RoleARN("aws", account, "/", "old-role")
	for _, c := range []struct {
		name     string
		sub, cr  string
		noCR     bool
		want     Result
		contains string
	}{
		{name: "all three agree", sub: roleARN, cr: roleARN, want: OK},
		{name: "stale after a reinstall", sub: roleARN, cr: old, want: Failed, contains: "but the Subscription's ROLEARN is " + roleARN},
		{name: "ROLEARN and request agree on another role", sub: old, cr: old, want: Failed, contains: "but the role is " + roleARN},
		{name: "ROLEARN without a request", sub: roleARN, noCR: true, want: Warning, contains: "writes no secret"},
		{name: "left over without ROLEARN", cr: roleARN, want: Warning, contains: "sets no ROLEARN"},
		{name: "neither", noCR: true, want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := &Chain{Namespace: ns, RoleName: "c1-role", Role: &Role{ARN: roleARN}, Subscription: subscriptionWith(c.sub)}
			if !c.noCR {
				ch.CredentialsRequest = credentialsRequestFor(c.cr)
			}
			r := Build(inputs(ch))
			var got *Check
			for i := range r.Checks {
				if r.Checks[i].Name == CheckCredentialsRequest {
					got = &r.Checks[i]
				}
			}
			switch {
			case c.want == "" && got != nil:
				t.Errorf("check %+v, want none", *got)
			case c.want == "":
			case got == nil:
				t.Errorf("no %s check, want %s", CheckCredentialsRequest, c.want)
			case got.Result != c.want || !strings.Contains(got.Message+" "+got.Cause, c.contains):
				t.Errorf("%+v, want %s with %q", *got, c.want, c.contains)
			}
		})
	}
}

// Pending InstallPlans are listed with their version and whether the role's
// policy allows what that version's DPA needs; approved or completed plans
// are not.
func TestPendingInstallPlans(t *testing.T) {
	full := &Policy{ARN: "arn:aws:iam::" + account + ":policy/OadpVer1", VersionID: "v1", Document: iam.PermissionsPolicy().JSON()}
	partial := &Policy{ARN: full.ARN, VersionID: "v2", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}`}
	pending := func(csv string) olm.Plan {
		return olm.Plan{Name: "install-" + csv[len(csv)-3:], CSVs: []string{csv}, Approval: olm.Manual, Phase: olm.PhaseRequiresApproval}
	}
	done := olm.Plan{Name: "install-old", CSVs: []string{"oadp-operator.v1.5.3"}, Approval: olm.Manual, Approved: true, Phase: "Complete"}
	for _, c := range []struct {
		name     string
		plans    []olm.Plan
		policy   *Policy
		want     Result
		contains []string
	}{
		{name: "no pending plan", plans: []olm.Plan{done}, policy: full},
		{name: "an upgrade the policy covers", plans: []olm.Plan{done, pending("oadp-operator.v1.6.0")}, policy: full, want: Warning,
			contains: []string{"1 waiting for approval", "would install oadp-operator.v1.6.0 (OADP 1.6.0)", "has every action"}},
		{name: "an upgrade the policy does not cover", plans: []olm.Plan{pending("oadp-operator.v1.6.0")}, policy: partial, want: Failed,
			contains: []string{"lacks s3:CreateBucket", "s3:PutObject"}},
		{name: "a version the plugin does not know", plans: []olm.Plan{pending("oadp-operator.v1.7.0")}, policy: full, want: Warning,
			contains: []string{"OADP 1.7.0", "unknown to this plugin"}},
		{name: "policy unreadable", plans: []olm.Plan{pending("oadp-operator.v1.6.0")}, want: Warning,
			contains: []string{"could not be read"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Build(inputs(&Chain{Namespace: ns, RoleName: "c1-role", PolicyName: "OadpVer1", Policy: c.policy, InstallPlans: c.plans}))
			var got *Check
			for i := range r.Checks {
				if r.Checks[i].Name == CheckPendingUpgrades {
					got = &r.Checks[i]
				}
			}
			if c.want == "" {
				if got != nil {
					t.Errorf("check %+v, want none", *got)
				}
				return
			}
			if got == nil || got.Result != c.want {
				t.Fatalf("check %+v, want %s", got, c.want)
			}
			for _, w := range c.contains {
				if !strings.Contains(got.Message+"\n"+got.Cause, w) {
					t.Errorf("check %+v lacks %q", *got, w)
				}
			}
		})
	}
}
