package gather

import (
	"encoding/base64"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

func obj(name string, fields map[string]any) unstructured.Unstructured {
	u := unstructured.Unstructured{Object: fields}
	u.SetName(name)
	return u
}

func TestRoleAndPolicy(t *testing.T) {
	mycluster := &clusterfacts.Facts{Name: "mycluster"}
	for _, tc := range []struct {
		name              string
		rec               record.Names
		cluster           *clusterfacts.Facts
		wantRole, wantPol string
	}{
		{"defaults of the cluster's name", record.Names{}, mycluster, iam.DefaultRoleName("mycluster"), iam.DefaultPolicyName},
		{"recorded cluster name wins over the cluster's", record.Names{ClusterName: "recorded"}, mycluster, iam.DefaultRoleName("recorded"), iam.DefaultPolicyName},
		{"recorded or flagged names as they are", record.Names{RoleName: "r", PolicyName: "p"}, mycluster, "r", "p"},
		{"no name at all: no role", record.Names{}, nil, "", iam.DefaultPolicyName},
		{"unnamed cluster: no role", record.Names{}, &clusterfacts.Facts{}, "", iam.DefaultPolicyName},
	} {
		role, pol := roleAndPolicy(tc.rec, tc.cluster)
		if role != tc.wantRole || pol != tc.wantPol {
			t.Errorf("%s: roleAndPolicy = %q, %q; want %q, %q", tc.name, role, pol, tc.wantRole, tc.wantPol)
		}
	}
}

func TestOADPSubscription(t *testing.T) {
	sub := func(name, pkg string) unstructured.Unstructured {
		return obj(name, map[string]any{"spec": map[string]any{"name": pkg}})
	}
	for _, tc := range []struct {
		name string
		subs []unstructured.Unstructured
		want string
	}{
		{"none", nil, ""},
		{"another operator only", []unstructured.Unstructured{sub("other", "cert-manager")}, ""},
		{"redhat package among others", []unstructured.Unstructured{sub("other", "cert-manager"), sub("oadp", manifests.PackageName)}, "oadp"},
		{"community package", []unstructured.Unstructured{sub("community", "oadp-operator")}, "community"},
		{"the first of two", []unstructured.Unstructured{sub("a", manifests.PackageName), sub("b", "oadp-operator")}, "a"},
	} {
		got := oadpSubscription(tc.subs)
		if (got == nil) != (tc.want == "") || (got != nil && got.GetName() != tc.want) {
			t.Errorf("%s: oadpSubscription = %v, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDPASecretNamesAndSnapshotPlan(t *testing.T) {
	dpa := func(name, secret, snapshots string) unstructured.Unstructured {
		spec := map[string]any{"backupLocations": []any{map[string]any{"velero": map[string]any{
			"provider": "aws", "credential": map[string]any{"name": secret, "key": "credentials"},
		}}}}
		if snapshots == manifests.SnapshotsNative {
			spec["snapshotLocations"] = []any{map[string]any{"velero": map[string]any{"provider": "aws", "config": map[string]any{"region": "us-east-1"}}}}
		}
		if snapshots == manifests.SnapshotsCSI {
			spec["configuration"] = map[string]any{"velero": map[string]any{"defaultPlugins": []any{"openshift", "aws", "csi"}}}
		}
		return obj(name, map[string]any{"spec": spec})
	}
	if got := dpaSecretNames(nil); got != nil {
		t.Errorf("no DPA names secrets %q", got)
	}
	two := []unstructured.Unstructured{dpa("b", "cloud-credentials", manifests.SnapshotsNative), dpa("a", "cloud-credentials", "")}
	if got := dpaSecretNames(two); !slices.Equal(got, []string{"cloud-credentials"}) {
		t.Errorf("a secret two DPAs name is read twice: %q", got)
	}
	if _, ok := snapshotPlan(nil); ok {
		t.Error("a plan without a DPA")
	}
	for _, tc := range []struct {
		name string
		dpas []unstructured.Unstructured
	}{
		{"in order", two},
		{"reversed", []unstructured.Unstructured{two[1], two[0]}},
	} {
		plan, ok := snapshotPlan(tc.dpas)
		want := manifests.SnapshotMode(&two[1]) // "a", the first by name
		if !ok || plan.Mode != want {
			t.Errorf("%s: snapshotPlan = %+v, %v; want the mode of DPA a (%q)", tc.name, plan, ok, want)
		}
	}
	if manifests.SnapshotMode(&two[0]) == manifests.SnapshotMode(&two[1]) {
		t.Fatal("the two DPAs have the same mode: the test above proves nothing")
	}
}

func TestBucketsNamed(t *testing.T) {
	cs := obj("cs", map[string]any{"spec": map[string]any{"name": "bucket-b"}})
	loc := func(name, provider, bucket, region string) unstructured.Unstructured {
		return obj(name, map[string]any{"spec": map[string]any{
			"provider": provider, "objectStorage": map[string]any{"bucket": bucket}, "config": map[string]any{"region": region},
		}})
	}
	got := bucketsNamed([]unstructured.Unstructured{cs, obj("unnamed", map[string]any{})}, []unstructured.Unstructured{
		loc("default", "aws", "bucket-b", "us-east-2"),
		loc("velero-prefixed", "velero.io/aws", "bucket-a", "eu-west-1"),
		loc("azure", "azure", "container", ""),
		loc("no-bucket", "aws", "", "us-east-1"),
	})
	want := []status.Bucket{
		{Name: "bucket-a", From: []string{"backupstoragelocation/velero-prefixed"}, LocationRegions: map[string]string{"backupstoragelocation/velero-prefixed": "eu-west-1"}},
		{Name: "bucket-b", From: []string{"cloudstorage/cs", "backupstoragelocation/default"}, LocationRegions: map[string]string{"backupstoragelocation/default": "us-east-2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bucketsNamed =\n%+v\nwant\n%+v", got, want)
	}
	if got := bucketsNamed(nil, nil); len(got) != 0 {
		t.Errorf("buckets from nothing: %v", got)
	}
}

func TestBucketRegion(t *testing.T) {
	for in, want := range map[string]string{"": "us-east-1", "EU": "eu-west-1", "eu-central-1": "eu-central-1", "us-gov-west-1": "us-gov-west-1"} {
		if got := bucketRegion(in); got != want {
			t.Errorf("bucketRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClaims(t *testing.T) {
	jwt := func(payload string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	for _, tc := range []struct {
		name, token, iss, sub string
		aud                   []string
	}{
		{"aud a string", jwt(`{"iss":"https://i","sub":"system:serviceaccount:openshift-adp:velero","aud":"openshift"}`), "https://i", "system:serviceaccount:openshift-adp:velero", []string{"openshift"}},
		{"aud a list", jwt(`{"iss":"https://i","sub":"s","aud":["openshift","sts.amazonaws.com"]}`), "https://i", "s", []string{"openshift", "sts.amazonaws.com"}},
		{"aud neither", jwt(`{"iss":"https://i","sub":"s","aud":7}`), "https://i", "s", nil},
		{"not a JWT", "opaque", "", "", nil},
		{"payload not base64", "a.!!!.c", "", "", nil},
		{"payload not JSON", jwt(`nope`), "", "", nil},
	} {
		iss, sub, aud := claims(tc.token)
		if iss != tc.iss || sub != tc.sub || !slices.Equal(aud, tc.aud) {
			t.Errorf("%s: claims = %q, %q, %q; want %q, %q, %q", tc.name, iss, sub, aud, tc.iss, tc.sub, tc.aud)
		}
	}
}
