package gitops

import (
	"cmp"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// substringMin is the shortest value replaced inside a longer string (the
// role ARN in the credentials profile): a short cluster name would match
// inside unrelated words. Shorter values are replaced only as whole fields.
const substringMin = 8

const baseHeader = "# The objects every cluster gets, with ${NAME} where each overlay in\n" +
	"# ../clusters/ gives its cluster's own value: apply an overlay\n" +
	"# ('kubectl apply -k clusters/NAME'), never this base on its own.\n"

// slot is one object of the base: the same kind in the same namespace,
// under the same name once each cluster's values are placeholders.
type slot struct {
	key  string
	base *unstructured.Unstructured
	file string
}

// Kustomize splits the clusters' objects into base/ (every object all the
// clusters have, with placeholders for their own values) and clusters/NAME/
// (JSON 6902 patches from the base to exactly that cluster's objects, and the
// objects only it has). The overlays are exact whatever the placeholders:
// each patch is the difference between the base and the cluster's object.
func Kustomize(clusters []Cluster) ([]File, error) {
	keys := make([][]string, len(clusters))
	real := map[string]bool{} // slots keyed by their real names
	count := map[string]int{}
	for i, c := range clusters {
		keys[i] = make([]string, len(c.Objects))
		seen := map[string]bool{}
		for j, o := range c.Objects {
			k := slotKey(neutral(o, c.Values))
			if seen[k] {
				// Two of this cluster's objects look alike once neutral:
				// keep them apart by their real names.
				k = slotKey(o)
				real[k] = true
			}
			seen[k] = true
			keys[i][j] = k
			count[k]++
		}
	}
	var slots []slot
	bySlot := map[string]*slot{}
	for j, o := range clusters[0].Objects {
		k := keys[0][j]
		if count[k] != len(clusters) {
			continue
		}
		b := neutral(o, clusters[0].Values)
		if real[k] {
			b = o.DeepCopy()
		}
		slots = append(slots, slot{key: k, base: b, file: fmt.Sprintf("%02d-%s", len(slots)+1, fileName(b))})
	}
	for i := range slots {
		bySlot[slots[i].key] = &slots[i]
	}

	var files []File
	var resources []string
	for _, s := range slots {
		data, err := toYAML(s.base.Object)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: "base/" + s.file, Data: data})
		resources = append(resources, s.file)
	}
	k, err := kustomization(baseHeader, resources, nil)
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: "base/kustomization.yaml", Data: k})

	for i, c := range clusters {
		fs, err := overlay(c, keys[i], bySlot)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

// overlay is one cluster's directory.
func overlay(c Cluster, keys []string, bySlot map[string]*slot) ([]File, error) {
	dir := "clusters/" + c.Name + "/"
	var files []File
	resources := []string{"../../base"}
	var patches []map[string]any
	for j, o := range c.Objects {
		s := bySlot[keys[j]]
		if s == nil {
			name := fmt.Sprintf("%02d-%s", j+1, fileName(o))
			data, err := toYAML(o.Object)
			if err != nil {
				return nil, err
			}
			files = append(files, File{Path: dir + name, Data: data})
			resources = append(resources, name)
			continue
		}
		ops := diff(nil, s.base.Object, o.Object)
		if len(ops) == 0 {
			continue
		}
		name := "patch-" + strings.TrimSuffix(s.file, ".yaml")[3:] + ".yaml"
		data, err := toYAML(ops)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: dir + name, Data: data})
		gv, _ := schema.ParseGroupVersion(s.base.GetAPIVersion())
		// kustomize reads a target's name as a regular expression.
		target := map[string]any{"version": gv.Version, "kind": s.base.GetKind(), "name": "^" + regexp.QuoteMeta(s.base.GetName()) + "$"}
		if gv.Group != "" {
			target["group"] = gv.Group
		}
		if ns := s.base.GetNamespace(); ns != "" {
			target["namespace"] = "^" + regexp.QuoteMeta(ns) + "$"
		}
		p := map[string]any{"path": name, "target": target}
		if o.GetName() != s.base.GetName() {
			p["options"] = map[string]any{"allowNameChange": true}
		}
		patches = append(patches, p)
	}
	header := fmt.Sprintf("# Cluster %s: 'kubectl apply -k .' on it applies what setup applies there.\n", c.Name)
	k, err := kustomization(header, resources, patches)
	if err != nil {
		return nil, err
	}
	return append(files, File{Path: dir + "kustomization.yaml", Data: k}), nil
}

func kustomization(header string, resources []string, patches []map[string]any) ([]byte, error) {
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  resources,
	}
	if len(patches) > 0 {
		k["patches"] = patches
	}
	b, err := toYAML(k)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), b...), nil
}

func slotKey(o *unstructured.Unstructured) string {
	return strings.Join([]string{o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName()}, "|")
}

// neutral is o with the cluster's values as placeholders. The namespace is
// never replaced: a patch cannot move an object to another namespace.
func neutral(o *unstructured.Unstructured, values map[string]string) *unstructured.Unstructured {
	c := o.DeepCopy()
	ns := o.GetNamespace()
	if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
		ns = o.GetName()
	}
	keys := sortedKeys(values)
	// Longest first: a role ARN holds the cluster's name.
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(len(values[b]), len(values[a])) })
	replace := func(s string) string {
		if s == ns || s == "" {
			return s
		}
		for _, k := range keys {
			if v := values[k]; v != "" && s == v {
				return "${" + k + "}"
			}
		}
		for _, k := range keys {
			if v := values[k]; len(v) >= substringMin && v != ns {
				s = strings.ReplaceAll(s, v, "${"+k+"}")
			}
		}
		return s
	}
	for k, v := range c.Object {
		if k == "apiVersion" || k == "kind" {
			continue
		}
		c.Object[k] = walk(v, []string{k}, replace)
	}
	return c
}

func walk(v any, at []string, replace func(string) string) any {
	switch t := v.(type) {
	case string:
		if len(at) == 2 && at[0] == "metadata" && at[1] == "namespace" {
			return t
		}
		return replace(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = walk(e, append(slices.Clip(at), k), replace)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = walk(e, append(slices.Clip(at), "[]"), replace)
		}
		return out
	}
	return v
}

// diff is the JSON 6902 operations that turn from into to. Maps are
// compared key by key; a list or a value that differs is replaced whole.
func diff(at []string, from, to map[string]any) []map[string]any {
	var ops []map[string]any
	ptr := func(k string) string {
		parts := make([]string, 0, len(at)+1)
		for _, p := range append(slices.Clip(at), k) {
			parts = append(parts, strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
		}
		return "/" + strings.Join(parts, "/")
	}
	for _, k := range sortedKeys(from) {
		if _, ok := to[k]; !ok {
			ops = append(ops, map[string]any{"op": "remove", "path": ptr(k)})
		}
	}
	for _, k := range sortedKeys(to) {
		tv := to[k]
		fv, ok := from[k]
		switch {
		case !ok:
			ops = append(ops, map[string]any{"op": "add", "path": ptr(k), "value": tv})
		case reflect.DeepEqual(fv, tv):
		default:
			fm, fok := fv.(map[string]any)
			tm, tok := tv.(map[string]any)
			if fok && tok {
				ops = append(ops, diff(append(slices.Clip(at), k), fm, tm)...)
				continue
			}
			ops = append(ops, map[string]any{"op": "replace", "path": ptr(k), "value": tv})
		}
	}
	return ops
}
