package record

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/apply"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// Read reads the record on namespace ns: one GET when setup wrote one. A
// namespace without a record has its secret, Subscription, DPAs and
// CloudStorages read instead, at once, as evidence of a setup made before
// the record existed or by hand. A missing namespace or API is no evidence;
// only an unreadable namespace is an error, as every command reads it anyway.
func Read(ctx context.Context, c dynamic.Interface, ns string) (Evidence, error) {
	ev := Evidence{Namespace: ns}
	nsObj, err := c.Resource(gvr.Namespace).Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return ev, nil
	case err != nil:
		return ev, kube.Explain(err, gvr.Namespace, ns)
	}
	ev.Recorded = FromAnnotations(nsObj.GetAnnotations())
	if !ev.Recorded.Empty() {
		return ev, nil
	}

	// The evidence only helps find names: what cannot be read is left out.
	var wg sync.WaitGroup
	list := func(r schema.GroupVersionResource) []unstructured.Unstructured {
		l, err := c.Resource(r).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil
		}
		return l.Items
	}
	wg.Go(func() {
		s, err := c.Resource(gvr.Secret).Namespace(ns).Get(ctx, manifests.SecretName, metav1.GetOptions{})
		if err != nil {
			return
		}
		ev.SecretRoleARN = secretRoleARN(s)
	})
	wg.Go(func() {
		for _, s := range list(gvr.Subscription) {
			if pkg := kube.Str(s.Object, "spec", "name"); pkg == manifests.PackageName || pkg == "oadp-operator" {
				ev.SubscriptionRoleARN = subscriptionRoleARN(&s)
			}
		}
	})
	wg.Go(func() {
		for _, d := range list(gvr.DPA) {
			if ours(&d) {
				ev.DPAs = append(ev.DPAs, DPA{Name: d.GetName(), CloudStorages: cloudStorageRefs(&d)})
			}
		}
	})
	wg.Go(func() {
		for _, cs := range list(gvr.CloudStorage) {
			if ours(&cs) {
				ev.CloudStorages = append(ev.CloudStorages, CloudStorage{Name: cs.GetName(), Bucket: kube.Str(cs.Object, "spec", "name")})
			}
		}
	})
	wg.Wait()
	return ev, nil
}

// Resolve reads the evidence in ns and decides the names: what each command
// calls before it reads or changes anything by name.
func Resolve(ctx context.Context, c dynamic.Interface, ns string, fl Flags) (Names, error) {
	ev, err := Read(ctx, c, ns)
	if err != nil {
		return Names{}, err
	}
	return Decide(fl, ev)
}

// IsConflict reports whether err is a flag contradicting the record.
func IsConflict(err error) bool {
	var ce *ConflictError
	return errors.As(err, &ce)
}

// ours reports whether the plugin applied o: its label alone can be copied
// onto an object someone else manages, and adopting that object would take
// it over.
func ours(o *unstructured.Unstructured) bool {
	if o.GetLabels()[manifests.ManagedByLabel] != manifests.ManagedByValue {
		return false
	}
	for _, m := range o.GetManagedFields() {
		if m.Manager == apply.FieldManager {
			return true
		}
	}
	return false
}

// secretRoleARN is the role_arn of the default profile in the secret's
// credentials key, which is what OADP's pods read.
func secretRoleARN(s *unstructured.Unstructured) string {
	var file string
	if v := kube.Str(s.Object, "stringData", manifests.SecretKey); v != "" {
		file = v
	} else if enc := kube.Str(s.Object, "data", manifests.SecretKey); enc != "" {
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return ""
		}
		file = string(b)
	}
	in := false
	for _, line := range strings.Split(file, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[1:len(line)-1]), "profile "))
			in = section == "default"
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && in && strings.TrimSpace(k) == "role_arn" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func subscriptionRoleARN(sub *unstructured.Unstructured) string {
	env, _, _ := unstructured.NestedSlice(sub.Object, "spec", "config", "env")
	for _, e := range env {
		if m, ok := e.(map[string]any); ok && kube.Str(m, "name") == "ROLEARN" {
			return kube.Str(m, "value")
		}
	}
	return ""
}

// cloudStorageRefs are the CloudStorages the DPA's bucket locations name.
func cloudStorageRefs(dpa *unstructured.Unstructured) []string {
	locs, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "backupLocations")
	var out []string
	for _, l := range locs {
		m, ok := l.(map[string]any)
		if !ok {
			continue
		}
		if name := kube.Str(m, "bucket", "cloudStorageRef", "name"); name != "" {
			out = append(out, name)
		}
	}
	return out
}
