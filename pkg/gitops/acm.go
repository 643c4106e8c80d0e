package gitops

import (
	"os"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
)

// The hub's side of the ACM output.
const (
	// HubNamespace holds the Policies, Placements and PlacementBindings; a
	// kustomize 'namespace:' on acm/ moves them, as templates hold the rest.
	HubNamespace = "oadp-sts-policies"
	// GlobalClusterSet is the ManagedClusterSet ACM makes with every cluster
	// in it; a Placement selects only from sets bound to its namespace.
	GlobalClusterSet = "global"
	// ClusterNameLabel is the label ACM puts on every ManagedCluster: its name.
	ClusterNameLabel = "name"

	policyGroup    = "policy.open-cluster-management.io"
	policyAPI      = policyGroup + "/v1"
	clusterGroup   = "cluster.open-cluster-management.io"
	placementAPI   = clusterGroup + "/v1beta1"
	setBindingAPI  = clusterGroup + "/v1beta2"
	operatorAPI    = policyGroup + "/v1beta1"
	olmGroupPrefix = "operators.coreos.com/"

	nsTemplate       = "oadp-sts-namespace"
	operatorTemplate = "oadp-sts-operator"
	objectsTemplate  = "oadp-sts-objects"
)

// acmClusterFiles are the files of each cluster's directory in acm/.
var acmClusterFiles = []string{"policy.yaml", "placement.yaml", "placementbinding.yaml"}

// keptACM are the clusters of an earlier run in dir/acm that clusters do
// not rewrite: each directory that holds all of a cluster's files.
func keptACM(dir string, clusters []Cluster) []string {
	entries, err := os.ReadDir(filepath.Join(dir, "acm"))
	if err != nil {
		return nil
	}
	mine := map[string]bool{}
	for _, c := range clusters {
		mine[c.Name] = true
	}
	var kept []string
	for _, e := range entries {
		if !e.IsDir() || mine[e.Name()] {
			continue
		}
		all := true
		for _, f := range acmClusterFiles {
			_, err := os.Stat(filepath.Join(dir, "acm", e.Name(), f))
			all = all && err == nil
		}
		if all {
			kept = append(kept, e.Name())
		}
	}
	sort.Strings(kept)
	return kept
}

// PolicyName is the Policy (and Placement, PlacementBinding) of a cluster.
// ACM replicates a Policy as NAMESPACE.NAME, which must fit a DNS label.
func PolicyName(cluster string) string {
	return names.Fit("oadp-sts-"+cluster, "", names.MaxDNSLabel-len(HubNamespace)-1)
}

// ACM writes, for a hub, acm/ with its namespace, the binding of the global
// cluster set, and per cluster a Policy (the namespace, the operator as an
// OperatorPolicy, then the other objects, each template enforced once the one
// before is compliant), a Placement selecting that ManagedCluster by its name
// label, and the PlacementBinding between them.
func ACM(clusters []Cluster) ([]File, error) { return acm(clusters, nil) }

// acm is ACM's files; kept are clusters an earlier run wrote into acm/,
// which its kustomization keeps listing (a GitOps tool would prune them).
func acm(clusters []Cluster, kept []string) ([]File, error) {
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": HubNamespace}}
	binding := map[string]any{
		"apiVersion": setBindingAPI, "kind": "ManagedClusterSetBinding",
		"metadata": map[string]any{"name": GlobalClusterSet, "namespace": HubNamespace},
		"spec":     map[string]any{"clusterSet": GlobalClusterSet},
	}
	var files []File
	add := func(p string, obj map[string]any) error {
		b, err := toYAML(obj)
		if err != nil {
			return err
		}
		files = append(files, File{Path: "acm/" + p, Data: b})
		return nil
	}
	resources := []string{"namespace.yaml", "managedclustersetbinding.yaml"}
	if err := add("namespace.yaml", ns); err != nil {
		return nil, err
	}
	if err := add("managedclustersetbinding.yaml", binding); err != nil {
		return nil, err
	}
	for _, c := range clusters {
		for _, f := range []struct {
			name string
			obj  map[string]any
		}{{acmClusterFiles[0], Policy(c)}, {acmClusterFiles[1], Placement(c.Name)}, {acmClusterFiles[2], PlacementBinding(c.Name)}} {
			if err := add(c.Name+"/"+f.name, f.obj); err != nil {
				return nil, err
			}
			resources = append(resources, c.Name+"/"+f.name)
		}
	}
	for _, name := range kept {
		for _, f := range acmClusterFiles {
			resources = append(resources, name+"/"+f)
		}
	}
	k, err := kustomization("# The hub's objects: 'kubectl apply -k .' on the ACM hub.\n", resources, nil)
	if err != nil {
		return nil, err
	}
	return append(files, File{Path: "acm/kustomization.yaml", Data: k}), nil
}

