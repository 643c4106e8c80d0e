// Package install puts the cluster side of OADP in place: it checks the
// namespace before anything is sent, applies the objects built by
// pkg/manifests in order, and waits until Velero's storage location works.
// That is its one job, setup's: it takes the dynamic client it applies with
// and builds nothing else. Checks setup shares with status (the storage fit,
// the likely causes of Velero's errors) live in pkg/checks; it must not
// decide names (pkg/record) or build objects (pkg/manifests).
package install

import (
	"context"
	"errors"
	"fmt"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/apply"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// Installer applies and waits.
type Installer struct {
	Client dynamic.Interface
	// Out receives one line per object and the progress of waits.
	Out io.Writer
	// Live shows waits as one line rewritten in place (a terminal).
	Live bool
	// DryRun is --dry-run=server: everything is sent with dryRun=All.
	DryRun bool
	// Force is --force-conflicts.
	Force bool
	// Timeout bounds each wait.
	Timeout time.Duration
	// TrustChanged is when this run created the role or changed its trust
	// policy, zero when it did neither: STS may refuse the role for a while
	// after, until IAM has propagated the change, so WaitBSL waits through
	// an AccessDenied instead of failing at once.
	TrustChanged time.Time
	// Approval, with Manual approval, is the one CSV whose InstallPlan Apply
	// approves before it waits for the operator's CRDs; nil with Automatic.
	Approval *olm.Target
}

// Preflight checks the namespace before anything is sent: another DPA would
// fight ours over the same Velero (OADP 1.5 refuses it outright). Its
// warnings are changes this run makes that the user may not mean: setup
// converges on its flags, so a rerun without --fs-backup turns the node
// agent off.
func (i *Installer) Preflight(ctx context.Context, o manifests.Options) (warnings []string, err error) {
	o = o.WithDefaults()
	list, err := i.Client.Resource(gvr.DPA).Namespace(o.Namespace).List(ctx, metav1.ListOptions{})
	switch {
	case kube.IsTypeMissing(err), apierrors.IsNotFound(err):
		return nil, nil // operator not installed yet: nothing to collide with
	case err != nil:
		return nil, kube.Explain(err, gvr.DPA, "")
	}
	for _, d := range list.Items {
		if d.GetName() != o.DPAName {
			return nil, fmt.Errorf("namespace %q already has DataProtectionApplication %q: OADP runs one DPA per namespace; "+
				"reuse it with --dpa-name %s, or delete it first ('oc -n %s delete dpa %s')", o.Namespace, d.GetName(), d.GetName(), o.Namespace, d.GetName())
		}
		if manifests.FSBackupEnabled(&d) && !o.NodeAgent() {
			warnings = append(warnings, fmt.Sprintf("dataprotectionapplication/%s runs the node agent for file-system backup, and this run turns it off: rerun with --fs-backup to keep it", d.GetName()))
		}
	}
	return warnings, nil
}

// Apply sends objs in order. Objects whose API is served only once the
// operator is installed (CloudStorage, DPA) wait for their CRDs when
// installOperator is set.
func (i *Installer) Apply(ctx context.Context, objs []*unstructured.Unstructured, installOperator bool) ([]apply.Result, error) {
	a := &apply.Applier{Client: i.Client, DryRun: i.DryRun, Force: i.Force}
	existing, err := a.Existing(ctx, objs)
	if err != nil {
		return nil, err
	}
	// A server dry run stores nothing, so objects inside a namespace (or of
	// a CRD) that the same run would create cannot be checked by the server.
	absentNS := map[string]bool{}
	if i.DryRun {
		for n, obj := range objs {
			if obj.GetKind() == "Namespace" && existing[n] == nil {
				absentNS[obj.GetName()] = true
			}
		}
	}
	var results []apply.Result
	crdsReady := !installOperator
	justInstalled := false
	for n, obj := range objs {
		oadpKind := obj.GroupVersionKind().Group == "oadp.openshift.io"
		switch {
		case absentNS[obj.GetNamespace()]:
			fmt.Fprintf(i.Out, "%s/%s not checked (server dry run: namespace %s does not exist yet)\n", strings.ToLower(obj.GetKind()), obj.GetName(), obj.GetNamespace())
			continue
		case oadpKind && !crdsReady && i.DryRun:
			fmt.Fprintf(i.Out, "%s/%s not checked (server dry run: the operator and its CRDs are not installed yet)\n", strings.ToLower(obj.GetKind()), obj.GetName())
			continue
		case oadpKind && !crdsReady:
			if err := i.approve(ctx); err != nil {
				return results, err
			}
			if err := i.waitForCRDs(ctx); err != nil {
				return results, err
			}
			crdsReady, justInstalled = true, true
		}
		res, err := a.Apply(ctx, obj, existing[n])
		if oadpKind && justInstalled {
			res, err = retryWhileTypeMissing(ctx, func() (apply.Result, error) { return a.Apply(ctx, obj, existing[n]) }, res, err)
		}
		if err != nil {
			return results, err
		}
		fmt.Fprintln(i.Out, res.String()+dryRunSuffix(i.DryRun))
		results = append(results, res)
	}
	return results, nil
}

// approve approves the InstallPlan of the target CSV, and no other: with
// Manual approval OLM installs nothing until then.
func (i *Installer) approve(ctx context.Context) error {
	if i.Approval == nil {
		return nil
	}
	a := &olm.Approver{Client: i.Client, Out: i.Out, Live: i.Live, Timeout: i.Timeout}
	p, err := a.Approve(ctx, *i.Approval)
	if err != nil {
		return err
	}
	if p.Name != "" {
		fmt.Fprintf(i.Out, "installplan/%s approved (%s)\n", p.Name, strings.Join(p.CSVs, ", "))
	}
	return nil
}

// retryWhileTypeMissing retries an apply for a few seconds while the API
// server still answers "no such type": right after OLM installs a CRD it is
// Established before every handler of the API server serves it.
func retryWhileTypeMissing(ctx context.Context, again func() (apply.Result, error), res apply.Result, err error) (apply.Result, error) {
	delay := 100 * time.Millisecond
	for deadline := time.Now().Add(15 * time.Second); err != nil && errors.Is(err, apply.ErrTypeMissing) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
		res, err = again()
	}
	return res, err
}

