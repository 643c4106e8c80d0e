package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
)

// Action is what a step does.
type Action string

const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
)

// Step is one object of the plan: the policy, the role, or the attachment.
type Step struct {
	Kind   string // "policy", "role", "attachment"
	Name   string
	Action Action
	// Changes name what an update changes ("document", "tags operator_name").
	Changes []string

	apply func(ctx context.Context, c awsclient.IAMAPI) error
}

// Line is the step's one-line report: done after Apply, planned before it.
func (s *Step) Line(done bool) string {
	var verb string
	switch {
	case s.Action == Unchanged:
		verb = "unchanged"
	case done && s.Action == Create:
		verb = "created"
	case done:
		verb = "updated"
	case s.Action == Create:
		verb = "would create"
	default:
		verb = "would update"
	}
	if len(s.Changes) > 0 {
		verb += " (" + strings.Join(s.Changes, ", ") + ")"
	}
	return fmt.Sprintf("%s %s: %s", s.Kind, s.Name, verb)
}

// Plan is what Apply would change, step by step, in order.
type Plan struct {
	Spec  *Spec
	Steps []*Step
	// Assumed is set when IAM was not read (offline): the plan is the one for
	// an account that has none of the objects yet.
	Assumed bool
}

// Changes reports whether applying the plan would change anything.
func (p *Plan) Changes() bool {
	for _, s := range p.Steps {
		if s.Action != Unchanged {
			return true
		}
	}
	return false
}

// TrustChanged reports whether applying the plan creates the role or
// changes its trust policy: STS may refuse the role until IAM has
// propagated that.
func (p *Plan) TrustChanged() bool {
	for _, s := range p.Steps {
		if s.Kind == "role" && (s.Action == Create || slices.Contains(s.Changes, "trust policy")) {
			return true
		}
	}
	return false
}

// FreshPlan is the plan for an account that has nothing yet; it reads nothing.
func FreshPlan(s *Spec) *Plan {
	return &Plan{Spec: s, Assumed: true, Steps: []*Step{
		createPolicy(s), createRole(s), attach(s, true),
	}}
}

// NewPlan reads IAM (GetPolicy on the policy's ARN, GetRole, the role's
// attached policies, and what they lead to) and returns the steps that
// converge it to s. It changes nothing. The three reads go out at once: the
// attachment is listed by the role's name alone, before it is known whether
// the role exists, so a converged account costs two IAM round trips (the
// policy's default version needs GetPolicy's answer) and a fresh one one.
func NewPlan(ctx context.Context, c awsclient.IAMAPI, s *Spec) (*Plan, error) {
	var (
		wg                      sync.WaitGroup
		polStep, roleStep       *Step
		attached                bool
		polErr, roleErr, attErr error
	)
	wg.Go(func() { polStep, polErr = planPolicy(ctx, c, s) })
	wg.Go(func() { roleStep, roleErr = planRole(ctx, c, s) })
	wg.Go(func() { attached, attErr = isAttached(ctx, c, s) })
	wg.Wait()
	if err := errors.Join(polErr, roleErr); err != nil {
		return nil, err
	}
	att := attach(s, true)
	if polStep.Action != Create && roleStep.Action != Create {
		if attErr != nil {
			return nil, attErr
		}
		att = attach(s, !attached)
	}
	return &Plan{Spec: s, Steps: []*Step{polStep, roleStep, att}}, nil
}

// Apply makes the plan's changes: the policy and the role at once, then the
// attachment. report is called with each step as it completes.
func (p *Plan) Apply(ctx context.Context, c awsclient.IAMAPI, report func(*Step)) error {
	if len(p.Steps) != 3 {
		return errors.New("internal error: a plan has three steps")
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, st := range p.Steps[:2] {
		wg.Go(func() {
			if st.Action != Unchanged {
				errs[i] = st.apply(ctx, c)
			}
		})
	}
	wg.Wait()
	for i, st := range p.Steps[:2] {
		if errs[i] == nil {
			report(st)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	st := p.Steps[2]
	if st.Action != Unchanged {
		if err := st.apply(ctx, c); err != nil {
			return err
		}
	}
	report(st)
	return nil
}

func planPolicy(ctx context.Context, c awsclient.IAMAPI, s *Spec) (*Step, error) {
	out, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &s.PolicyARN})
	if awsclient.IsNotFound(err) {
		return createPolicy(s), nil
	}
	if err != nil {
		return nil, awsclient.Explain("read the IAM policy "+s.PolicyARN, err)
	}
	st := &Step{Kind: "policy", Name: s.PolicyName, Action: Unchanged}
	ver, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &s.PolicyARN, VersionId: out.Policy.DefaultVersionId})
	if err != nil {
		return nil, awsclient.Explain("read the default version of IAM policy "+s.PolicyARN, err)
	}
	same, err := Equal(aws.ToString(ver.PolicyVersion.Document), s.Policy)
	if err != nil {
		return nil, fmt.Errorf("IAM policy %s: %w", s.PolicyARN, err)
	}
	var newDoc bool
	if !same {
		newDoc = true
		st.Changes = append(st.Changes, "document")
	}
	// The policy may be shared by every cluster of the account, so existing
	// tags are left as they are: only missing ones are added.
	missing := FromIAM(out.Policy.Tags).Missing(s.PolicyTags, false)
	if len(missing) > 0 {
		st.Changes = append(st.Changes, "tags "+strings.Join(missing.Keys(), ","))
	}
	if len(st.Changes) == 0 {
		return st, nil
	}
	st.Action = Update
	st.apply = func(ctx context.Context, c awsclient.IAMAPI) error {
		if newDoc {
			if err := newDefaultVersion(ctx, c, s); err != nil {
				return err
			}
		}
		if len(missing) > 0 {
			if _, err := c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: &s.PolicyARN, Tags: missing.IAM()}); err != nil {
				return awsclient.Explain("tag the IAM policy "+s.PolicyARN, err)
			}
		}
		return nil
	}
	return st, nil
}

