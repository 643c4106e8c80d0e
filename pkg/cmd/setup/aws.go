package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// iamRead is IAM as startIAMRead found it, and the client that read it (nil
// when nothing was read).
type iamRead struct {
	plan *iam.Plan
	c    awsclient.IAMAPI
}

// startIAMRead reads IAM from a goroutine of its own, printing nothing and
// changing nothing, so that the cluster's checks go on meanwhile; the func
// it returns waits for the read. A dry run with every fact from flags reads
// nothing: its plan creates everything.
func (o *Options) startIAMRead(ctx context.Context) func() (iamRead, error) {
	spec, err := o.iamSpec()
	switch {
	case err != nil:
		return func() (iamRead, error) { return iamRead{}, err }
	case o.dryRun() && !o.facts.AWSRead && !o.facts.ClusterRead:
		return func() (iamRead, error) { return iamRead{plan: iam.FreshPlan(spec)}, nil }
	}
	var (
		r    iamRead
		rerr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		cfg, err := o.factory.AWSConfig(ctx)
		if err != nil {
			rerr = err
			return
		}
		c := awsclient.New(cfg).IAM
		r.plan, rerr = o.readIAM(ctx, c, spec)
		r.c = c
	}()
	return func() (iamRead, error) { <-done; return r, rerr }
}

// runAWS converges the IAM policy, the role and the attachment, or in a dry
// run prints what it would do, and returns the role's ARN either way: the ARN
// follows from the account, path and name, so the cluster side can be
// planned before the role exists. read is IAM's read (startIAMRead); ready
// is called once it ended and before anything is printed or changed: the
// bucket's plan, read meanwhile.
func (o *Options) runAWS(ctx context.Context, read func() (iamRead, error), ready func() error) (string, error) {
	log := o.ErrOut
	spec, err := o.iamSpec()
	if err != nil {
		return "", err
	}
	if err := o.checkCluster(); err != nil {
		return "", err
	}
	r, err := read()
	if rerr := ready(); rerr != nil {
		return "", rerr
	}
	if err != nil {
		return "", err
	}
	plan := r.plan
	if r.c != nil {
		if newSpec, changed, err := o.rescope(spec); err != nil {
			return "", err
		} else if changed {
			// One more IAM read, only for a --bucket that turned out to be
			// another cluster's: the plan read was for a writer's scope.
			spec = newSpec
			if plan, err = iam.NewPlan(ctx, r.c, spec); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(log, "oidc provider %s: found\n", iam.OIDCProviderARN(o.facts.Identity.Partition, o.facts.Identity.AccountID, o.facts.Cluster.OIDCIssuer))
		if !o.dryRun() {
			return spec.RoleARN, o.apply(ctx, r.c, plan)
		}
	}

	if o.DryRun == DryRunServer {
		fmt.Fprintln(log, "AWS has no server-side dry run: IAM is only read, as with --dry-run=client")
	}
	if plan.Assumed {
		fmt.Fprintln(log, "plan from flags only, AWS not read: assuming none of the objects exists yet")
	}
	for _, st := range plan.Steps {
		fmt.Fprintln(log, st.Line(false))
	}
	fmt.Fprintf(log, "role ARN: %s\n", spec.RoleARN)
	if o.OutputDir != "" {
		dir := o.OutputDir
		if o.planPerCluster {
			// Several clusters into one --output-dir: each plan its own
			// directory, beside the GitOps clusters/ of the same names.
			dir = filepath.Join(o.OutputDir, "iam", cmp.Or(o.facts.Cluster.Name, o.facts.Cluster.ID))
		}
		files, err := iam.WriteCLIInputs(dir, spec)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(log, "wrote the IAM plan to %s; apply it in this order:\n", dir)
		for _, f := range files {
			fmt.Fprintf(log, "  %s\n", f.Command)
		}
	}
	fmt.Fprintln(log, "dry run: AWS not changed")
	return spec.RoleARN, nil
}

// readIAM checks the OIDC provider and reads the plan at once: both only
// read, and each needs nothing but the account ID, so together they cost one
// IAM round trip where one after the other cost two. A missing provider is
// the error reported, whatever the plan's reads met: it is the cause.
//
// The dependency graph of setup's AWS calls, which hack/bench measures
// against: GetCallerIdentity (the account ID) -> {GetOpenIDConnectProvider,
// GetPolicy, GetRole, ListAttachedRolePolicies, the bucket's reads} ->
// {GetPolicyVersion | CreatePolicy, CreateRole, CreateBucket} ->
// {AttachRolePolicy, the bucket's settings}.
func (o *Options) readIAM(ctx context.Context, c awsclient.IAMAPI, spec *iam.Spec) (*iam.Plan, error) {
	var (
		plan             *iam.Plan
		provErr, planErr error
		wg               sync.WaitGroup
	)
	wg.Go(func() { provErr = o.checkProvider(ctx, c) })
	wg.Go(func() { plan, planErr = iam.NewPlan(ctx, c, spec) })
	wg.Wait()
	if provErr != nil {
		return nil, provErr
	}
	return plan, planErr
}

// apply asks (or refuses) when the plan changes anything, then applies it.
func (o *Options) apply(ctx context.Context, c awsclient.IAMAPI, plan *iam.Plan) error {
	log := o.ErrOut
	bucketChanges := o.Store.plan != nil && o.Store.plan.Changes()
	if (plan.Changes() || bucketChanges) && !o.Yes {
		if !o.isTerminal() {
			for _, st := range plan.Steps {
				fmt.Fprintln(log, st.Line(false))
			}
			if bucketChanges {
				fmt.Fprintln(log, o.Store.plan.Line(false))
			}
			return fmt.Errorf("setup would change IAM in AWS account %s and there is no terminal to confirm it: rerun with --yes to apply, or with --dry-run=client or --output-dir DIR to only see the plan",
				o.facts.Identity.AccountID)
		}
		ok, err := o.confirm(plan)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("setup cancelled: AWS not changed")
		}
	}
	// The bucket is made and hardened while IAM converges: neither needs
	// the other. Its settings go out with the attachment: Apply reports the
	// policy and the role together, once both have answered.
	iamCreated := make(chan struct{})
	created := sync.OnceFunc(func() { close(iamCreated) })
	bucketDone := o.startBucket(ctx, iamCreated)
	var lines []string
	err := plan.Apply(ctx, c, func(st *iam.Step) { created(); lines = append(lines, st.Line(true)) })
	created()
	berr := bucketDone()
	for _, l := range lines {
		fmt.Fprintln(log, l)
	}
	if err != nil {
		return err
	}
	if berr != nil {
		return berr
	}
	if plan.TrustChanged() {
		o.trustChanged = time.Now()
	}
	fmt.Fprintf(log, "role ARN: %s\n", plan.Spec.RoleARN)
	return nil
}