func dryRunSuffix(dry bool) string {
	if dry {
		return " (server dry run)"
	}
	return ""
}

// waitForCRDs waits for OLM to install the operator's CRDs. A CRD that is
// being deleted (an operator just uninstalled) keeps its Established
// condition but is about to vanish, so it does not count.
func (i *Installer) waitForCRDs(ctx context.Context) error {
	for _, name := range []string{"cloudstorages.oadp.openshift.io", gvr.OADPCRDName} {
		opts := i.waitOpts("the OADP operator's CRD "+name, func(o *unstructured.Unstructured) string {
			if o.GetDeletionTimestamp() != nil {
				return "customresourcedefinition/" + name + " terminating"
			}
			return "customresourcedefinition/" + name + " installing"
		})
		opts.Recreated = true
		if _, err := wait.For(ctx, i.Client.Resource(gvr.CRD), name, crdServed, opts); err != nil {
			return err
		}
	}
	return nil
}

func crdServed(o *unstructured.Unstructured) (bool, error) {
	st, _, _, _ := kube.Condition(o.Object, "Established")
	return st == "True" && o.GetDeletionTimestamp() == nil, nil
}

func (i *Installer) waitOpts(what string, progress func(*unstructured.Unstructured) string) wait.Options {
	return wait.Options{What: what, Timeout: i.Timeout, Progress: progress, Out: i.Out, Live: i.Live}
}

// WaitOperator waits until OLM has installed the Subscription's CSV.
func (i *Installer) WaitOperator(ctx context.Context, ns, subscription string) (csvName string, err error) {
	sub, err := wait.For(ctx, i.Client.Resource(gvr.Subscription).Namespace(ns), subscription, func(o *unstructured.Unstructured) (bool, error) {
		return kube.Str(o.Object, "status", "installedCSV") != "", nil
	}, i.waitOpts(fmt.Sprintf("subscription %q to resolve", subscription), func(o *unstructured.Unstructured) string {
		if s := kube.Str(o.Object, "status", "state"); s != "" {
			return "subscription/" + subscription + " " + s
		}
		return "subscription/" + subscription + " resolving"
	}))
	if err != nil {
		return "", err
	}
	csvName = kube.Str(sub.Object, "status", "installedCSV")
	_, err = wait.For(ctx, i.Client.Resource(gvr.CSV).Namespace(ns), csvName, func(o *unstructured.Unstructured) (bool, error) {
		switch kube.Str(o.Object, "status", "phase") {
		case "Succeeded":
			return true, nil
		case "Failed":
			return false, fmt.Errorf("operator install failed: CSV %s is Failed: %s (see 'oc -n %s describe csv %s')",
				csvName, kube.Str(o.Object, "status", "message"), ns, csvName)
		}
		return false, nil
	}, i.waitOpts("CSV "+csvName, func(o *unstructured.Unstructured) string {
		return "clusterserviceversion/" + csvName + " " + orPending(kube.Str(o.Object, "status", "phase"))
	}))
	return csvName, err
}

