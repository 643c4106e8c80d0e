package cleanup

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func obj(name string, owned bool, fields map[string]any) unstructured.Unstructured {
	u := unstructured.Unstructured{Object: map[string]any{"spec": fields}}
	u.SetName(name)
	if owned {
		u.SetLabels(map[string]string{manifests.ManagedByLabel: manifests.ManagedByValue})
	}
	return u
}

// The deciding half of Discover, on what read would have found; the reading
// half and the whole plan are tested against the real API server and moto in
// pkg/cmd/cleanup.
func TestPlanDecides(t *testing.T) {
	ns := obj("openshift-adp", true, nil)
	foreignNS := obj("openshift-adp", false, nil)
	f := &found{
		workloads: []string{"hello-world"}, canaries: []string{"hello-world", "oadp-sts-verify-x"},
		schedules: []unstructured.Unstructured{obj("nightly", false, nil)},
		backups:   []unstructured.Unstructured{obj("b1", false, nil)},
		dpas:      []unstructured.Unstructured{obj("ours", true, nil), obj("theirs", false, nil)},
		subs:      []unstructured.Unstructured{obj("redhat-oadp-operator", false, map[string]any{"name": "redhat-oadp-operator"}), obj("other", false, map[string]any{"name": "other"})},
		csvs:      []unstructured.Unstructured{obj("oadp-operator.v1.4.2", false, nil), obj("other.v1", false, nil)},
		crds:      []unstructured.Unstructured{obj("backups.velero.io", false, map[string]any{"group": "velero.io"}), obj("foos.example.com", false, map[string]any{"group": "example.com"})},
	}
	plan := func(o Options, ns *unstructured.Unstructured) *Plan {
		p := &Plan{}
		p.planWorkloads(f)
		p.planVelero(f, o)
		p.planOperator(f, o)
		p.planCRDs(f.crds, o)
		p.planNamespace(ns, o)
		return p
	}
	has := func(p *Plan, action, what string) bool {
		return slices.ContainsFunc(p.Items, func(it Item) bool { return it.Action == action && it.What == what })
	}
	for _, c := range []struct {
		name     string
		o        Options
		ns       *unstructured.Unstructured
		want     [][2]string // action, what
		wantNot  []string
		dpas     int
		ns2, ops bool
	}{
		{name: "defaults", o: Options{Namespace: "openshift-adp"}, ns: &ns, dpas: 1, ns2: true, ops: true, want: [][2]string{
			{Delete, "namespace hello-world"}, {Delete, "namespace oadp-sts-verify-x"}, {Delete, "1 schedule: nightly"},
			{Delete, "dataprotectionapplication ours"}, {Skip, "dataprotectionapplication theirs"},
			{Delete, "subscription redhat-oadp-operator"}, {Delete, "clusterserviceversion oadp-operator.v1.4.2"},
			{Delete, "1 velero.io and oadp.openshift.io CRDs"}, {Delete, "namespace openshift-adp"},
		}, wantNot: []string{"subscription other", "clusterserviceversion other.v1"}},
		{name: "--force takes what is not ours", o: Options{Namespace: "openshift-adp", Force: true}, ns: &foreignNS, dpas: 2, ns2: true, ops: true,
			want: [][2]string{{Delete, "dataprotectionapplication theirs"}, {Delete, "namespace openshift-adp"}}},
		{name: "a namespace not ours is skipped", o: Options{Namespace: "openshift-adp"}, ns: &foreignNS, dpas: 1, ops: true,
			want: [][2]string{{Skip, "namespace openshift-adp"}}},
		{name: "--keep-backups and --keep-operator", o: Options{Namespace: "openshift-adp", KeepBackups: true, KeepOperator: true}, ns: &ns, dpas: 1,
			want: [][2]string{{Keep, "1 schedule: nightly"}, {Keep, "the OADP operator"}, {Keep, "1 velero.io and oadp.openshift.io CRDs"}, {Keep, "namespace openshift-adp"}}},
		{name: "the namespace gone", o: Options{Namespace: "openshift-adp"}, dpas: 1, ops: true, wantNot: []string{"namespace openshift-adp"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := plan(c.o, c.ns)
			for _, w := range c.want {
				if !has(p, w[0], w[1]) {
					t.Errorf("no %s %q in %+v", w[0], w[1], p.Items)
				}
			}
			for _, w := range c.wantNot {
				if slices.ContainsFunc(p.Items, func(it Item) bool { return it.What == w }) {
					t.Errorf("%q is in the plan: %+v", w, p.Items)
				}
			}
			if len(p.dpas) != c.dpas || p.namespace != c.ns2 || (len(p.subscriptions) == 1) != c.ops {
				t.Errorf("dpas %d namespace %v subscriptions %d, want %d %v operator %v", len(p.dpas), p.namespace, len(p.subscriptions), c.dpas, c.ns2, c.ops)
			}
			if !slices.Equal(p.workloads, []string{"hello-world", "oadp-sts-verify-x"}) {
				t.Errorf("workloads %v: a canary also named as a workload is listed once", p.workloads)
			}
		})
	}
}

// A truncated page holds back its last entry (the next page's marker).
func TestPageIDs(t *testing.T) {
	page := &s3.ListObjectVersionsOutput{
		Versions:      []s3types.ObjectVersion{{Key: aws.String("a"), VersionId: aws.String("1")}, {Key: aws.String("b"), VersionId: aws.String("2")}},
		DeleteMarkers: []s3types.DeleteMarkerEntry{{Key: aws.String("c"), VersionId: aws.String("3")}},
		IsTruncated:   aws.Bool(true), NextKeyMarker: aws.String("b"), NextVersionIdMarker: aws.String("2"),
	}
	ids, marker := pageIDs(page)
	if len(ids) != 2 || aws.ToString(ids[0].Key) != "a" || aws.ToString(ids[1].Key) != "c" || marker == nil || aws.ToString(marker.Key) != "b" {
		t.Errorf("truncated page: ids %v marker %v, want a and c, marker b", ids, marker)
	}
	page.IsTruncated = aws.Bool(false)
	page.Versions = append(page.Versions[:0:0], s3types.ObjectVersion{Key: aws.String("a"), VersionId: aws.String("1")}, s3types.ObjectVersion{Key: aws.String("b"), VersionId: aws.String("2")})
	if ids, marker := pageIDs(page); len(ids) != 3 || marker != nil {
		t.Errorf("last page: ids %v marker %v, want all three and no marker", ids, marker)
	}
}
