package status

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
)

// IAM check names.
const (
	CheckRole           = "iam role"
	CheckTrustIssuer    = "trust issuer"
	CheckTrustSubjects  = "trust subjects"
	CheckTrustAudience  = "trust audience"
	CheckPolicyAttached = "policy attached"
	CheckPolicyActions  = "policy actions"
	CheckRoleTags       = "role tags"
)

var iamAfterRole = []string{CheckTrustIssuer, CheckTrustSubjects, CheckTrustAudience, CheckPolicyAttached, CheckPolicyActions, CheckRoleTags}

func (c *chain) iamChecks() {
	add := func(ch Check) { c.add(checkIn(AreaIAM, ch)) }
	skipRest := func(why string) {
		for _, n := range iamAfterRole {
			add(Check{Name: n, Result: Skipped, Message: why})
		}
	}
	switch {
	case !c.awsKnown():
		add(Check{Name: CheckRole, Result: Skipped, Message: "needs the AWS identity"})
		skipRest("needs the AWS identity")
		return
	case c.RoleErr != nil:
		add(Check{Name: CheckRole, Result: Warning, Message: "cannot read role " + c.RoleName, Cause: c.RoleErr.Error(),
			Fix: "grant the calling identity iam:GetRole, iam:ListAttachedRolePolicies, iam:GetPolicy and iam:GetPolicyVersion, or use another --aws-profile"})
		skipRest("needs the role")
		return
	case c.Role == nil && !c.setUp():
		c.notSetUp(AreaIAM, CheckRole, "no role "+c.RoleName)
		skipRest("needs the role")
		return
	case c.Role == nil:
		add(Check{Name: CheckRole, Result: Failed, Message: c.RoleName + " missing",
			Cause: fmt.Sprintf("IAM has no role %s in account %s, yet OADP's objects in %s are there to use it", c.RoleName, c.in.AWS.AccountID, c.Namespace),
			Fix:   "run '" + c.setupFix() + "' to create it, or pass --role-name (or --cluster-name) if the role has another name"})
		skipRest("needs the role")
		return
	}
	c.roleARN = c.Role.ARN
	add(Check{Name: CheckRole, Result: OK, Message: c.Role.ARN})

	t, err := parseTrust(c.Role.Trust)
	if err != nil {
		add(Check{Name: CheckTrustIssuer, Result: Failed, Message: "unreadable trust policy", Cause: err.Error(),
			Fix: "run '" + c.setupFix() + "' to put the trust policy back"})
		add(Check{Name: CheckTrustSubjects, Result: Skipped, Message: "needs a readable trust policy"})
		add(Check{Name: CheckTrustAudience, Result: Skipped, Message: "needs a readable trust policy"})
	} else {
		c.trust = t
		add(c.trustIssuer(t))
		add(c.trustSubjects(t))
		add(c.trustAudience(t))
	}
	add(c.policyAttached())
	add(c.policyActions())
	add(c.roleTags())
}

// trustFix is the fix of every trust-policy failure: setup converges the
// document, and the policy command prints it for those who apply by hand.
func (c *chain) trustFix() string {
	return fmt.Sprintf("run '%s' to put the trust policy back, or apply 'kubectl oadp-sts policy --trust' with 'aws iam update-assume-role-policy --role-name %s --policy-document file://trust.json'",
		c.setupFix(), c.RoleName)
}

func (c *chain) trustIssuer(t *trustDoc) Check {
	a := c.in.AWS
	want := iam.OIDCProviderARN(a.Partition, a.AccountID, c.in.Cluster.OIDCIssuer)
	host := c.issuerHost()
	var problems []string
	if !slices.Contains(t.federated, want) {
		problems = append(problems, fmt.Sprintf("the role trusts %s, not this cluster's OIDC provider %s", printer.OrNone(strings.Join(t.federated, ", ")), want))
	}
	var other []string
	for _, h := range t.conditionHosts {
		if h != host {
			other = append(other, h)
		}
	}
	if len(other) > 0 {
		problems = append(problems, fmt.Sprintf("its conditions are on tokens of %s, not of this cluster's issuer %s", strings.Join(other, ", "), host))
	}
	if len(problems) == 0 {
		return Check{Name: CheckTrustIssuer, Result: OK, Message: want}
	}
	return Check{Name: CheckTrustIssuer, Result: Failed, Message: "another issuer",
		Cause: strings.Join(problems, "; ") + ", so STS refuses the cluster's tokens", Fix: c.trustFix()}
}

