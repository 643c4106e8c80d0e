package setup_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gitops"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// kubectlCmd runs the installed kubectl against the rig (UseEnv's KUBECONFIG).
func kubectlCmd(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is the witness of the GitOps files: %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// applied are the objects setup makes in ns as the API server holds
// them: names, labels, annotations (but kubectl's own last-applied record),
// spec, and a secret's data and type.
func applied(t *testing.T, r *rig.Rig, ns string) map[string]map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[string]any{}
	keep := func(o *unstructured.Unstructured) {
		ann := o.GetAnnotations()
		delete(ann, corev1.LastAppliedConfigAnnotation)
		if len(ann) == 0 {
			ann = nil
		}
		v := map[string]any{"labels": o.GetLabels(), "annotations": ann}
		for _, f := range []string{"spec", "data", "stringData", "type"} {
			if x, ok := o.Object[f]; ok {
				v[f] = x
			}
		}
		out[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = v
	}
	nsObj, err := r.Dynamic.Resource(gvr.Namespace).Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keep(nsObj)
	for _, res := range []schema.GroupVersionResource{gvr.OperatorGroup, gvr.Subscription, gvr.Secret, gvr.CloudStorage, gvr.DPA} {
		l, err := r.Dynamic.Resource(res).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.Items {
			if l.Items[i].GetKind() == "Secret" && l.Items[i].GetName() != manifests.SecretName {
				continue // the API server's own, not setup's
			}
			keep(&l.Items[i])
		}
	}
	return out
}

// forget removes what the first apply made in ns, so the second meets the
// namespace as new: the objects, and the namespace's labels and annotations
// (a namespace cannot be deleted here: no namespace controller runs).
func forget(t *testing.T, r *rig.Rig, ns string, objs map[string]map[string]any) {
	t.Helper()
	ctx := context.Background()
	res := map[string]schema.GroupVersionResource{"OperatorGroup": gvr.OperatorGroup, "Subscription": gvr.Subscription, "Secret": gvr.Secret,
		"CloudStorage": gvr.CloudStorage, "DataProtectionApplication": gvr.DPA}
	for key := range objs {
		kind, name := strings.Split(key, "/")[0], strings.Split(key, "/")[2]
		if kind == "Namespace" {
			continue
		}
		if err := r.Dynamic.Resource(res[kind]).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	nsObj, err := r.Dynamic.Resource(gvr.Namespace).Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	drop := map[string]any{}
	for k := range nsObj.GetLabels() {
		if k != corev1.LabelMetadataName {
			drop[k] = nil
		}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": drop, "annotations": nil}})
	if _, err := r.Dynamic.Resource(gvr.Namespace).Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// 'kubectl apply -k clusters/NAME' of setup's kustomize output, then setup
// itself on the same cluster once the first's objects are gone: the API
// server holds the same objects, names and specs, after each. Both paths: the
// bucket setup makes, and the chapter's CloudStorage.
func TestKustomizeOverlayAppliesWhatSetupApplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // kinds both must have made
	}{
		{"bucket", nil, []string{"Namespace", "OperatorGroup", "Subscription", "Secret", "DataProtectionApplication"}},
		{"cloudstorage", []string{"--cloudstorage", "--oadp-version", "1.5"}, []string{"Namespace", "OperatorGroup", "Subscription", "Secret", "CloudStorage", "DataProtectionApplication"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rig.Get(t)
			r.Fresh(t)
			r.UseEnv(t)
			ns := "gitops-" + tc.name
			// No OLM runs here to make an InstallPlan: Automatic approval,
			// so setup approves nothing and waits for nothing.
			args := append([]string{"-n", ns, "--install-operator=true", "--approval=Automatic"}, tc.args...)
			dir := t.TempDir()
			res := clitest.Run(t, append([]string{"setup", "--dry-run=client", "--output-dir", dir, "--format", "kustomize"}, args...)...)
			if res.Code != 0 {
				t.Fatalf("setup --format kustomize exit %d: %s", res.Code, res.Stderr)
			}
			for _, f := range []string{"01-iam-policy-", "02-iam-role-"} {
				if m, _ := filepath.Glob(filepath.Join(dir, f+"*.json")); len(m) != 1 {
					t.Errorf("the IAM plan %s* is not beside the GitOps files: %v", f, m)
				}
			}
			kubectlCmd(t, "apply", "-k", filepath.Join(dir, "clusters", rig.InfraName))
			byKubectl := applied(t, r, ns)
			forget(t, r, ns, byKubectl)

			res = clitest.Run(t, append([]string{"setup", "--yes", "--wait=false"}, args...)...)
			if res.Code != 0 {
				t.Fatalf("setup exit %d: %s", res.Code, res.Stderr)
			}
			bySetup := applied(t, r, ns)
			var kinds []string
			for k := range bySetup {
				kinds = append(kinds, strings.Split(k, "/")[0])
			}
			for _, k := range tc.want {
				if !slices.Contains(kinds, k) {
					t.Errorf("setup made no %s (it made %v): the comparison would prove little", k, kinds)
				}
			}
			if !reflect.DeepEqual(byKubectl, bySetup) {
				a, _ := json.MarshalIndent(byKubectl, "", " ")
				b, _ := json.MarshalIndent(bySetup, "", " ")
				t.Errorf("kubectl apply -k made\n%s\nsetup made\n%s", a, b)
			}
		})
	}
}

var (
	managedClusters    = schema.GroupVersionResource{Group: "cluster.open-cluster-management.io", Version: "v1", Resource: "managedclusters"}
	managedClusterSets = schema.GroupVersionResource{Group: "cluster.open-cluster-management.io", Version: "v1beta2", Resource: "managedclustersets"}
	policies           = schema.GroupVersionResource{Group: "policy.open-cluster-management.io", Version: "v1", Resource: "policies"}
	policyTemplates    = map[string]schema.GroupVersionResource{
		"ConfigurationPolicy": {Group: "policy.open-cluster-management.io", Version: "v1", Resource: "configurationpolicies"},
		"OperatorPolicy":      {Group: "policy.open-cluster-management.io", Version: "v1beta1", Resource: "operatorpolicies"},
	}
)

// The ACM output on an API server with ACM's CRDs: 'kubectl apply -k acm
// --dry-run=server' accepts every object, each policy template is accepted
// on its own (the Policy's schema leaves objectDefinition open), and the
// Placement selects exactly this cluster's ManagedCluster among others.
//
//nolint:funlen // one hub on one server: the CRDs, the output, the dry runs, then the selection on the clusters made for it
func TestACMOutputIsAcceptedAndSelectsTheOneCluster(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	fx, err := rig.FixtureDir()
	if err != nil {
		t.Fatal(err)
	}
	crds, _ := filepath.Glob(filepath.Join(fx, "acm", "*.yaml"))
	if len(crds) == 0 {
		t.Fatalf("no ACM CRDs in %s", filepath.Join(fx, "acm"))
	}
	if err := r.ApplyCRDFiles(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := clitest.Run(t, "setup", "--dry-run=client", "--output-dir", dir, "--format", "acm", "--install-operator=true")
	if res.Code != 0 {
		t.Fatalf("setup --format acm exit %d: %s", res.Code, res.Stderr)
	}
	hub := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gitops.HubNamespace}}
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, hub, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	out := kubectlCmd(t, "apply", "-k", filepath.Join(dir, "acm"), "--dry-run=server")
	for _, want := range []string{"policy.policy.open-cluster-management.io/" + gitops.PolicyName(rig.InfraName), "placement.cluster.open-cluster-management.io/", "placementbinding.policy.open-cluster-management.io/", "managedclustersetbinding"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply --dry-run=server did not apply %s:\n%s", want, out)
		}
	}
	if l, err := r.Dynamic.Resource(policies).Namespace(gitops.HubNamespace).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("a server dry run stored policies: %v %v", l, err)
	}

	objs, err := rig.ReadObjects(filepath.Join(dir, "acm", rig.InfraName, "policy.yaml"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("policy.yaml: %v %d", err, len(objs))
	}
	templates, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "policy-templates")
	var kinds []string
	for _, tp := range templates {
		def := &unstructured.Unstructured{Object: tp.(map[string]any)["objectDefinition"].(map[string]any)}
		kinds = append(kinds, def.GetKind())
		dryRunCreate(t, r, def, true)
		// The witness can refuse: the same template with a remediation
		// its schema does not know.
		bad := def.DeepCopy()
		_ = unstructured.SetNestedField(bad.Object, "repair", "spec", "remediationAction")
		dryRunCreate(t, r, bad, false)
	}
	if !reflect.DeepEqual(kinds, []string{"ConfigurationPolicy", "OperatorPolicy", "ConfigurationPolicy"}) {
		t.Errorf("policy templates %v, want the namespace, the operator, then the rest", kinds)
	}

	// The placement controller does not run here. The label selector is
	// judged by the API server; the whole Placement (its cluster set, then
	// its predicates) by our own reading of its API below.
	clusters := []struct{ name, label string }{{rig.InfraName, rig.InfraName}, {rig.InfraName + "-2", rig.InfraName + "-2"}, {"other", "other"}, {"unlabelled", ""}}
	for _, c := range clusters {
		mc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cluster.open-cluster-management.io/v1", "kind": "ManagedCluster",
			"metadata": map[string]any{"name": c.name}, "spec": map[string]any{"hubAcceptsClient": true}}}
		if c.label != "" {
			mc.SetLabels(map[string]string{gitops.ClusterNameLabel: c.label})
		}
		if _, err := r.Dynamic.Resource(managedClusters).Create(ctx, mc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Dynamic.Resource(managedClusters).Delete(ctx, c.name, metav1.DeleteOptions{}) })
	}
	global := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cluster.open-cluster-management.io/v1beta2", "kind": "ManagedClusterSet",
		"metadata": map[string]any{"name": gitops.GlobalClusterSet},
		"spec":     map[string]any{"clusterSelector": map[string]any{"selectorType": "LabelSelector", "labelSelector": map[string]any{}}}}}
	if _, err := r.Dynamic.Resource(managedClusterSets).Create(ctx, global, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Dynamic.Resource(managedClusterSets).Delete(ctx, gitops.GlobalClusterSet, metav1.DeleteOptions{})
	})
	pl, err := rig.ReadObjects(filepath.Join(dir, "acm", rig.InfraName, "placement.yaml"))
	if err != nil || len(pl) != 1 {
		t.Fatalf("placement.yaml: %v", err)
	}
	preds, _, _ := unstructured.NestedSlice(pl[0].Object, "spec", "predicates")
	if len(preds) != 1 {
		t.Fatalf("placement predicates %v, want one", preds)
	}
	sel := labelSelector(t, preds[0], "requiredClusterSelector", "labelSelector")
	l, err := r.Dynamic.Resource(managedClusters).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	if got := namesOf(l.Items); !reflect.DeepEqual(got, []string{rig.InfraName}) {
		t.Errorf("the API server's list by the Placement's selector %q: %v, want only %s", sel, got, rig.InfraName)
	}
	all, err := r.Dynamic.Resource(managedClusters).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := placementSelects(t, r, pl[0], all.Items); !reflect.DeepEqual(got, []string{rig.InfraName}) {
		t.Errorf("the Placement (our reading) selects %v, want only %s", got, rig.InfraName)
	}
}

