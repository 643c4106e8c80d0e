package dparules_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

// oracleCase is one case of ../shared/oracle/oadp-dpa-cases.json.
type oracleCase struct {
	ID               string           `json:"id"`
	Branch           string           `json:"branch"`
	DPA              map[string]any   `json:"dpa"`
	Extra            []map[string]any `json:"extra_objects"`
	Rule             string           `json:"rule"`
	NetworkDependent bool             `json:"network_dependent"`
	Notes            string           `json:"notes"`
	Real             struct {
		Verdict string `json:"verdict"`
		Message string `json:"message"`
	} `json:"real_operator"`
}

func loadCases(t *testing.T) []oracleCase {
	t.Helper()
	dir, err := rig.OracleDir()
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "oadp-dpa-cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []oracleCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("oadp-dpa-cases.json: %v", err)
	}
	if len(cases) == 0 {
		t.Fatal("oadp-dpa-cases.json holds no cases")
	}
	return cases
}

// The marker hack/testreport repeats at the end of `make test`.
const marker = "operator conformance: "

// TestOperatorConformance runs every case of the oracle through the engine
// and holds it to what the real operator's manager did with it: the API
// server's refusal (checked on the rig's real kube-apiserver with the CRDs
// of the case's branch), or the Reconciled condition (accepted, or rejected
// with a message the engine's report must contain). Cases that rest on the
// operator's live bucket-region look-up use the plugin's own discovery
// against moto, with the buckets the case assumes discoverable.
func TestOperatorConformance(t *testing.T) {
	cases := loadCases(t)
	r := rig.Get(t)
	r.Fresh(t)
	ctx := context.Background()
	regions := awsfacts.BucketRegions{S3: r.S3()}

	byBranch := map[string][]oracleCase{}
	for _, c := range cases {
		byBranch[c.Branch] = append(byBranch[c.Branch], c)
	}
	branches := make([]string, 0, len(byBranch))
	for b := range byBranch {
		branches = append(branches, b)
	}
	sort.Strings(branches)
	t.Cleanup(func() { installCRDs(t, r, rig.DefaultOADPCRDs) })

	agree := 0
	perVerdict := map[string][2]int{}
	for _, branch := range branches {
		installCRDs(t, r, branch)
		version := strings.TrimPrefix(branch, "oadp-")
		for _, c := range byBranch[branch] {
			c := normalize(c)
			ok := t.Run(c.ID, func(t *testing.T) {
				if c.Real.Verdict == "admission" {
					admissionRejects(t, r, c)
					return
				}
				admissionAccepts(t, r, c)
				if c.NetworkDependent {
					discoverable(t, r, c)
				}
				v := dparules.Judge(ctx, namespaceOf(t, c), version, regions)
				switch c.Real.Verdict {
				case "accepted":
					if !v.Accepted() {
						t.Errorf("the real operator reconciled it (%q); the engine rejects it: %v", c.Real.Message, v.Err())
					}
				case "rejected":
					if v.Accepted() {
						t.Fatalf("the real operator rejected it with %q; the engine accepts it", c.Real.Message)
					}
					if got := v.Err().Error(); !strings.Contains(got, c.Real.Message) {
						t.Errorf("the real operator says %q; the engine's report does not contain it: %s", c.Real.Message, got)
					}
				default:
					t.Fatalf("unknown real_operator verdict %q", c.Real.Verdict)
				}
			})
			n := perVerdict[c.Real.Verdict]
			n[1]++
			if ok {
				agree++
				n[0]++
			}
			perVerdict[c.Real.Verdict] = n
		}
	}
	var parts []string
	for _, k := range []string{"accepted", "rejected", "admission"} {
		parts = append(parts, fmt.Sprintf("%s %d/%d", k, perVerdict[k][0], perVerdict[k][1]))
	}
	t.Logf("%s%d of %d operator cases agree (%s)", marker, agree, len(cases), strings.Join(parts, ", "))
}

// installCRDs replaces the rig's OADP CRDs with the branch's and waits until
// the API server judges with them: 1.5's defaultPlugins enum alone admits
// hypershift.
func installCRDs(t *testing.T, r *rig.Rig, branch string) {
	t.Helper()
	ctx := context.Background()
	files, err := rig.OADPCRDFiles(branch)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ApplyCRDFiles(ctx, files...); err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, r, "openshift-adp")
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
		"metadata": map[string]any{"name": "crd-probe", "namespace": "openshift-adp"},
		"spec":     map[string]any{"configuration": map[string]any{"velero": map[string]any{"defaultPlugins": []any{"hypershift"}}}},
	}}
	want := branch >= "oadp-1.5"
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := r.Dynamic.Resource(gvr.DPA).Namespace("openshift-adp").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if (err == nil) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not judge with %s's CRDs after 30s (probe: %v)", branch, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ensureNamespace(t *testing.T, r *rig.Rig, name string) {
	t.Helper()
	_, err := r.Kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func dryRunCreate(t *testing.T, r *rig.Rig, c oracleCase) error {
	t.Helper()
	dpa := &unstructured.Unstructured{Object: c.DPA}
	ensureNamespace(t, r, dpa.GetNamespace())
	_, err := r.Dynamic.Resource(gvr.DPA).Namespace(dpa.GetNamespace()).Create(context.Background(), dpa, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return err
}

// admissionRejects holds the rig's real API server to the real run's
// refusal: it refuses the DPA, naming every violation the real one named.
func admissionRejects(t *testing.T, r *rig.Rig, c oracleCase) {
	err := dryRunCreate(t, r, c)
	if err == nil {
		t.Fatalf("the real API server refused it (%q); the rig's accepts it", c.Real.Message)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error, got %v", err)
	}
	for _, v := range violations(c.Real.Message) {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("the real API server said %q; the rig's says %v", v, err)
		}
	}
}

