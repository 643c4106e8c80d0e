package olm

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// ReadStartingCSV reads the package's PackageManifest in the catalog's
// namespace and picks the CSV to start at (see StartingCSV). found is false
// when the package server does not serve the API or has no such package:
// the Subscription then names no startingCSV, and setup approves only a plan
// of the minor version.
func ReadStartingCSV(ctx context.Context, c dynamic.Interface, catalogNS, pkg, channel, minor string) (csv string, found bool, err error) {
	pm, err := c.Resource(gvr.PackageManifest).Namespace(catalogNS).Get(ctx, pkg, metav1.GetOptions{})
	switch {
	case kube.IsTypeMissing(err), apierrors.IsNotFound(err):
		return "", false, nil
	case err != nil:
		return "", false, kube.Explain(err, gvr.PackageManifest, pkg)
	}
	csv, err = StartingCSV(pm, channel, minor)
	return csv, true, err
}

// Approver approves the InstallPlan of the version setup installs.
type Approver struct {
	Client  dynamic.Interface
	Out     io.Writer
	Live    bool
	Timeout time.Duration
}

// Approve waits for OLM to make the Subscription's InstallPlan and approves
// it when, and only when, it installs the target's CSV. Any other plan (one
// that would install another version) is left alone and is an error: setup
// must not install a version whose DPA and IAM needs it did not check. An
// already approved plan, or the target's minor version already installed
// (a rerun), needs nothing.
func (a *Approver) Approve(ctx context.Context, t Target) (Plan, error) {
	subs := a.Client.Resource(gvr.Subscription).Namespace(t.Namespace)
	sub, err := wait.For(ctx, subs, t.Subscription, func(o *unstructured.Unstructured) (bool, error) {
		return kube.Str(o.Object, "status", "installPlanRef", "name") != "" || kube.Str(o.Object, "status", "installedCSV") != "", nil
	}, wait.Options{What: fmt.Sprintf("OLM's InstallPlan for subscription %q", t.Subscription), Timeout: a.Timeout, Out: a.Out, Live: a.Live,
		Progress: func(o *unstructured.Unstructured) string {
			return "subscription/" + t.Subscription + " " + orNone(kube.Str(o.Object, "status", "state")) + ", no InstallPlan yet"
		}})
	if err != nil {
		return Plan{}, err
	}
	// Installed already, or another patch of the same minor version: setup
	// installs nothing more, and a pending plan is an upgrade for a person.
	if installed := kube.Str(sub.Object, "status", "installedCSV"); installed != "" && (Target{Minor: t.Minor}).Matches(installed) {
		return Plan{}, nil
	}
	name := kube.Str(sub.Object, "status", "installPlanRef", "name")
	if name == "" {
		return Plan{}, fmt.Errorf("subscription %q installed %s, not %s, and names no InstallPlan", t.Subscription, kube.Str(sub.Object, "status", "installedCSV"), t)
	}
	plans := a.Client.Resource(gvr.InstallPlan).Namespace(t.Namespace)
	ip, err := plans.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Plan{}, kube.Explain(err, gvr.InstallPlan, name)
	}
	p := PlanOf(ip)
	if !p.Installs(t) {
		return p, fmt.Errorf("installplan/%s would install %s, not %s: setup approves only the version it writes the DPA for; "+
			"check the Subscription's channel and startingCSV ('oc -n %s get subscription %s -o yaml'), or pass --oadp-version %s",
			name, strings.Join(p.CSVs, ", "), t, t.Namespace, t.Subscription, minorOf(p.Version()))
	}
	if p.Approved {
		return p, nil
	}
	if _, err := plans.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"approved":true}}`), metav1.PatchOptions{}); err != nil {
		return p, kube.Explain(err, gvr.InstallPlan, name)
	}
	p.Approved = true
	return p, nil
}

func minorOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// ListPlans reads the namespace's InstallPlans.
func ListPlans(ctx context.Context, c dynamic.Interface, ns string) ([]Plan, error) {
	list, err := c.Resource(gvr.InstallPlan).Namespace(ns).List(ctx, metav1.ListOptions{})
	switch {
	case kube.IsTypeMissing(err):
		return nil, nil
	case err != nil:
		return nil, kube.Explain(err, gvr.InstallPlan, "")
	}
	out := make([]Plan, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, PlanOf(&list.Items[i]))
	}
	return out, nil
}