// Policy wraps a cluster's objects in enforced templates: the namespace
// first, then the operator (OLM's objects as an OperatorPolicy), then the
// rest, whose kinds the operator serves; each waits for the one before.
func Policy(c Cluster) map[string]any {
	var nsObjs, rest []*unstructured.Unstructured
	var sub, og *unstructured.Unstructured
	for _, o := range c.Objects {
		switch {
		case o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace":
			nsObjs = append(nsObjs, o)
		case o.GetAPIVersion() == olmGroupPrefix+"v1alpha1" && o.GetKind() == "Subscription" && sub == nil:
			sub = o
		case o.GetAPIVersion() == olmGroupPrefix+"v1" && o.GetKind() == "OperatorGroup" && og == nil:
			og = o
		default:
			rest = append(rest, o)
		}
	}
	if sub == nil && og != nil {
		rest = append([]*unstructured.Unstructured{og}, rest...)
	}
	var templates []any
	var last string
	if len(nsObjs) > 0 {
		templates = append(templates, template(configurationPolicy(nsTemplate, nsObjs), ""))
		last = nsTemplate
	}
	if sub != nil {
		templates = append(templates, template(operatorPolicy(sub, og), last))
		last = operatorTemplate
	}
	if len(rest) > 0 {
		templates = append(templates, template(configurationPolicy(objectsTemplate, rest), last))
	}
	return map[string]any{
		"apiVersion": policyAPI, "kind": "Policy",
		"metadata": map[string]any{
			"name": PolicyName(c.Name), "namespace": HubNamespace,
			"annotations": map[string]any{"policy.open-cluster-management.io/description": "OADP on AWS STS for cluster " + c.Name + ", as kubectl oadp-sts setup applies it; its IAM role and bucket are made by setup or from the IAM plan beside this"},
		},
		"spec": map[string]any{
			"disabled":          false,
			"remediationAction": "enforce",
			"policy-templates":  templates,
		},
	}
}

func template(def map[string]any, after string) map[string]any {
	t := map[string]any{"objectDefinition": def}
	if after != "" {
		apiVersion, kind := policyAPI, "ConfigurationPolicy"
		if after == operatorTemplate {
			apiVersion, kind = operatorAPI, "OperatorPolicy"
		}
		t["extraDependencies"] = []any{map[string]any{
			"apiVersion": apiVersion, "kind": kind, "name": after, "compliance": "Compliant",
		}}
	}
	return t
}

func configurationPolicy(name string, objs []*unstructured.Unstructured) map[string]any {
	ts := make([]any, len(objs))
	for i, o := range objs {
		ts[i] = map[string]any{"complianceType": "musthave", "objectDefinition": o.DeepCopy().Object}
	}
	return map[string]any{
		"apiVersion": policyAPI, "kind": "ConfigurationPolicy",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"remediationAction": "enforce",
			"severity":          "high",
			"object-templates":  ts,
		},
	}
}

// operatorPolicy is setup's Subscription and OperatorGroup as ACM's operator
// policy. Setup's Manual approval (it approves the InstallPlan of the CSV it
// starts at, no upgrade) is upgradeApproval None with that CSV as the only
// version; the controller owns installPlanApproval, so it is left out.
func operatorPolicy(sub, og *unstructured.Unstructured) map[string]any {
	spec, _, _ := unstructured.NestedMap(sub.Object, "spec")
	approval, _ := spec["installPlanApproval"].(string)
	delete(spec, "installPlanApproval")
	spec["namespace"] = sub.GetNamespace()
	p := map[string]any{
		"complianceType":    "musthave",
		"remediationAction": "enforce",
		"severity":          "high",
		"subscription":      spec,
		"upgradeApproval":   "None",
	}
	if approval == "Automatic" {
		p["upgradeApproval"] = "Automatic"
	} else if csv, _ := spec["startingCSV"].(string); csv != "" {
		p["versions"] = []any{csv}
	}
	if og != nil {
		g := map[string]any{"name": og.GetName(), "namespace": og.GetNamespace()}
		if t, ok, _ := unstructured.NestedSlice(og.Object, "spec", "targetNamespaces"); ok {
			g["targetNamespaces"] = t
		}
		p["operatorGroup"] = g
	}
	return map[string]any{
		"apiVersion": operatorAPI, "kind": "OperatorPolicy",
		"metadata": map[string]any{"name": operatorTemplate},
		"spec":     p,
	}
}

// Placement selects the one ManagedCluster whose name label is cluster, from
// the global set (which holds every cluster).
func Placement(cluster string) map[string]any {
	return map[string]any{
		"apiVersion": placementAPI, "kind": "Placement",
		"metadata": map[string]any{"name": PolicyName(cluster), "namespace": HubNamespace},
		"spec": map[string]any{
			"clusterSets": []any{GlobalClusterSet},
			"predicates": []any{map[string]any{"requiredClusterSelector": map[string]any{
				"labelSelector": map[string]any{"matchLabels": map[string]any{ClusterNameLabel: cluster}},
			}}},
		},
	}
}

// PlacementBinding binds the cluster's Policy to its Placement.
func PlacementBinding(cluster string) map[string]any {
	name := PolicyName(cluster)
	return map[string]any{
		"apiVersion": policyAPI, "kind": "PlacementBinding",
		"metadata":     map[string]any{"name": name, "namespace": HubNamespace},
		"placementRef": map[string]any{"apiGroup": clusterGroup, "kind": "Placement", "name": name},
		"subjects":     []any{map[string]any{"apiGroup": policyGroup, "kind": "Policy", "name": name}},
	}
}
