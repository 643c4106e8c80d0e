package rig

import (
	"context"
	"encoding/json"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// oadpNamespace is where setup works unless told otherwise.
const oadpNamespace = "openshift-adp"

// forgetSetup removes what would let the next test's commands find an earlier
// test's setup (pkg/record): the record annotations on the OADP namespace,
// and the plugin's secret, Subscription, DPAs and CloudStorages there (the
// CloudStorages' finalizers released, as no operator runs here). Objects
// without the plugin's label are left: tests that make them by hand clean up.
func (r *Rig) forgetSetup(ctx context.Context) error {
	ns, err := r.Dynamic.Resource(gvr.Namespace).Get(ctx, oadpNamespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	drop := map[string]any{}
	for k := range ns.GetAnnotations() {
		if strings.HasPrefix(k, "oadp-sts.openshift.io/") {
			drop[k] = nil
		}
	}
	if len(drop) > 0 {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": drop}})
		if _, err := r.Dynamic.Resource(gvr.Namespace).Patch(ctx, oadpNamespace, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return err
		}
	}
	ours := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-oadp_sts"}
	for _, res := range []schema.GroupVersionResource{gvr.Secret, gvr.Subscription, gvr.DPA, gvr.CloudStorage} {
		c := r.Dynamic.Resource(res).Namespace(oadpNamespace)
		l, err := c.List(ctx, ours)
		if err != nil {
			continue // an API this rig does not serve
		}
		for _, o := range l.Items {
			if len(o.GetFinalizers()) > 0 {
				_, _ = c.Patch(ctx, o.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			}
			if err := c.Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}
