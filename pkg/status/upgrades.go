package status

import (
	"fmt"
	"slices"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Check names of upgrades and the ROLEARN flow.
const (
	CheckCredentialsRequest = "credentials request"
	CheckPendingUpgrades    = "pending installplans"
)

// credentialsRequestCheck compares the operator's CredentialsRequest with
// the Subscription's ROLEARN and the role: a reinstall with a corrected
// ROLEARN once left the old role in it (OADP-5362, oadp-operator PR #1609),
// and the Cloud Credential Operator keeps writing the secret from it. Shown
// only in the ROLEARN flow or when such a request exists.
func (c *chain) credentialsRequestCheck() {
	subARN := subscriptionRoleARN(c.Subscription)
	cr, ref := c.CredentialsRequest, credentialsRequestNS+"/"+credentialsRequest
	if c.CredentialsRequestErr == nil && cr == nil && subARN == "" {
		return
	}
	add := func(ch Check) { c.add(checkIn(AreaCredentials, ch)) }
	if c.CredentialsRequestErr != nil {
		add(Check{Name: CheckCredentialsRequest, Result: Warning, Message: "cannot read credentialsrequest " + ref, Cause: c.CredentialsRequestErr.Error(),
			Fix: "ask a cluster-admin for get on credentialsrequests.cloudcredential.openshift.io in " + credentialsRequestNS})
		return
	}
	restart := fmt.Sprintf("restart the operator, which rewrites it at start-up from ROLEARN (OADP 1.4+): 'oc -n %s rollout restart deployment/openshift-adp-controller-manager'", c.Namespace)
	if cr == nil {
		add(Check{Name: CheckCredentialsRequest, Result: Warning, Message: "credentialsrequest " + ref + " missing",
			Cause: "the Subscription sets ROLEARN, and the operator makes this request at start-up; without it the Cloud Credential Operator writes no secret",
			Fix:   restart})
		return
	}
	got := kube.Str(cr.Object, "spec", "providerSpec", "stsIAMRoleARN")
	role := c.expectedRoleARN()
	switch {
	case subARN != "" && got != subARN:
		add(Check{Name: CheckCredentialsRequest, Result: Failed, Message: "stsIAMRoleARN " + orNoneStr(got),
			Cause: fmt.Sprintf("credentialsrequest %s names role %s, but the Subscription's ROLEARN is %s (a reinstall with a corrected ROLEARN can leave the old one, OADP-5362)", ref, orNoneStr(got), subARN),
			Fix:   restart})
	case role != "" && got != role:
		add(Check{Name: CheckCredentialsRequest, Result: Failed, Message: "stsIAMRoleARN " + orNoneStr(got),
			Cause: fmt.Sprintf("credentialsrequest %s names role %s, but the role is %s", ref, orNoneStr(got), role),
			Fix:   "set ROLEARN to " + role + " in the Subscription's spec.config.env, then " + restart})
	case subARN == "":
		add(Check{Name: CheckCredentialsRequest, Result: Warning, Message: "left from a ROLEARN install: stsIAMRoleARN " + orNoneStr(got),
			Cause: fmt.Sprintf("the Subscription sets no ROLEARN, yet credentialsrequest %s exists; the Cloud Credential Operator may still write secret %s from it", ref, manifests.SecretName),
			Fix:   fmt.Sprintf("'oc -n %s delete credentialsrequest %s' ('kubectl oadp-sts cleanup' removes it when it names this role)", credentialsRequestNS, credentialsRequest)})
	default:
		add(Check{Name: CheckCredentialsRequest, Result: OK, Message: "stsIAMRoleARN " + got})
	}
}

func orNoneStr(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// actionsFor are the IAM actions the DPA setup writes for an OADP version
// needs; known is false for a version newer than the plugin knows. Every
// version the plugin knows needs the same actions for a mode: those of the
// policy scoped to the DPA's bucket when a velero location names one (scope),
// else the chapter's policy, whose bucket the operator's CloudStorage makes.
func actionsFor(version string, scope *iam.Scope) (actions []string, known bool) {
	if !slices.Contains(manifests.SupportedOADPVersions, versions.Minor(version)) {
		return nil, false
	}
	if scope == nil {
		return iam.PermissionActions, true
	}
	for _, g := range iam.ScopedPolicy(*scope).Grants() {
		if !slices.Contains(actions, g.Action) {
			actions = append(actions, g.Action)
		}
	}
	return actions, true
}

// upgradeChecks lists the InstallPlans that wait for an approval (with
// Manual approval, the upgrades OLM offers), each with the version it would
// install and whether the role's policy allows what that version's DPA
// needs, so an upgrade is approved only once IAM has caught up.
func (c *chain) upgradeChecks() {
	add := func(ch Check) { c.add(checkIn(AreaOperator, ch)) }
	if c.InstallPlansErr != nil {
		add(Check{Name: CheckPendingUpgrades, Result: Warning, Message: "cannot list installplans", Cause: c.InstallPlansErr.Error(),
			Fix: "ask a cluster-admin for list on installplans.operators.coreos.com in " + c.Namespace})
		return
	}
	var pending []olm.Plan
	for _, p := range c.InstallPlans {
		if p.Pending() {
			pending = append(pending, p)
		}
	}
	if len(pending) == 0 {
		return
	}
	var allowed *actionSet
	if c.Policy != nil {
		if a, err := allowedActions(c.Policy.Document); err == nil {
			allowed = &a
		}
	}
	var lines []string
	result := Warning
	for _, p := range pending {
		v := p.Version()
		line := fmt.Sprintf("installplan/%s would install %s (OADP %s)", p.Name, strings.Join(p.CSVs, ", "), orNoneStr(v))
		need, known := actionsFor(v, c.Scope())
		var missing []string
		for _, a := range need {
			if allowed == nil || !allowed.allows(a) {
				missing = append(missing, a)
			}
		}
		switch {
		case !known:
			line += "; its IAM needs are unknown to this plugin (it knows OADP " + strings.Join(manifests.SupportedOADPVersions, ", ") + "): update the plugin before approving"
		case allowed == nil:
			line += "; the role's policy could not be read, so whether it allows that version's actions is unknown"
		case len(missing) > 0:
			line += "; the role's policy lacks " + strings.Join(missing, ", ") + " that its DPA needs"
			result = Failed
		default:
			line += "; the role's policy has every action its DPA needs"
		}
		lines = append(lines, line)
	}
	fix := fmt.Sprintf("approve only once the role allows what the version needs: 'oc -n %s patch installplan NAME --type merge -p '{\"spec\":{\"approved\":true}}''", c.Namespace)
	add(Check{Name: CheckPendingUpgrades, Result: result, Message: fmt.Sprintf("%d waiting for approval", len(pending)),
		Cause: strings.Join(lines, "\n"), Fix: fix})
}