// maxPolicyVersions is IAM's limit on versions per managed policy.
const maxPolicyVersions = 5

func newDefaultVersion(ctx context.Context, c awsclient.IAMAPI, s *Spec) error {
	vs, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: &s.PolicyARN})
	if err != nil {
		return awsclient.Explain("list the versions of IAM policy "+s.PolicyARN, err)
	}
	if len(vs.Versions) >= maxPolicyVersions {
		var old []types.PolicyVersion
		for _, v := range vs.Versions {
			if !v.IsDefaultVersion {
				old = append(old, v)
			}
		}
		sort.Slice(old, func(i, j int) bool { return aws.ToTime(old[i].CreateDate).Before(aws.ToTime(old[j].CreateDate)) })
		if len(old) > 0 {
			if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &s.PolicyARN, VersionId: old[0].VersionId}); err != nil {
				return awsclient.Explain("delete the oldest version of IAM policy "+s.PolicyARN+" (IAM keeps at most 5)", err)
			}
		}
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
		PolicyArn: &s.PolicyARN, PolicyDocument: aws.String(s.Policy.JSON()), SetAsDefault: true,
	})
	return awsclient.Explain("create a new default version of IAM policy "+s.PolicyARN, err)
}

func createPolicy(s *Spec) *Step {
	return &Step{Kind: "policy", Name: s.PolicyName, Action: Create, apply: func(ctx context.Context, c awsclient.IAMAPI) error {
		_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{
			PolicyName:     &s.PolicyName,
			PolicyDocument: aws.String(s.Policy.JSON()),
			Tags:           s.PolicyTags.With(s.OwnerTags).IAM(),
		})
		if awsclient.ErrorCode(err) == "EntityAlreadyExists" {
			return fmt.Errorf("an IAM policy named %s exists under a path other than \"/\", so %s was not found: set another --policy-name", s.PolicyName, s.PolicyARN)
		}
		return awsclient.Explain("create the IAM policy "+s.PolicyName, err)
	}}
}

func planRole(ctx context.Context, c awsclient.IAMAPI, s *Spec) (*Step, error) {
	out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &s.RoleName})
	if awsclient.IsNotFound(err) {
		return createRole(s), nil
	}
	if err != nil {
		return nil, awsclient.Explain("read the IAM role "+s.RoleName, err)
	}
	role := out.Role
	if p := aws.ToString(role.Path); p != s.RolePath {
		return nil, fmt.Errorf("the IAM role %s exists with path %s, not %s: IAM cannot move a role, so set --role-path %s, or another --role-name", s.RoleName, p, s.RolePath, p)
	}
	tags := FromIAM(role.Tags)
	for _, k := range []string{TagClusterID, TagOwnerClusterID} {
		if v, ok := tags[k]; ok && s.ClusterID != "" && v != s.ClusterID {
			return nil, fmt.Errorf("the IAM role %s belongs to another cluster (tag %s=%s, this cluster is %s): set another --role-name or --cluster-name; each cluster needs its own role", s.RoleName, k, v, s.ClusterID)
		}
	}
	st := &Step{Kind: "role", Name: s.RoleName, Action: Unchanged}
	sameTrust, err := Equal(aws.ToString(role.AssumeRolePolicyDocument), s.Trust)
	if err != nil {
		return nil, fmt.Errorf("trust policy of IAM role %s: %w", s.RoleName, err)
	}
	if !sameTrust {
		st.Changes = append(st.Changes, "trust policy")
	}
	// The role is this cluster's alone, so its tags follow the cluster (an
	// upgrade changes openshift_version).
	missing := tags.Missing(s.RoleTags, true)
	if len(missing) > 0 {
		st.Changes = append(st.Changes, "tags "+strings.Join(missing.Keys(), ","))
	}
	var curBoundary string
	if role.PermissionsBoundary != nil {
		curBoundary = aws.ToString(role.PermissionsBoundary.PermissionsBoundaryArn)
	}
	switch {
	case curBoundary == s.PermissionsBoundary:
	case s.PermissionsBoundary == "":
		st.Changes = append(st.Changes, "permissions boundary removed")
	default:
		st.Changes = append(st.Changes, "permissions boundary "+s.PermissionsBoundary)
	}
	if len(st.Changes) == 0 {
		return st, nil
	}
	st.Action = Update
	st.apply = func(ctx context.Context, c awsclient.IAMAPI) error {
		if !sameTrust {
			if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &s.RoleName, PolicyDocument: aws.String(s.Trust.JSON())}); err != nil {
				return awsclient.Explain("update the trust policy of IAM role "+s.RoleName, err)
			}
		}
		if len(missing) > 0 {
			if _, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: &s.RoleName, Tags: missing.IAM()}); err != nil {
				return awsclient.Explain("tag the IAM role "+s.RoleName, err)
			}
		}
		switch {
		case curBoundary == s.PermissionsBoundary:
		case s.PermissionsBoundary == "":
			if _, err := c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: &s.RoleName}); err != nil {
				return awsclient.Explain("remove the permissions boundary of IAM role "+s.RoleName, err)
			}
		default:
			if _, err := c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: &s.RoleName, PermissionsBoundary: &s.PermissionsBoundary}); err != nil {
				return awsclient.Explain("set the permissions boundary of IAM role "+s.RoleName, err)
			}
		}
		return nil
	}
	return st, nil
}