// confirm prints the plan (the bucket's too) and reads y/N from In.
func (o *Options) confirm(plan *iam.Plan) (bool, error) {
	for _, st := range plan.Steps {
		fmt.Fprintln(o.ErrOut, st.Line(false))
	}
	if p := o.Store.plan; p != nil && p.Changes() {
		fmt.Fprintln(o.ErrOut, p.Line(false))
		return confirmAWS(o), nil
	}
	return cmdutil.Confirm(o.In, o.ErrOut, fmt.Sprintf("Change IAM in AWS account %s?", o.facts.Identity.AccountID)), nil
}

// iamSpec builds the desired IAM state from the facts; every name is checked
// here, before the first AWS call.
func (o *Options) iamSpec() (*iam.Spec, error) {
	f := o.facts
	role := o.RoleName
	if role == "" {
		if f.Cluster.Name == "" {
			return nil, errors.New("no cluster name to build the role name from: set --cluster-name or --role-name")
		}
		role = iam.DefaultRoleName(f.Cluster.Name)
	}
	if f.Cluster.OIDCIssuer == "" && !f.ClusterRead {
		return nil, errors.New("no OIDC issuer: set --oidc-issuer, or let setup read it from the cluster")
	}
	return iam.NewSpec(iam.Inputs{
		Partition:           f.Identity.Partition,
		AccountID:           f.Identity.AccountID,
		OIDCIssuer:          f.Cluster.OIDCIssuer,
		Namespace:           o.factory.Namespace(),
		ClusterID:           f.Cluster.ID,
		OpenShiftVersion:    f.Cluster.Version,
		PolicyName:          o.PolicyName,
		RoleName:            role,
		RolePath:            o.RolePath,
		PermissionsBoundary: o.PermissionsBoundary,
		Scope:               o.scope(),
	})
}

// checkCluster refuses a cluster that is not an AWS STS cluster, with the
// status command's cause and fix. A cluster known only from flags is trusted.
func (o *Options) checkCluster() error {
	if !o.facts.ClusterRead {
		return nil
	}
	rep := status.Build(status.Inputs{Cluster: &o.facts.Cluster})
	failed := rep.Failed()
	if len(failed) == 0 {
		return nil
	}
	why := make([]string, len(failed))
	for i, c := range failed {
		why[i] = fmt.Sprintf("%s: %s; fix: %s", c.Name, c.Cause, c.Fix)
	}
	return fmt.Errorf("this cluster is not an AWS STS cluster, so setup changes nothing:\n  %s", strings.Join(why, "\n  "))
}

// checkProvider stops early when IAM does not know the cluster's issuer: the
// role would be created but never assumable.
func (o *Options) checkProvider(ctx context.Context, c awsclient.IAMAPI) error {
	f := o.facts
	af, err := awsfacts.DiscoverProvider(ctx, c, f.Identity, f.Cluster.OIDCIssuer)
	if err != nil {
		return err
	}
	switch {
	case !af.OIDCProviderExists:
		return fmt.Errorf("IAM has no OIDC provider %s for the cluster's issuer in account %s, so the role could never be assumed: %s",
			af.OIDCProviderARN, f.Identity.AccountID, awsfacts.CreateProviderHint(f.Cluster.OIDCIssuer))
	case !af.HasOpenShiftAudience():
		return fmt.Errorf("the OIDC provider %s does not list the client ID \"openshift\", the audience of OpenShift's tokens: run 'aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn %s --client-id openshift'",
			af.OIDCProviderARN, af.OIDCProviderARN)
	}
	return nil
}
