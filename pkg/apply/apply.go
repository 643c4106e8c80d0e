// Package apply sends built objects to the cluster with server-side apply
// under the plugin's own field manager, and says for each whether it was
// created, configured or left unchanged.
package apply

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
)

// FieldManager is the plugin's name in managedFields.
const FieldManager = "kubectl-oadp_sts"

// ErrTypeMissing is wrapped by Apply when the API server does not serve the
// object's kind (its CRD is absent, or not served yet).
var ErrTypeMissing = errors.New("the cluster does not serve")

// Actions, as kubectl apply words them.
const (
	Created    = "created"
	Configured = "configured"
	Unchanged  = "unchanged"
)

// Result is what happened to one object.
type Result struct {
	Object *unstructured.Unstructured // as the server returned it
	Action string
}

// String is kubectl's "kind/name action" line.
func (r Result) String() string {
	s := strings.ToLower(r.Object.GetKind()) + "/" + r.Object.GetName() + " " + r.Action
	return s
}

// Applier applies objects.
type Applier struct {
	Client dynamic.Interface
	// DryRun sends every request with dryRun=All: the server validates and
	// admits, nothing is stored.
	DryRun bool
	// Force takes over fields another manager owns.
	Force bool
}

// Resource returns the client for obj's kind.
func Resource(c dynamic.Interface, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	r, namespaced, ok := gvr.ForKind(obj.GroupVersionKind().GroupKind())
	if !ok {
		return nil, fmt.Errorf("no resource known for kind %s", obj.GroupVersionKind())
	}
	if namespaced {
		return c.Resource(r).Namespace(obj.GetNamespace()), nil
	}
	return c.Resource(r), nil
}

// Existing reads the current state of objs at once; a nil entry means absent.
func (a *Applier) Existing(ctx context.Context, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, len(objs))
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	for i, o := range objs {
		wg.Go(func() {
			res, err := Resource(a.Client, o)
			if err != nil {
				errs[i] = err
				return
			}
			cur, err := res.Get(ctx, o.GetName(), metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				// Absent; a missing type (CRD not installed yet) also lands here
				// and surfaces when the apply is attempted.
			case err != nil:
				r, _, _ := gvr.ForKind(o.GroupVersionKind().GroupKind())
				errs[i] = kube.Explain(err, r, o.GetName())
			default:
				out[i] = cur
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Apply applies one object; existing is its current state (nil if absent).
func (a *Applier) Apply(ctx context.Context, obj, existing *unstructured.Unstructured) (Result, error) {
	res, err := Resource(a.Client, obj)
	if err != nil {
		return Result{}, err
	}
	body, err := json.Marshal(forApply(obj).Object)
	if err != nil {
		return Result{}, err
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager}
	if a.Force {
		opts.Force = &a.Force
	}
	if a.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		return Result{}, explainApply(obj, err)
	}
	action := Configured
	switch {
	case existing == nil:
		action = Created
	case existing.GetResourceVersion() == got.GetResourceVersion():
		action = Unchanged
	}
	return Result{Object: got, Action: action}, nil
}

// forApply turns a Secret's stringData into data: stringData is write-only,
// so applying it again would look like a change to the field manager.
func forApply(obj *unstructured.Unstructured) *unstructured.Unstructured {
	sd, found, _ := unstructured.NestedStringMap(obj.Object, "stringData")
	if obj.GetKind() != "Secret" || !found {
		return obj
	}
	out := obj.DeepCopy()
	delete(out.Object, "stringData")
	data := map[string]any{}
	for k, v := range sd {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	out.Object["data"] = data
	return out
}

// explainApply names the conflicting fields and their owners, and the flag
// that takes them over.
func explainApply(obj *unstructured.Unstructured, err error) error {
	what := strings.ToLower(obj.GetKind()) + "/" + obj.GetName()
	if apierrors.IsConflict(err) {
		var st apierrors.APIStatus
		var fields []string
		if errors.As(err, &st) && st.Status().Details != nil {
			for _, c := range st.Status().Details.Causes {
				fields = append(fields, strings.TrimSpace(c.Message))
			}
		}
		detail := cmp.Or(strings.Join(fields, "; "), err.Error())
		return fmt.Errorf("%s exists and another manager owns fields we would change (%s): rerun with --force-conflicts to take them over, or change the object by hand", what, detail)
	}
	if kube.IsTypeMissing(err) {
		return fmt.Errorf("%s: %w %s yet; is the OADP operator installed? (--install-operator=true installs it)", what, ErrTypeMissing, obj.GetAPIVersion())
	}
	r, _, _ := gvr.ForKind(obj.GroupVersionKind().GroupKind())
	if apierrors.IsInvalid(err) {
		return fmt.Errorf("the API server rejected %s: %v", what, err)
	}
	return fmt.Errorf("apply %s: %w", what, kube.Explain(err, r, obj.GetName()))
}