func (c *chain) trustSubjects(t *trustDoc) Check {
	want := iam.ServiceAccountSubjects(c.Namespace)
	var missing, extra []string
	for _, s := range want {
		if !slices.Contains(t.subjects, s) {
			missing = append(missing, s)
		}
	}
	for _, s := range t.subjects {
		if !slices.Contains(want, s) {
			extra = append(extra, s)
		}
	}
	if len(t.subjects) == 0 {
		return Check{Name: CheckTrustSubjects, Result: Failed, Message: "no sub condition",
			Cause: "the trust policy has no sub condition, so any service account of the cluster may assume the role",
			Fix:   c.trustFix()}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return Check{Name: CheckTrustSubjects, Result: OK, Message: strings.Join(want, ", ")}
	}
	var diff []string
	if len(missing) > 0 {
		diff = append(diff, "missing "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		diff = append(diff, "unexpected "+strings.Join(extra, ", "))
	}
	return Check{Name: CheckTrustSubjects, Result: Failed, Message: strings.Join(t.subjects, ", "),
		Cause: "the trusted subjects are not OADP's two service accounts in " + c.Namespace + ": " + strings.Join(diff, "; "),
		Fix:   c.trustFix()}
}

func (c *chain) trustAudience(t *trustDoc) Check {
	var wrong []string
	for _, a := range t.audiences {
		if a != awsfacts.OpenShiftAudience {
			wrong = append(wrong, a)
		}
	}
	switch {
	case len(wrong) > 0:
		return Check{Name: CheckTrustAudience, Result: Failed, Message: "aud " + strings.Join(t.audiences, ", "),
			Cause: fmt.Sprintf("the trust policy requires aud %s, but OpenShift's tokens carry aud %q, so STS answers \"Incorrect token audience\" (an EKS habit)",
				strings.Join(wrong, ", "), awsfacts.OpenShiftAudience),
			Fix: fmt.Sprintf("remove the aud condition (the OIDC provider's client ID already checks %q): %s", awsfacts.OpenShiftAudience, c.trustFix())}
	case len(t.audiences) > 0:
		return Check{Name: CheckTrustAudience, Result: OK, Message: "aud " + awsfacts.OpenShiftAudience}
	}
	return Check{Name: CheckTrustAudience, Result: OK, Message: "no aud condition; the OIDC provider's client ID checks " + awsfacts.OpenShiftAudience}
}

func (c *chain) policyARN() string {
	return iam.PolicyARN(c.in.AWS.Partition, c.in.AWS.AccountID, c.PolicyName)
}

func (c *chain) policyAttached() Check {
	want := c.policyARN()
	switch {
	case c.AttachedErr != nil:
		return Check{Name: CheckPolicyAttached, Result: Warning, Message: "cannot list the role's policies", Cause: c.AttachedErr.Error(),
			Fix: "grant the calling identity iam:ListAttachedRolePolicies"}
	case slices.Contains(c.Attached, want):
		return Check{Name: CheckPolicyAttached, Result: OK, Message: want}
	case c.Policy == nil && c.PolicyErr == nil:
		return Check{Name: CheckPolicyAttached, Result: Failed, Message: c.PolicyName + " missing",
			Cause: fmt.Sprintf("IAM has no policy %s, so the role may do nothing in S3", want),
			Fix:   "run '" + c.setupFix() + "' to create and attach it, or pass --policy-name if the policy has another name"}
	}
	return Check{Name: CheckPolicyAttached, Result: Failed, Message: "not attached",
		Cause: fmt.Sprintf("policy %s is not attached to role %s (attached: %s), so Velero is denied every S3 call", c.PolicyName, c.RoleName, printer.OrNone(strings.Join(c.Attached, ", "))),
		Fix:   fmt.Sprintf("aws iam attach-role-policy --role-name %s --policy-arn %s (or run '%s')", c.RoleName, want, c.setupFix())}
}

func (c *chain) policyActions() Check {
	switch {
	case c.PolicyErr != nil:
		return Check{Name: CheckPolicyActions, Result: Warning, Message: "cannot read policy " + c.PolicyName, Cause: c.PolicyErr.Error(),
			Fix: "grant the calling identity iam:GetPolicy and iam:GetPolicyVersion"}
	case c.Policy == nil:
		return Check{Name: CheckPolicyActions, Result: Skipped, Message: "no policy " + c.PolicyName}
	}
	if s := c.Scope(); s != nil {
		return c.scopedPolicyActions(s)
	}
	allowed, err := allowedActions(c.Policy.Document)
	if err != nil {
		return Check{Name: CheckPolicyActions, Result: Failed, Message: "unreadable document", Cause: err.Error(),
			Fix: "run '" + c.setupFix() + "' to put the chapter's document back"}
	}
	var missing []string
	for _, a := range iam.PermissionActions {
		if !allowed.allows(a) {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return Check{Name: CheckPolicyActions, Result: OK, Message: fmt.Sprintf("all %d actions of the chapter (version %s)", len(iam.PermissionActions), c.Policy.VersionID)}
	}
	return Check{Name: CheckPolicyActions, Result: Failed, Message: fmt.Sprintf("%d of %d actions missing", len(missing), len(iam.PermissionActions)),
		Cause: fmt.Sprintf("the default version (%s) of policy %s does not allow %s", c.Policy.VersionID, c.PolicyName, strings.Join(missing, ", ")),
		Fix:   "run '" + c.setupFix() + "' to make the chapter's document the default version again ('kubectl oadp-sts policy' prints it)"}
}

func (c *chain) roleTags() Check {
	id := c.in.Cluster.ID
	tags := iam.FromIAM(c.Role.Tags)
	owner, chapter := tags[iam.TagOwnerClusterID], tags[iam.TagClusterID]
	switch {
	case iam.Owned(c.Role.Tags, id) && (chapter == "" || chapter == id):
		return Check{Name: CheckRoleTags, Result: OK, Message: iam.TagOwnerClusterID + "=" + id}
	case owner != "" && owner != id, chapter != "" && chapter != id:
		other := owner
		if other == "" || other == id {
			other = chapter
		}
		return Check{Name: CheckRoleTags, Result: Failed, Message: "tagged for cluster " + other,
			Cause: fmt.Sprintf("role %s is tagged for cluster %s, and this cluster is %s: it is another cluster's role", c.RoleName, other, id),
			Fix:   "pass --role-name (or --cluster-name) with this cluster's role; retag the role only if it really is this cluster's"}
	}
	return Check{Name: CheckRoleTags, Result: Warning, Message: "no " + iam.TagOwnerClusterID + " tag",
		Cause: "the role was not made by this plugin (or its tags were removed), so 'kubectl oadp-sts cleanup' will leave it",
		Fix:   fmt.Sprintf("aws iam tag-role --role-name %s --tags Key=%s,Value=%s Key=%s,Value=%s if the role is this cluster's", c.RoleName, iam.TagOwnerClusterID, id, iam.TagManagedBy, iam.ManagedBy)}
}

// trustDoc is what a trust policy grants web-identity tokens.
type trustDoc struct {
	federated []string
	// conditionHosts are the issuer hosts the sub and aud keys name.
	conditionHosts []string
	subjects       []string
	// subjectPatterns are the StringLike subjects, matched as globs.
	subjectPatterns []string
	audiences       []string
}

// parseTrust reads the Allow statements for sts:AssumeRoleWithWebIdentity.
func parseTrust(doc string) (*trustDoc, error) {
	v, err := iam.DecodeDocument(doc)
	if err != nil {
		return nil, err
	}
	t := &trustDoc{}
	for _, st := range statements(v) {
		if str(st["Effect"]) != "Allow" || !matchesAny(strs(st["Action"]), "sts:AssumeRoleWithWebIdentity") {
			continue
		}
		if p, ok := st["Principal"].(map[string]any); ok {
			t.federated = appendNew(t.federated, strs(p["Federated"])...)
		}
		conds, _ := st["Condition"].(map[string]any)
		for op, kv := range conds {
			m, _ := kv.(map[string]any)
			for key, val := range m {
				host, claim, ok := strings.Cut(key, ":")
				if !ok {
					continue
				}
				switch claim {
				case "sub":
					t.conditionHosts = appendNew(t.conditionHosts, host)
					if strings.HasSuffix(op, "StringLike") {
						t.subjectPatterns = appendNew(t.subjectPatterns, strs(val)...)
					}
					t.subjects = appendNew(t.subjects, strs(val)...)
				case "aud":
					t.conditionHosts = appendNew(t.conditionHosts, host)
					t.audiences = appendNew(t.audiences, strs(val)...)
				}
			}
		}
	}
	sort.Strings(t.federated)
	sort.Strings(t.conditionHosts)
	return t, nil
}

// admits reports whether a token's claims satisfy the trust policy, and if
// not, why: the evaluation STS makes.
func (t *trustDoc) admits(issuerHost, sub string, aud []string, providerARN string) []string {
	var why []string
	if !slices.Contains(t.federated, providerARN) {
		why = append(why, "the role does not trust the token's issuer "+issuerHost)
	}
	subOK := slices.Contains(t.subjects, sub)
	for _, p := range t.subjectPatterns {
		if ok, _ := path.Match(p, sub); ok {
			subOK = true
		}
	}
	if !subOK {
		why = append(why, "the token's sub "+sub+" is not a trusted subject")
	}
	if len(t.audiences) > 0 {
		audOK := false
		for _, a := range aud {
			audOK = audOK || slices.Contains(t.audiences, a)
		}
		if !audOK {
			why = append(why, fmt.Sprintf("the token's aud %s is not the required %s", strings.Join(aud, ","), strings.Join(t.audiences, ",")))
		}
	}
	return why
}

// actionSet is the actions a policy allows, with IAM's wildcards.
type actionSet struct{ allow, deny []string }

func (s actionSet) allows(action string) bool {
	return matchesAny(s.allow, action) && !matchesAny(s.deny, action)
}

func allowedActions(doc string) (actionSet, error) {
	v, err := iam.DecodeDocument(doc)
	if err != nil {
		return actionSet{}, err
	}
	var s actionSet
	for _, st := range statements(v) {
		// A statement limited to some resources or conditions may still cover
		// the bucket; only Resource "*" statements without conditions are sure.
		acts := strs(st["Action"])
		switch str(st["Effect"]) {
		case "Allow":
			s.allow = append(s.allow, acts...)
		case "Deny":
			if st["Condition"] == nil {
				s.deny = append(s.deny, acts...)
			}
		}
	}
	return s, nil
}

// matchesAny matches an action against IAM patterns: case-insensitive, with *
// and ? wildcards.
func matchesAny(patterns []string, action string) bool {
	a := strings.ToLower(action)
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), a); ok {
			return true
		}
	}
	return false
}

func statements(doc any) []map[string]any {
	m, _ := doc.(map[string]any)
	var out []map[string]any
	switch st := m["Statement"].(type) {
	case map[string]any:
		out = append(out, st)
	case []any:
		for _, e := range st {
			if s, ok := e.(map[string]any); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// strs reads a policy value that is a string or a list of strings.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}