// admissionAccepts checks that a case the operator saw is one a cluster
// stores: the engine judges only what passes the CRD schema.
func admissionAccepts(t *testing.T, r *rig.Rig, c oracleCase) {
	if err := dryRunCreate(t, r, c); err != nil {
		t.Fatalf("the real operator saw this DPA; the rig's API server refuses it: %v", err)
	}
}

// violations splits `The X "n" is invalid: a` or `...: \n* a\n* b` into its parts.
func violations(msg string) []string {
	_, rest, ok := strings.Cut(msg, " is invalid: ")
	if !ok {
		return []string{msg}
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "* ")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var assumed = regexp.MustCompile(`treat as discoverable: \[([^\]]*)\]`)

// discoverable empties moto and creates the buckets the case assumes the
// operator's anonymous look-up finds. The rules document says what the
// tests assume when a case does not list them.
func discoverable(t *testing.T, r *rig.Rig, c oracleCase) {
	t.Helper()
	ctx := context.Background()
	if err := r.ResetAWS(ctx); err != nil {
		t.Fatal(err)
	}
	buckets := []string{"openshift-velero-plugin-s3-auto-region-test-1"}
	if c.Branch == "oadp-1.4" {
		buckets = append(buckets, "bucket")
	}
	if m := assumed.FindStringSubmatch(c.Notes); m != nil {
		buckets = nil
		for _, b := range strings.Split(m[1], ",") {
			buckets = append(buckets, strings.Trim(strings.TrimSpace(b), `'"`))
		}
	}
	for _, b := range buckets {
		in := &s3.CreateBucketInput{Bucket: aws.String(b), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}}
		if _, err := r.S3().CreateBucket(ctx, in); err != nil {
			t.Fatalf("create bucket %s in moto: %v", b, err)
		}
	}
}

// normalize does what the real run had to: Kubernetes names are lower case,
// so the unit tests' "test-DPA-CR" and secret "Test" were stored lower-cased,
// and the references to them with them.
func normalize(c oracleCase) oracleCase {
	lower := func(m map[string]any, path ...string) {
		if s, found, _ := unstructured.NestedString(m, path...); found {
			_ = unstructured.SetNestedField(m, strings.ToLower(s), path...)
		}
	}
	c.DPA = deepCopy(c.DPA)
	objs := []map[string]any{c.DPA}
	for i := range c.Extra {
		c.Extra[i] = deepCopy(c.Extra[i])
		objs = append(objs, c.Extra[i])
	}
	for _, o := range objs {
		lower(o, "metadata", "name")
		if o["kind"] != "DataProtectionApplication" {
			continue
		}
		for _, list := range []string{"backupLocations", "snapshotLocations"} {
			locs, _, _ := unstructured.NestedSlice(o, "spec", list)
			for _, l := range locs {
				loc, _ := l.(map[string]any)
				for _, kind := range []string{"velero", "bucket"} {
					if k, ok := loc[kind].(map[string]any); ok {
						lower(k, "credential", "name")
						lower(k, "cloudStorageRef", "name")
					}
				}
			}
			_ = unstructured.SetNestedSlice(o, locs, "spec", list)
		}
	}
	return c
}

func deepCopy(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

// namespaceOf is what the operator's manager saw: the case's objects in
// the DPA's namespace, and elsewhere for the cluster-wide non-admin rule.
func namespaceOf(t *testing.T, c oracleCase) dparules.Namespace {
	t.Helper()
	dpa := &unstructured.Unstructured{Object: c.DPA}
	ns := dparules.Namespace{DPA: dpa, Secrets: map[string]map[string][]byte{}, CloudStorages: map[string]*unstructured.Unstructured{}}
	deployments := map[string]bool{}
	var elsewhere []*unstructured.Unstructured
	for _, m := range c.Extra {
		o := &unstructured.Unstructured{Object: m}
		same := o.GetNamespace() == dpa.GetNamespace()
		switch {
		case o.GetKind() == "Secret" && same:
			data := map[string][]byte{}
			raw, _, _ := unstructured.NestedMap(m, "data")
			for k, v := range raw {
				s, _ := v.(string)
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					t.Fatalf("secret %s key %s: %v", o.GetName(), k, err)
				}
				data[k] = b
			}
			ns.Secrets[o.GetName()] = data
		case o.GetKind() == "CloudStorage" && same:
			ns.CloudStorages[o.GetName()] = o
		case o.GetKind() == "DataProtectionApplication" && same:
			ns.Others = append(ns.Others, o)
		case o.GetKind() == "DataProtectionApplication":
			elsewhere = append(elsewhere, o)
		case o.GetKind() == "Deployment" && o.GetName() == "non-admin-controller":
			deployments[o.GetNamespace()] = true
		case o.GetKind() == "BackupStorageLocation" && same:
			ns.BSLs = append(ns.BSLs, o)
		}
	}
	for _, o := range elsewhere {
		if on, _, _ := unstructured.NestedBool(o.Object, "spec", "nonAdmin", "enable"); on && deployments[o.GetNamespace()] {
			ns.NonAdminElsewhere = append(ns.NonAdminElsewhere, o.GetNamespace())
		}
	}
	return ns
}