func dryRunCreate(t *testing.T, r *rig.Rig, obj *unstructured.Unstructured, accept bool) {
	t.Helper()
	res, ok := policyTemplates[obj.GetKind()]
	if !ok {
		t.Fatalf("policy template of kind %s", obj.GetKind())
	}
	_, err := r.Dynamic.Resource(res).Namespace(gitops.HubNamespace).Create(context.Background(), obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case accept && err != nil:
		t.Errorf("%s %s refused: %v", obj.GetKind(), obj.GetName(), err)
	case !accept && err == nil:
		t.Errorf("%s %s with a bad remediationAction accepted: the dry run checks nothing", obj.GetKind(), obj.GetName())
	}
}

func labelSelector(t *testing.T, from any, path ...string) labels.Selector {
	t.Helper()
	m, found, _ := unstructured.NestedMap(from.(map[string]any), path...)
	if !found {
		return labels.Everything()
	}
	var ls metav1.LabelSelector
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatal(err)
	}
	s, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// placementSelects is our own reading of a Placement (ACM's placement
// controller does not run here): a cluster of one of its cluster sets
// (ExclusiveClusterSetLabel: the set's label; LabelSelector: the set's
// selector) that one of its predicates selects, by labels and claims.
func placementSelects(t *testing.T, r *rig.Rig, pl *unstructured.Unstructured, clusters []unstructured.Unstructured) []string {
	t.Helper()
	sets, _, _ := unstructured.NestedStringSlice(pl.Object, "spec", "clusterSets")
	var setSelectors []labels.Selector
	for _, name := range sets {
		set, err := r.Dynamic.Resource(managedClusterSets).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cs, _, _ := unstructured.NestedMap(set.Object, "spec", "clusterSelector")
		if cs["selectorType"] == "LabelSelector" {
			setSelectors = append(setSelectors, labelSelector(t, cs, "labelSelector"))
		} else {
			setSelectors = append(setSelectors, labels.SelectorFromSet(labels.Set{"cluster.open-cluster-management.io/clusterset": name}))
		}
	}
	preds, _, _ := unstructured.NestedSlice(pl.Object, "spec", "predicates")
	var out []unstructured.Unstructured
	for _, c := range clusters {
		lbl := labels.Set(c.GetLabels())
		inSet := len(sets) == 0
		for _, s := range setSelectors {
			inSet = inSet || s.Matches(lbl)
		}
		claims := labels.Set{}
		cl, _, _ := unstructured.NestedSlice(c.Object, "status", "clusterClaims")
		for _, x := range cl {
			claims[x.(map[string]any)["name"].(string)] = x.(map[string]any)["value"].(string)
		}
		picked := len(preds) == 0
		for _, p := range preds {
			picked = picked || (labelSelector(t, p, "requiredClusterSelector", "labelSelector").Matches(lbl) &&
				labelSelector(t, p, "requiredClusterSelector", "claimSelector").Matches(claims))
		}
		if inSet && picked {
			out = append(out, c)
		}
	}
	return namesOf(out)
}

func namesOf(items []unstructured.Unstructured) []string {
	out := make([]string, len(items))
	for i, o := range items {
		out[i] = o.GetName()
	}
	sort.Strings(out)
	return out
}
