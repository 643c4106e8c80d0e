package gitops_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gitops"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// fleet is three clusters setup would set up differently: a one-letter name
// (too short to be replaced inside other strings) on native snapshots; OADP
// 1.4 on the bucket path with the operator to install and the plugin's
// secret; OADP 1.5 on the CloudStorage path with the operator already there.
func fleet() []gitops.Cluster {
	opts := []manifests.Options{
		// First, so the base has fields (the snapshot location) the others drop.
		{ClusterName: "c", ClusterID: "33333333-cccc", Region: "us-east-2", RoleARN: "arn:aws:iam::123456789012:role/c-openshift-oadp-aws-cloud-credentials",
			OADPVersion: "1.4", BucketLocation: true, InstallOperator: true, WriteSecret: true, Snapshots: manifests.SnapshotsNative, Approval: "Automatic"},
		{ClusterName: "prod-x7k2p", ClusterID: "11111111-aaaa", Region: "us-east-2", RoleARN: "arn:aws:iam::123456789012:role/prod-x7k2p-openshift-oadp-aws-cloud-credentials",
			OADPVersion: "1.4", BucketLocation: true, InstallOperator: true, WriteSecret: true, StartingCSV: "oadp-operator.v1.4.5"},
		{ClusterName: "dr-q9z", ClusterID: "22222222-bbbb", Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/dr-q9z-openshift-oadp-aws-cloud-credentials",
			OADPVersion: "1.5", WriteSecret: true, FSBackup: true, BackupImages: true},
	}
	var out []gitops.Cluster
	for _, o := range opts {
		out = append(out, cluster(o))
	}
	return out
}

// cluster is what setup hands the writer for o (pkg/cmd/setup's gitopsCluster).
func cluster(o manifests.Options) gitops.Cluster {
	o = o.WithDefaults()
	o.NamespaceAnnotations = map[string]string{"oadp-sts.openshift.io/cluster-name": o.ClusterName, "oadp-sts.openshift.io/role-arn": o.RoleARN}
	o.Tags = map[string]string{"cluster_id": o.ClusterID}
	return gitops.Cluster{Name: o.ClusterName, Objects: manifests.Build(o), Values: map[string]string{
		"CLUSTER_NAME": o.ClusterName, "CLUSTER_ID": o.ClusterID, "REGION": o.Region, "ROLE_ARN": o.RoleARN, "BUCKET": o.Bucket, "DPA_NAME": o.DPAName,
	}}
}

func kubectl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		// kustomize is the witness: without it the overlays are unchecked.
		t.Fatalf("kubectl (with its kustomize) is needed to render the overlays: %v", err)
	}
	return p
}

// canonical is objects as sorted JSON lines, for a comparison that ignores
// order (kustomize sorts by kind) and nothing else.
func canonical(t *testing.T, objs []map[string]any) []string {
	t.Helper()
	out := make([]string, len(objs))
	for i, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}

func decodeAll(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatal(err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
}

// Each overlay, rendered by kubectl's own kustomize, is exactly that
// cluster's objects: kustomize is the witness, not our reading of patches.
func TestEveryOverlayRendersItsClusterExactly(t *testing.T) {
	bin := kubectl(t)
	clusters := fleet()
	dir := t.TempDir()
	paths, err := gitops.Write(dir, gitops.FormatKustomize, clusters)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clusters {
		renders(t, bin, dir, c)
	}
	// The base is every cluster's, so it holds none of their own values.
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		if !strings.Contains(p, string(filepath.Separator)+"base"+string(filepath.Separator)) {
			continue
		}
		for _, c := range clusters {
			for k, v := range c.Values {
				if len(v) > 3 && bytes.Contains(b, []byte(v)) {
					t.Errorf("%s holds %s's %s %q", p, c.Name, k, v)
				}
			}
		}
	}
	assertPrivate(t, dir)
}

