package setup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// appliedLine is the line setup prints once a cluster object is written.
var appliedLine = regexp.MustCompile(`^[a-z]+/\S+ (created|configured|unchanged)$`)

// runPlugin runs the built plugin with AWS behind p; afterwards p's
// AfterMutating hook is cleared for the next run.
func runPlugin(t *testing.T, bin string, p *faults.Proxy, killAt func(line string) bool, onStart func(*exec.Cmd), args ...string) clitest.Process {
	t.Helper()
	out := clitest.RunProcess(t, bin, killAt, onStart, args...)
	if p != nil {
		p.AfterMutating(nil)
	}
	return out
}

// converged is everything setup leaves, with the namespace's name replaced
// so runs in different namespaces compare; counts show duplicates.
func converged(t *testing.T, r *rig.Rig, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := clusterObjects(t, r, ns)
	s := readState(t, r)
	norm := func(v string) string { return strings.ReplaceAll(v, ns, "NS") }
	out["iam policy"] = norm(fmt.Sprintf("exists=%v versions=%d tags=%v", s.policyExists, s.policyVersions, s.policyTags))
	out["iam policy document"] = s.policyDoc
	out["iam role"] = norm(fmt.Sprintf("exists=%v tags=%v path=%s boundary=%s attached=%v", s.roleExists, s.roleTags, s.rolePath, s.boundary, s.attached))
	out["iam trust"] = norm(s.trustDoc)
	c := r.IAM()
	pols, err := c.ListPolicies(ctx, &awsiam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})
	must(t, err)
	roles, err := c.ListRoles(ctx, &awsiam.ListRolesInput{})
	must(t, err)
	att, err := c.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(roleName)})
	must(t, err)
	out["iam counts"] = fmt.Sprintf("policies=%d roles=%d attached=%d", len(pols.Policies), len(roles.Roles), len(att.AttachedPolicies))
	for _, g := range []schema.GroupVersionResource{gvr.Secret, gvr.CloudStorage, gvr.DPA, gvr.Subscription, gvr.OperatorGroup} {
		l, err := r.Dynamic.Resource(g).Namespace(ns).List(ctx, metav1.ListOptions{})
		must(t, err)
		out["count "+g.Resource] = fmt.Sprint(len(l.Items))
	}
	return out
}

// setup is SIGKILLed after each of its mutating steps in turn: after each
// mutating AWS call has been carried out (before the plugin reads the
// answer) and after each cluster object's line. Every time, the next setup
// converges to the state of an uninterrupted run, with nothing duplicated.
func TestSetupConvergesAfterBeingKilledAtEveryStep(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	bin := clitest.Binary(t)
	p := faults.Front(t, r.AWSEndpoint, faults.Options{})
	setup := func(ns string) []string {
		return []string{"setup", "--yes", "--wait=false", "--cloudstorage", "-n", ns}
	}

	// The uninterrupted run: the reference state and the steps to kill at.
	var awsSteps []string
	var mu sync.Mutex
	p.AfterMutating(func(q faults.Request) { mu.Lock(); awsSteps = append(awsSteps, q.Action); mu.Unlock() })
	ref := runPlugin(t, bin, p, nil, nil, setup("intr-ref")...)
	if ref.Code != 0 {
		t.Fatalf("uninterrupted setup: exit %d\n%s", ref.Code, strings.Join(ref.Lines, "\n"))
	}
	want := converged(t, r, "intr-ref")
	var kubeSteps []string
	for _, l := range ref.Lines {
		if appliedLine.MatchString(l) {
			kubeSteps = append(kubeSteps, strings.Fields(l)[0])
		}
	}
	if len(awsSteps) < 3 || len(kubeSteps) < 4 {
		t.Fatalf("steps: AWS %v, cluster %v; want at least the policy, role and attachment, and namespace, secret, CloudStorage, DPA", awsSteps, kubeSteps)
	}
	t.Logf("killing after each of AWS %v and cluster %v", awsSteps, kubeSteps)

	check := func(t *testing.T, ns string, killed clitest.Process) {
		if !killed.Killed {
			t.Fatalf("the plugin was not killed (exit %d)", killed.Code)
		}
		again := runPlugin(t, bin, p, nil, nil, setup(ns)...)
		if again.Code != 0 {
			t.Fatalf("setup after the kill: exit %d\n%s", again.Code, strings.Join(again.Lines, "\n"))
		}
		got := converged(t, r, ns)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s after the kill:\n%s\nuninterrupted:\n%s", k, got[k], v)
			}
		}
		if !reflect.DeepEqual(keys(got), keys(want)) {
			t.Errorf("state keys %v, want %v", keys(got), keys(want))
		}
	}
	for k := 1; k <= len(awsSteps); k++ {
		t.Run(fmt.Sprintf("after AWS call %d", k), func(t *testing.T) {
			if err := r.ResetAWS(context.Background()); err != nil {
				t.Fatal(err)
			}
			ns := fmt.Sprintf("intr-aws-%d", k)
			killed := runPlugin(t, bin, p, nil, func(c *exec.Cmd) {
				p.AfterMutating(func(q faults.Request) {
					if q.N == k {
						t.Logf("killing after %s", q.Action)
						if err := c.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
							t.Error(err)
						}
					}
				})
			}, setup(ns)...)
			check(t, ns, killed)
		})
	}
	for i, step := range kubeSteps {
		t.Run("after "+strings.SplitN(step, "/", 2)[0], func(t *testing.T) {
			if err := r.ResetAWS(context.Background()); err != nil {
				t.Fatal(err)
			}
			ns := fmt.Sprintf("intr-kube-%d", i)
			prefix := strings.ReplaceAll(step, "intr-ref", ns) + " "
			killed := runPlugin(t, bin, p, func(l string) bool { return strings.HasPrefix(l, prefix) }, nil, setup(ns)...)
			check(t, ns, killed)
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
