package status_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// A second cluster set up by the plugin on the same OIDC issuer (a
// registered ROSA OIDC configuration reused) leaves a role in moto's IAM
// trusting that issuer: status reads it with ListRoles and says so, a
// failure while that role trusts this namespace's velero too (each cluster's
// velero could assume the other's role), a warning once it trusts only
// another namespace's. With no such role the check is ok (the every-check
// test), and a role of another issuer is not reported.
func TestStatusReportsAnotherRoleOnTheSameIssuer(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "status-shared"
	setUpChain(t, r, ns)
	other := "rig-other" + iam.RoleSuffix
	otherARN := "arn:aws:iam::" + rig.AWSAccount + ":role/" + other
	unrelated := "rig-elsewhere" + iam.RoleSuffix
	for name, doc := range map[string]string{
		other:     iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, ns).JSON(),
		unrelated: iam.TrustPolicy("aws", rig.AWSAccount, "https://oidc.example.com/another-cluster", ns).JSON(),
	} {
		if _, err := r.IAM().CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}

	stop, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, res := statusJSON(t, "-n", ns)
	reqs, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != exitcode.NotReady {
		t.Errorf("exit %d; want %d (a check failed)", res.Code, exitcode.NotReady)
	}
	onlyFailed(t, rep, "shared issuer", otherARN+" trust "+rig.OIDCProviderARN()+" and the sub system:serviceaccount:"+ns+":velero", "its own OIDC configuration")
	if _, cause, _ := check(t, rep, "shared issuer"); strings.Contains(cause, unrelated) {
		t.Errorf("a role of another issuer is reported: %s", cause)
	}
	var listed int
	for _, q := range reqs {
		if q.Action == "ListRoles" {
			listed++
		}
	}
	if listed != 1 {
		t.Errorf("status listed the roles %d times; want once", listed)
	}
	var raw struct {
		SharedIssuer []struct {
			ARN         string
			SameSubject bool
		}
	}
	if err := json.Unmarshal([]byte(res.Stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.SharedIssuer) != 1 || raw.SharedIssuer[0].ARN != otherARN || !raw.SharedIssuer[0].SameSubject {
		t.Errorf("status -o json sharedIssuer %+v; want %s with sameSubject", raw.SharedIssuer, otherARN)
	}

	// The other cluster's OADP in another namespace: the same issuer still,
	// a warning, and status is ready.
	if _, err := r.IAM().UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String(other),
		PolicyDocument: aws.String(iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, "oadp-other").JSON())}); err != nil {
		t.Fatal(err)
	}
	rep, res = statusJSON(t, "-n", ns)
	if result, cause, fix := check(t, rep, "shared issuer"); result != "warning" || !strings.Contains(cause, otherARN+" trust "+rig.OIDCProviderARN()+" for other service accounts") ||
		!strings.Contains(fix, "setup --role-name") {
		t.Errorf("shared issuer %s: %s (fix %s); want a warning naming %s", result, cause, fix, otherARN)
	}
	if res.Code != 0 || !rep.Ready {
		t.Errorf("exit %d ready %v; a warning alone leaves status ready", res.Code, rep.Ready)
	}
}