func createRole(s *Spec) *Step {
	return &Step{Kind: "role", Name: s.RoleName, Action: Create, apply: func(ctx context.Context, c awsclient.IAMAPI) error {
		in := &iam.CreateRoleInput{
			RoleName:                 &s.RoleName,
			Path:                     &s.RolePath,
			AssumeRolePolicyDocument: aws.String(s.Trust.JSON()),
			Tags:                     s.RoleTags.With(s.OwnerTags).IAM(),
		}
		if s.PermissionsBoundary != "" {
			in.PermissionsBoundary = &s.PermissionsBoundary
		}
		// An OIDC provider created moments ago can be unknown to the IAM
		// endpoint that validates the trust policy's principal.
		err := retryEventual(ctx, func() error { _, err := c.CreateRole(ctx, in); return err }, func(err error) bool {
			return awsclient.ErrorCode(err) == "MalformedPolicyDocument" && strings.Contains(err.Error(), "principal")
		})
		return awsclient.Explain("create the IAM role "+s.RoleName, err)
	}}
}

func isAttached(ctx context.Context, c awsclient.IAMAPI, s *Spec) (bool, error) {
	return IsAttached(ctx, c, s.RoleName, s.PolicyARN)
}

// IsAttached reports whether the managed policy policyARN is attached to the
// role, reading every page of its attached policies. A role that does not
// exist yet has nothing attached: the plan creates it and then attaches.
func IsAttached(ctx context.Context, c iam.ListAttachedRolePoliciesAPIClient, role, policyARN string) (bool, error) {
	pages := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if awsclient.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, awsclient.Explain("list the policies attached to IAM role "+role, err)
		}
		for _, p := range out.AttachedPolicies {
			if aws.ToString(p.PolicyArn) == policyARN {
				return true, nil
			}
		}
	}
	return false, nil
}

func attach(s *Spec, needed bool) *Step {
	st := &Step{Kind: "attachment", Name: s.PolicyName + " to " + s.RoleName, Action: Unchanged}
	if !needed {
		return st
	}
	st.Action = Create
	st.apply = func(ctx context.Context, c awsclient.IAMAPI) error {
		// A role or policy created moments ago may not be visible yet to the
		// endpoint that attaches.
		err := retryEventual(ctx, func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &s.RoleName, PolicyArn: &s.PolicyARN})
			return err
		}, awsclient.IsNotFound)
		return awsclient.Explain("attach IAM policy "+s.PolicyARN+" to role "+s.RoleName, err)
	}
	return st
}

// eventualBackoff bounds the retries of IAM's eventual consistency: IAM
// documents that changes can take seconds to be visible everywhere. Seven
// attempts over about 13 seconds (no Cap: wait.Backoff stops at its cap).
var eventualBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 7}

// retryEventual calls f until it succeeds, fails with an error transient
// says is not eventual consistency, the attempts run out (f's last error
// is returned), or ctx ends. Throttling is not handled here: the SDK's
// retryer already retries it.
func retryEventual(ctx context.Context, f func() error, transient func(error) bool) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, eventualBackoff, func(context.Context) (bool, error) {
		last = f()
		if last != nil && !transient(last) {
			return false, last
		}
		return last == nil, nil
	})
	if wait.Interrupted(err) && ctx.Err() == nil {
		return last
	}
	return err
}