// WaitDPA waits for the operator to reconcile the DPA. A False condition is
// final: the operator has said why it will not reconcile.
func (i *Installer) WaitDPA(ctx context.Context, ns, name string) error {
	_, err := wait.For(ctx, i.Client.Resource(gvr.DPA).Namespace(ns), name, func(o *unstructured.Unstructured) (bool, error) {
		st, reason, msg, _ := kube.Condition(o.Object, "Reconciled")
		switch st {
		case "True":
			return true, nil
		case "False":
			return false, fmt.Errorf("the OADP operator rejected DataProtectionApplication %q (%s): %s", name, reason, msg)
		}
		return false, nil
	}, i.waitOpts(fmt.Sprintf("DataProtectionApplication %q to reconcile", name), func(o *unstructured.Unstructured) string {
		if st, _, _, ok := kube.Condition(o.Object, "Reconciled"); ok {
			return "dataprotectionapplication/" + name + " Reconciled=" + st
		}
		return "dataprotectionapplication/" + name + " waiting for the operator"
	}))
	return err
}

// WaitBSL waits for Velero to validate the storage location; Unavailable
// fails at once with Velero's message and the usual STS causes, except for
// a bucket that does not exist yet (the operator makes a CloudStorage's
// location at once and creates the bucket after, retrying every minute, so
// Velero's first validation can come too early) and for STS refusing a role
// this run has just made or changed (IAM propagates trust policies in
// seconds to minutes, and answers AccessDenied meanwhile, exactly as for a
// wrong trust policy). Both wait for Velero's next validation, saying when
// it comes; a timeout then names the likely cause.
func (i *Installer) WaitBSL(ctx context.Context, ns, name string) error {
	var propagating bool
	_, err := wait.For(ctx, i.Client.Resource(gvr.BSL).Namespace(ns), name, func(o *unstructured.Unstructured) (bool, error) {
		propagating = false
		switch kube.Str(o.Object, "status", "phase") {
		case "Available":
			return true, nil
		case "Unavailable":
			msg := kube.Str(o.Object, "status", "message")
			switch {
			case checks.BucketMissing(msg):
			case i.mayPropagate(msg):
				propagating = true
			default:
				return false, &UnavailableError{Name: name, Message: msg}
			}
		}
		return false, nil
	}, i.waitOpts(fmt.Sprintf("BackupStorageLocation %q", name), func(o *unstructured.Unstructured) string {
		phase := kube.Str(o.Object, "status", "phase")
		msg := kube.Str(o.Object, "status", "message")
		switch {
		case phase == "Unavailable" && checks.BucketMissing(msg):
			return "backupstoragelocation/" + name + " Unavailable: no bucket yet (the operator's CloudStorage creates it; " + nextValidation(o) + ")"
		case phase == "Unavailable" && i.mayPropagate(msg):
			return fmt.Sprintf("backupstoragelocation/%s Unavailable: STS refused the role (AccessDenied), as it does while IAM propagates a role made or changed %s ago: waiting; %s",
				name, time.Since(i.TrustChanged).Round(time.Second), nextValidation(o))
		}
		return "backupstoragelocation/" + name + " " + orPending(phase)
	}))
	var te *wait.TimeoutError
	if propagating && errors.As(err, &te) {
		return exitcode.WithCode(exitcode.Timeout, fmt.Errorf("%w\nlikely causes: IAM is still propagating the role's new trust policy (%s old; usually seconds, rarely minutes), or the trust policy does not admit velero's token: run 'kubectl oadp-sts status --assume-role'",
			err, time.Since(i.TrustChanged).Round(time.Second)))
	}
	return err
}

// mayPropagate reports whether an Unavailable location's message is STS
// refusing a role this run made or changed.
func (i *Installer) mayPropagate(msg string) bool {
	return !i.TrustChanged.IsZero() && checks.AccessDenied(msg)
}

// DefaultValidationFrequency is Velero's when a location sets none.
const DefaultValidationFrequency = time.Minute

// nextValidation says when Velero validates the location again: its last
// validation plus its validation frequency.
func nextValidation(o *unstructured.Unstructured) string {
	every := DefaultValidationFrequency
	if d, err := time.ParseDuration(kube.Str(o.Object, "spec", "validationFrequency")); err == nil && d > 0 {
		every = d
	}
	last, err := time.Parse(time.RFC3339, kube.Str(o.Object, "status", "lastValidationTime"))
	if err != nil {
		return fmt.Sprintf("Velero validates again within %s", every)
	}
	next := last.Add(every)
	if wait := time.Until(next).Round(time.Second); wait > 0 {
		return fmt.Sprintf("Velero validates again at %s, in %s", next.Local().Format("15:04:05"), wait)
	}
	return fmt.Sprintf("Velero validates again any moment (every %s)", every)
}

// UnavailableError is a storage location Velero could not use.
type UnavailableError struct{ Name, Message string }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("BackupStorageLocation %q is Unavailable: %s\nlikely causes on STS:\n%s\nrun 'kubectl oadp-sts status' to check each link",
		e.Name, orPending(e.Message), "  - "+strings.Join(checks.LikelyCauses(e.Message), "\n  - "))
}

func orPending(s string) string {
	if s == "" {
		return "pending"
	}
	return s
}