// renders checks that clusters/NAME in dir renders exactly c's objects.
func renders(t *testing.T, bin, dir string, c gitops.Cluster) {
	t.Helper()
	out, err := exec.Command(bin, "kustomize", filepath.Join(dir, "clusters", c.Name)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize clusters/%s: %v\n%s", c.Name, err, stderrOf(err))
	}
	want := make([]map[string]any, len(c.Objects))
	for i, o := range c.Objects {
		want[i] = roundTrip(t, o)
	}
	got, exp := canonical(t, decodeAll(t, out)), canonical(t, want)
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("clusters/%s renders\n%s\nwant\n%s", c.Name, strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
}

// One cluster per run into one directory: a cluster of the same shape adds
// its overlay to the same base; one of another shape is refused, and the
// files already there are left as they were.
func TestClustersWrittenOneRunAtATime(t *testing.T) {
	bin := kubectl(t)
	dir := t.TempDir()
	first := fleet()[1]
	twin := cluster(manifests.Options{ClusterName: "prod2-abcde", ClusterID: "44444444-dddd", Region: "ap-south-1",
		RoleARN:     "arn:aws:iam::210987654321:role/prod2-abcde-openshift-oadp-aws-cloud-credentials",
		OADPVersion: "1.4", BucketLocation: true, InstallOperator: true, WriteSecret: true, StartingCSV: "oadp-operator.v1.4.5"})
	for _, c := range []gitops.Cluster{first, twin} {
		if _, err := gitops.Write(dir, gitops.FormatKustomize, []gitops.Cluster{c}); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
	renders(t, bin, dir, first)
	renders(t, bin, dir, twin)

	before := snapshot(t, dir)
	other := fleet()[2]
	_, err := gitops.Write(dir, gitops.FormatKustomize, []gitops.Cluster{other})
	if err == nil || !strings.Contains(err.Error(), "prod-x7k2p, prod2-abcde") || !strings.Contains(err.Error(), "--output-dir") {
		t.Errorf("a cluster of another shape into the same directory: %v, want a refusal naming the overlays and --output-dir", err)
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("the refused write changed the directory")
	}
	// Rewriting one of the clusters already there is no conflict.
	if _, err := gitops.Write(dir, gitops.FormatKustomize, []gitops.Cluster{first, twin}); err != nil {
		t.Errorf("rewriting the same clusters: %v", err)
	}
}

// ACM's kustomization lists the clusters earlier runs wrote into acm/
// too: a GitOps tool applying it would otherwise prune their policies.
func TestACMClustersWrittenOneRunAtATime(t *testing.T) {
	bin := kubectl(t)
	dir := t.TempDir()
	clusters := fleet()
	for _, c := range clusters {
		if _, err := gitops.Write(dir, gitops.FormatACM, []gitops.Cluster{c}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin, "kustomize", filepath.Join(dir, "acm")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize acm: %v\n%s", err, stderrOf(err))
	}
	var policies []string
	for _, o := range decodeAll(t, out) {
		if o["kind"] == "Policy" {
			policies = append(policies, o["metadata"].(map[string]any)["name"].(string))
		}
	}
	sort.Strings(policies)
	var want []string
	for _, c := range clusters {
		want = append(want, gitops.PolicyName(c.Name))
	}
	sort.Strings(want)
	if !reflect.DeepEqual(policies, want) {
		t.Errorf("acm/ renders policies %v, want every cluster's %v", policies, want)
	}
	assertPrivate(t, dir)
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, rerr := os.ReadFile(p)
			out[p] = string(b)
			return rerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// roundTrip is an object as YAML gives it back (ints as float64 and so on).
func roundTrip(t *testing.T, o *unstructured.Unstructured) map[string]any {
	t.Helper()
	b, err := sigsyaml.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, b)[0]
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		want := os.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestACMPolicyWrapsEveryObjectInOrder(t *testing.T) {
	clusters := fleet()
	files, err := gitops.Files(gitops.FormatACM, clusters)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.Path] = f.Data
	}
	for _, c := range clusters {
		var pol map[string]any
		if err := sigsyaml.Unmarshal(byPath["acm/"+c.Name+"/policy.yaml"], &pol); err != nil {
			t.Fatal(err)
		}
		u := unstructured.Unstructured{Object: pol}
		templates, _, _ := unstructured.NestedSlice(u.Object, "spec", "policy-templates")
		byKey := map[string]map[string]any{}
		for _, o := range c.Objects {
			byKey[o.GetKind()+"/"+o.GetName()] = roundTrip(t, o)
		}
		var kinds, wrapped []string
		var prev string
		for _, tp := range templates {
			def := tp.(map[string]any)["objectDefinition"].(map[string]any)
			kind := def["kind"].(string)
			name := def["metadata"].(map[string]any)["name"].(string)
			kinds = append(kinds, kind)
			if ra, _, _ := unstructured.NestedString(def, "spec", "remediationAction"); ra != "enforce" {
				t.Errorf("%s: template %s is %q, not enforce", c.Name, name, ra)
			}
			deps, _, _ := unstructured.NestedSlice(tp.(map[string]any), "extraDependencies")
			if prev != "" && (len(deps) != 1 || deps[0].(map[string]any)["name"] != prev) {
				t.Errorf("%s: template %s waits for %v, want %s", c.Name, name, deps, prev)
			}
			prev = name
			switch kind {
			case "ConfigurationPolicy":
				ots, _, _ := unstructured.NestedSlice(def, "spec", "object-templates")
				for _, ot := range ots {
					o := ot.(map[string]any)["objectDefinition"].(map[string]any)
					key := o["kind"].(string) + "/" + o["metadata"].(map[string]any)["name"].(string)
					wrapped = append(wrapped, key)
					if want := byKey[key]; !reflect.DeepEqual(o, want) {
						t.Errorf("%s: the policy's %s is\n%v\nnot setup's\n%v", c.Name, key, o, want)
					}
				}
			case "OperatorPolicy":
				name, _, _ := unstructured.NestedString(def, "spec", "subscription", "name")
				wrapped = append(wrapped, "Subscription/"+name)
				if og, ok, _ := unstructured.NestedString(def, "spec", "operatorGroup", "name"); ok {
					wrapped = append(wrapped, "OperatorGroup/"+og)
				}
			}
		}
		var want []string
		for _, o := range c.Objects {
			want = append(want, o.GetKind()+"/"+o.GetName())
		}
		sort.Strings(want)
		sort.Strings(wrapped)
		if !reflect.DeepEqual(wrapped, want) {
			t.Errorf("%s: the policy wraps %v, want every object setup applies %v", c.Name, wrapped, want)
		}
		if kinds[0] != "ConfigurationPolicy" {
			t.Errorf("%s: the namespace's template must come first, got %v", c.Name, kinds)
		}
	}
}

func TestRefusesClustersWithoutTheirOwnName(t *testing.T) {
	objs := fleet()[0].Objects
	for _, tc := range []struct {
		clusters []gitops.Cluster
		want     string
	}{
		{nil, "no cluster"},
		{[]gitops.Cluster{{Name: "a/b", Objects: objs}}, "set --cluster-name"},
		{[]gitops.Cluster{{Name: "Prod", Objects: objs}}, "DNS label"},
		{[]gitops.Cluster{{Name: "a", Objects: objs}, {Name: "a", Objects: objs}}, "two clusters are named"},
	} {
		_, err := gitops.Files(gitops.FormatKustomize, tc.clusters)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d clusters: error %v, want one saying %q", len(tc.clusters), err, tc.want)
		}
	}
	if _, err := gitops.Files("helm", fleet()); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("an unknown format: %v", err)
	}
}
