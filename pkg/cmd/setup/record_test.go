package setup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	rec "github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

// What setup is given the first time, none of it a default.
var custom = struct{ cluster, role, policy, bucket, dpa string }{
	cluster: "mycluster", role: "mycluster" + iam.RoleSuffix, policy: "OadpMycluster", bucket: "mycluster-backups", dpa: "mycluster-velero",
}

func setupCustom(t *testing.T) {
	t.Helper()
	setupYes(t, "--cluster-name", custom.cluster, "--policy-name", custom.policy, "--bucket", custom.bucket, "--dpa-name", custom.dpa)
}

// A rerun of setup with no flags finds the names the first run was given in
// the namespace's record, and converges to them: no AWS change at all, no
// second role, CloudStorage or DPA.
func TestSetupRerunWithoutFlagsUsesTheRecord(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	setupCustom(t)

	nsObj, err := r.Kube.CoreV1().Namespaces().Get(ctx, "openshift-adp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		rec.AnnotationClusterName:  custom.cluster,
		rec.AnnotationRoleARN:      iam.RoleARN("aws", rig.AWSAccount, "/", custom.role),
		rec.AnnotationPolicyName:   custom.policy,
		rec.AnnotationBucket:       custom.bucket,
		rec.AnnotationCloudStorage: custom.bucket,
		rec.AnnotationDPA:          custom.dpa,
	}
	for k, v := range want {
		if got := nsObj.Annotations[k]; got != v {
			t.Errorf("namespace annotation %s = %q, want %q", k, got, v)
		}
	}

	stop := record(t, r)
	res := setupYes(t)
	reqs := stop()
	if m := mutating(reqs); len(m) != 0 {
		t.Errorf("a rerun without flags changed AWS: %v\nstderr:\n%s", m, res.Stderr)
	}
	for _, w := range []string{"role " + custom.role + ": unchanged", "policy " + custom.policy + ": unchanged",
		"dataprotectionapplication/" + custom.dpa + " unchanged", "cloudstorage/" + custom.bucket + " unchanged", "using what an earlier setup made"} {
		if !strings.Contains(res.Stderr, w) {
			t.Errorf("rerun stderr lacks %q:\n%s", w, res.Stderr)
		}
	}
	// Read back: still one of each, with the first run's names.
	for _, c := range []struct {
		res  schema.GroupVersionResource
		want string
	}{{gvr.DPA, custom.dpa}, {gvr.CloudStorage, custom.bucket}} {
		var l []string
		list, err := r.Dynamic.Resource(c.res).Namespace("openshift-adp").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			l = append(l, o.GetName())
		}
		if len(l) != 1 || l[0] != c.want {
			t.Errorf("%s after the rerun: %v, want only %s", c.res, l, c.want)
		}
	}
	roles, err := r.IAM().ListRoles(ctx, &awsiam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles.Roles) != 1 || aws.ToString(roles.Roles[0].RoleName) != custom.role {
		t.Errorf("roles after the rerun: %d, want only %s", len(roles.Roles), custom.role)
	}
	sec, err := r.Kube.CoreV1().Secrets("openshift-adp").Get(ctx, manifests.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sec.Data[manifests.SecretKey]), "role_arn = "+want[rec.AnnotationRoleARN]) {
		t.Errorf("the secret's profile does not name the recorded role:\n%s", sec.Data[manifests.SecretKey])
	}
}

// A flag that names another object than the record is refused, naming both,
// before anything is changed in AWS or the cluster.
func TestSetupRefusesAFlagAgainstTheRecord(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	setupCustom(t)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--role-name", "other-role"}, []string{"--role-name other-role", custom.role, rec.AnnotationRoleARN}},
		{[]string{"--cluster-name", "prod"}, []string{"--cluster-name prod", custom.cluster, rec.AnnotationClusterName}},
		{[]string{"--dpa-name", "second"}, []string{"--dpa-name second", custom.dpa}},
		{[]string{"--policy-name", iam.DefaultPolicyName}, []string{"--policy-name " + iam.DefaultPolicyName, custom.policy}},
	} {
		stopKube := r.RecordKube("kubectl-oadp_sts/")
		stop := record(t, r)
		res := clitest.Run(t, append([]string{"setup", "--yes", "--wait=false"}, tc.args...)...)
		reqs := stop()
		kreqs, err := stopKube()
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != exitcode.Error {
			t.Errorf("setup %v: exit %d, want %d", tc.args, res.Code, exitcode.Error)
		}
		for _, w := range append(tc.want, "error: ", "drop "+tc.args[0]) {
			if !strings.Contains(res.Stderr, w) {
				t.Errorf("setup %v: stderr lacks %q:\n%s", tc.args, w, res.Stderr)
			}
		}
		if m := mutating(reqs); len(m) != 0 {
			t.Errorf("setup %v changed AWS: %v", tc.args, m)
		}
		for _, q := range kreqs {
			if q.Mutating() {
				t.Errorf("setup %v changed the cluster: %s %s/%s", tc.args, q.Verb, q.Resource, q.Name)
			}
		}
	}
	nothingCreated(t, r, custom.role, custom.policy)
}

// A role given by --role-arn is recorded as such: a rerun without flags
// hands OADP the same role and still leaves IAM alone.
func TestSetupRerunKeepsARoleGivenByARN(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	arn := iam.RoleARN("aws", rig.AWSAccount, "/", "made-by-hand")
	setupYes(t, "--role-arn", arn)
	stop := record(t, r)
	res := setupYes(t)
	reqs := stop()
	for _, a := range actions(reqs) {
		if a != "GetCallerIdentity" {
			t.Errorf("the rerun called IAM (%v), want only the caller's identity: the role was given, not made", actions(reqs))
			break
		}
	}
	if !strings.Contains(res.Stderr, "using role "+arn+" (given to an earlier setup with --role-arn") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	nothingCreated(t, r)
}
