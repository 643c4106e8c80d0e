package fleet_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/fleet"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// The acceptance story on three clusters: one setup makes three roles, each
// trusted by its own cluster's issuer only, and each cluster's objects;
// status for all three exits 0 once they reconcile; cleanup for all three
// leaves nothing in IAM, S3 or the clusters.
//
// STAND-IN: neither the OADP operator nor Velero runs on the rig; once setup
// made the DPA, the test writes what they would: a Succeeded CSV, the DPA's
// Reconciled condition and an Available BackupStorageLocation (standIn).
func TestFleetSetupStatusCleanup(t *testing.T) {
	f := fleet3(t)
	ctx := context.Background()
	dry := clitest.Run(t, append([]string{"setup", "--dry-run=client"}, contexts(f)...)...)
	if dry.Code != 0 || strings.Count(dry.Stderr, "dry run: AWS not changed") != 3 {
		t.Errorf("setup --dry-run=client: exit %d, want 0 and each cluster's plan:\n%s", dry.Code, dry.Stderr)
	}
	if roles, err := f.AWS().IAM().ListRoles(ctx, &iam.ListRolesInput{}); err != nil || len(roles.Roles) > 0 {
		t.Fatalf("a dry run made roles (%v)", err)
	}
	res := clitest.Run(t, append([]string{"setup", "--yes", "--wait=false"}, contexts(f)...)...)
	if res.Code != 0 {
		t.Fatalf("setup: exit %d:\n%s", res.Code, res.Stderr)
	}
	for _, r := range f.Rigs {
		role, bucket, dpa := names(r)
		assertTrustedOnlyBy(ctx, t, f, role, r)
		// The AWS configuration names no region: each bucket is in its own cluster's.
		if loc, err := f.AWS().S3().GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("%s: bucket %s: %v", r.Identity.Context, bucket, err)
		} else if string(loc.LocationConstraint) != r.Identity.Region {
			t.Errorf("%s: bucket %s in %q, want the cluster's region %s", r.Identity.Context, bucket, loc.LocationConstraint, r.Identity.Region)
		}
		if _, err := r.Dynamic.Resource(gvr.DPA).Namespace("openshift-adp").Get(ctx, dpa, metav1.GetOptions{}); err != nil {
			t.Errorf("%s: DPA %s: %v", r.Identity.Context, dpa, err)
		}
		// Each cluster's lines are grouped under its context (no terminal here).
		if !strings.Contains(res.Stderr, "=== "+r.Identity.Context+" ===") {
			t.Errorf("no group of %s's lines in:\n%s", r.Identity.Context, res.Stderr)
		}
		standIn(t, r)
	}

	st := clitest.Run(t, append([]string{"status", "-o", "json"}, contexts(f)...)...)
	if st.Code != 0 {
		t.Fatalf("status: exit %d:\n%s\n%s", st.Code, st.Stdout, st.Stderr)
	}
	var rows []fleet.Row
	if err := json.Unmarshal([]byte(st.Stdout), &rows); err != nil {
		t.Fatalf("status -o json is not a list: %v\n%s", err, st.Stdout)
	}
	if len(rows) != 3 {
		t.Fatalf("%d elements, want one per cluster", len(rows))
	}
	for i, row := range rows {
		r := f.Rigs[i]
		role, bucket, _ := names(r)
		if row.Context != r.Identity.Context || row.ClusterID != r.Identity.ClusterID || row.Issuer != r.Identity.Issuer() ||
			!strings.HasSuffix(row.Role, "/"+role) || row.Bucket != bucket || row.DPAReconciled != "yes" || row.LocationAvailable != "yes" ||
			row.Result != "ok" || len(row.Report) == 0 || row.SharesIssuerWith != nil {
			row.Report = nil
			t.Errorf("row %d: %+v", i, row)
		}
	}

	human := clitest.Run(t, append([]string{"status"}, contexts(f)...)...)
	if human.Code != 0 || !strings.Contains(human.Stdout, "LOCATION AVAILABLE") || strings.Contains(human.Stderr, "share the OIDC issuer") {
		t.Errorf("status: exit %d, want 0, a summary table and no shared issuer:\n%s\n%s", human.Code, human.Stdout, human.Stderr)
	}

	cl := clitest.Run(t, append([]string{"cleanup", "--yes"}, contexts(f)...)...)
	if cl.Code != 0 {
		t.Fatalf("cleanup: exit %d:\n%s", cl.Code, cl.Stderr)
	}
	assertNothingLeft(ctx, t, f)
}

// assertTrustedOnlyBy reads the role's trust policy back from moto: one
// statement, whose only principal is r's OIDC provider and whose conditions
// name r's issuer, and no other cluster's.
func assertTrustedOnlyBy(ctx context.Context, t *testing.T, f *rig.Fleet, role string, r *rig.Rig) {
	t.Helper()
	out, err := f.AWS().IAM().GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		t.Errorf("%s: role %s: %v", r.Identity.Context, role, err)
		return
	}
	doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	var trust struct {
		Statement []struct {
			Principal struct{ Federated any }
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &trust); err != nil {
		t.Fatalf("%s: trust policy %s: %v", role, doc, err)
	}
	if len(trust.Statement) != 1 {
		t.Fatalf("%s: %d statements, want 1: %s", role, len(trust.Statement), doc)
	}
	if p := trust.Statement[0].Principal.Federated; p != r.Identity.OIDCProviderARN() {
		t.Errorf("%s is trusted by %v, want only %s", role, p, r.Identity.OIDCProviderARN())
	}
	for _, other := range f.Rigs {
		if other != r && strings.Contains(doc, other.Identity.IssuerHost) {
			t.Errorf("%s (of %s) names %s's issuer: %s", role, r.Identity.Context, other.Identity.Context, doc)
		}
	}
	if !strings.Contains(doc, r.Identity.IssuerHost+":sub") {
		t.Errorf("%s has no sub condition on %s's issuer: %s", role, r.Identity.Context, doc)
	}
}

// assertNothingLeft: no role or bucket of any cluster in moto, no OADP
// namespace on any cluster.
func assertNothingLeft(ctx context.Context, t *testing.T, f *rig.Fleet) {
	t.Helper()
	roles, err := f.AWS().IAM().ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Roles {
		t.Errorf("role %s left behind", aws.ToString(r.RoleName))
	}
	pols, err := f.AWS().IAM().ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Local"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Policies {
		t.Errorf("policy %s left behind", aws.ToString(p.PolicyName))
	}
	buckets, err := f.AWS().S3().ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets.Buckets {
		t.Errorf("bucket %s left behind", aws.ToString(b.Name))
	}
	for _, r := range f.Rigs {
		deadline := time.Now().Add(time.Minute)
		for {
			_, err := r.Kube.CoreV1().Namespaces().Get(ctx, "openshift-adp", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: namespace openshift-adp still there (%v)", r.Identity.Context, err)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
