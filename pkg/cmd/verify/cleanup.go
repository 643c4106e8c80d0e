package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// leftovers removes what earlier runs left: only objects past their run's
// end (UntilAnnotation), so a verify running beside this one is untouched.
func (r *run) leftovers(ctx context.Context, s *verify.Step) error {
	now := time.Now()
	removed, left, err := r.remove(ctx, verify.AnySelector, func(o metav1.Object) bool { return verify.Leftover(o, now) })
	if err != nil {
		return err
	}
	switch {
	case len(removed) == 0 && len(left) == 0:
		s.Message = "none from earlier runs"
	case len(left) == 0:
		s.Message = "removed what earlier runs left: " + strings.Join(removed, ", ")
	default:
		s.Result = verify.Warning
		s.Message = "could not remove all that earlier runs left: " + strings.Join(left, ", ")
	}
	return nil
}

// cleanup removes this run's objects, the backup with its data, and checks
// that nothing of the run is left under its prefixes in the bucket.
func (r *run) cleanup(ctx context.Context, s *verify.Step) error {
	if !r.created {
		s.Result = verify.Skipped
		s.Message = "nothing was created"
		return nil
	}
	removed, left, err := r.remove(ctx, r.canary.Selector(), func(metav1.Object) bool { return true })
	if err != nil {
		left = append(left, "the run's objects ("+err.Error()+")")
	}
	// A restore that failed half-way may have made the second namespace
	// without the canary's labels; its name is this run's alone.
	for _, n := range []string{r.canary.Namespace, r.canary.Restored} {
		o, err := r.dyn.Resource(gvr.Namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil || o.GetLabels()[verify.RunLabel] == r.canary.ID {
			continue
		}
		if err := r.deleteAndWait(ctx, target{gvr.Namespace, "namespace", false}, o); err != nil {
			left = append(left, "namespace "+n+" ("+firstLine(err.Error())+")")
		} else {
			removed = append(removed, "namespace "+n)
		}
	}
	if r.location != nil && r.rep.Bucket != nil && r.rep.Bucket.Objects > 0 {
		_, prefixes := r.prefixes()
		n, _, err := r.usage(ctx, prefixes)
		switch {
		case err != nil:
			left = append(left, "unchecked bucket objects ("+err.Error()+")")
		case n > 0:
			r.rep.Bucket.AfterCleanup = n
			left = append(left, fmt.Sprintf("%s under s3://%s/%s", plural(n, "bucket object"), r.rep.Bucket.Bucket, r.rep.Bucket.Prefix))
		}
	}
	r.rep.LeftBehind = left
	if len(left) > 0 {
		r.abandon(ctx)
		s.Result = verify.Warning
		s.Message = "left behind: " + strings.Join(left, ", ")
		return nil
	}
	s.Message = "removed " + strings.Join(removed, ", ")
	if r.rep.Bucket != nil && r.rep.Bucket.Objects > 0 {
		s.Message += "; nothing of the run is left in the bucket"
	}
	return nil
}

// abandon marks what this run leaves as a leftover now, so the next verify
// removes it at once rather than after this run's time would have run out.
func (r *run) abandon(ctx context.Context) {
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, verify.UntilAnnotation, time.Now().UTC().Format(time.RFC3339))
	for _, t := range r.targets() {
		l, err := t.list(ctx, r, r.canary.Selector())
		if err != nil {
			continue
		}
		for _, o := range l {
			_, _ = t.client(r, o.GetNamespace()).Patch(ctx, o.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: manifests.ManagedByValue})
		}
	}
}

// target is a kind of object a run makes, and where it lives.
type target struct {
	res        schema.GroupVersionResource
	noun       string
	namespaced bool // in the OADP namespace
}

func (r *run) targets() []target {
	return []target{
		{gvr.DataProtectionTest, "dataprotectiontest", true},
		{gvr.Restore, "restore", true},
		{gvr.Backup, "backup", true},
		{gvr.Namespace, "namespace", false},
	}
}

func (t target) client(r *run, ns string) interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, options metav1.PatchOptions, subresources ...string) (*unstructured.Unstructured, error)
} {
	if t.namespaced {
		return r.dyn.Resource(t.res).Namespace(ns)
	}
	return r.dyn.Resource(t.res)
}

func (t target) list(ctx context.Context, r *run, selector string) ([]unstructured.Unstructured, error) {
	opts := metav1.ListOptions{LabelSelector: selector}
	var l *unstructured.UnstructuredList
	var err error
	if t.namespaced {
		l, err = r.dyn.Resource(t.res).Namespace(r.canary.OADPNamespace).List(ctx, opts)
	} else {
		l, err = r.dyn.Resource(t.res).List(ctx, opts)
	}
	switch {
	case kube.IsTypeMissing(err):
		return nil, nil // no DataProtectionTest API: nothing of that kind
	case err != nil:
		return nil, kube.Explain(err, t.res, "")
	}
	return l.Items, nil
}

// remove deletes the objects selector picks that keep accepts: restores and
// DataProtectionTests directly, backups through DeleteBackupRequests (after
// they end: Velero refuses to delete a backup in progress), namespaces, all
// waited on together within ctx. It returns what it removed and what it
// could not.
func (r *run) remove(ctx context.Context, selector string, keep func(metav1.Object) bool) (removed, left []string, err error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		var te *wait.TimeoutError
		switch {
		case errors.As(err, &te):
			why := "not gone within the " + te.Timeout.Round(time.Second).String() + " --cleanup-timeout left"
			if te.Last != "" && te.Last != "waiting" {
				why += ", last seen " + te.Last
			}
			left = append(left, what+" ("+why+")")
		case err != nil:
			left = append(left, what+" ("+firstLine(err.Error())+")")
		default:
			removed = append(removed, what)
		}
	}
	for _, t := range r.targets() {
		items, lerr := t.list(ctx, r, selector)
		if lerr != nil {
			return nil, nil, lerr
		}
		for i := range items {
			o := &items[i]
			if !keep(o) {
				continue
			}
			what := t.noun + " " + o.GetName()
			wg.Go(func() {
				if t.res == gvr.Backup {
					done(what+" with its data", r.deleteBackup(ctx, o))
					return
				}
				done(what, r.deleteAndWait(ctx, t, o))
			})
		}
	}
	wg.Wait()
	slices.Sort(removed)
	slices.Sort(left)
	return removed, left, nil
}

func (r *run) deleteAndWait(ctx context.Context, t target, o *unstructured.Unstructured) error {
	var c interface {
		Delete(ctx context.Context, name string, options metav1.DeleteOptions, subresources ...string) error
	}
	if t.namespaced {
		c = r.dyn.Resource(t.res).Namespace(o.GetNamespace())
	} else {
		c = r.dyn.Resource(t.res)
	}
	if err := c.Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return kube.Explain(err, t.res, o.GetName())
	}
	client := r.dyn.Resource(t.res)
	if t.namespaced {
		return wait.Deleted(ctx, client.Namespace(o.GetNamespace()), o.GetName(), r.cleanupWait(ctx, t.noun+" "+o.GetName()))
	}
	return wait.Deleted(ctx, client, o.GetName(), r.cleanupWait(ctx, t.noun+" "+o.GetName()))
}

func (r *run) cleanupWait(ctx context.Context, what string) wait.Options {
	o := wait.Options{What: what}
	if d, ok := ctx.Deadline(); ok {
		// Never zero, which would mean no limit.
		o.Timeout = max(time.Until(d).Round(100*time.Millisecond), time.Millisecond)
	}
	return o
}

// deleteBackup waits for the backup to end, asks Velero to delete it with
// its data, and waits until it is gone. When Velero cannot (a failed backup
// whose bucket is gone, say), the Backup object is deleted directly: what
// Velero could not reach holds none of its data. The requests are removed
// too, whether Velero kept them or not.
func (r *run) deleteBackup(ctx context.Context, b *unstructured.Unstructured) error {
	backups := r.dyn.Resource(gvr.Backup).Namespace(b.GetNamespace())
	w, err := wait.Start(ctx, backups, b.GetName())
	if err != nil {
		return kube.Explain(err, gvr.Backup, b.GetName())
	}
	defer w.Stop()
	cur, err := w.For(ctx, func(o *unstructured.Unstructured) (bool, error) {
		p := velero.ReadStatus(o).Phase
		return velero.Terminal(p) || p == velero.PhaseDeleting, nil
	}, r.cleanupWait(ctx, "backup "+b.GetName()+" to end before it can be deleted"))
	var gone *wait.GoneError
	switch {
	case errors.As(err, &gone):
		return nil
	case err != nil:
		return err
	}
	dbrs := r.dyn.Resource(gvr.DeleteBackupRequest).Namespace(b.GetNamespace())
	sel := velero.LabelBackupUID + "=" + string(cur.GetUID())
	reqName, err := pendingRequest(ctx, dbrs, sel)
	if err != nil {
		return err
	}
	create := reqName == ""
	if create {
		// A name of our own, not generateName: the watch must start before
		// the create, since Velero may carry the request out and delete it
		// at once.
		reqName = fmt.Sprintf("%s-%d", b.GetName(), time.Now().UnixMilli()%100000)
	}
	rw, err := wait.Start(ctx, dbrs, reqName)
	if err != nil {
		return kube.Explain(err, gvr.DeleteBackupRequest, reqName)
	}
	defer rw.Stop()
	if create {
		req := velero.NewDeleteBackupRequest(b.GetNamespace(), b.GetName(), string(cur.GetUID()))
		req.SetGenerateName("")
		req.SetName(reqName)
		if _, err := dbrs.Create(ctx, req, metav1.CreateOptions{FieldManager: manifests.ManagedByValue}); err != nil {
			return kube.Explain(err, gvr.DeleteBackupRequest, reqName)
		}
	}
	// The Backup going is the proof; the request is watched beside it for
	// Velero's errors, which mean it will not go.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refused := make(chan []string, 1)
	go func() {
		d, err := rw.For(wctx, func(d *unstructured.Unstructured) (bool, error) {
			return kube.Str(d.Object, "status", "phase") == velero.PhaseProcessed, nil
		}, wait.Options{})
		if err == nil {
			if errs, _, _ := unstructured.NestedStringSlice(d.Object, "status", "errors"); len(errs) > 0 {
				refused <- errs
			}
		}
	}()
	deleted := make(chan error, 1)
	go func() { deleted <- w.Deleted(wctx, r.cleanupWait(ctx, "backup "+b.GetName())) }()
	select {
	case err := <-deleted:
		if err != nil {
			return r.deletionErrors(ctx, sel, err)
		}
	case errs := <-refused:
		if err := backups.Delete(ctx, b.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("velero could not delete it (%s), nor could the plugin: %w", strings.Join(errs, "; "), kube.Explain(err, gvr.Backup, b.GetName()))
		}
		if err := <-deleted; err != nil {
			return err
		}
	}
	return removeRequests(ctx, dbrs, sel)
}

// removeRequests deletes the DeleteBackupRequests sel selects, whether
// Velero processed them or not.
func removeRequests(ctx context.Context, dbrs dynamic.ResourceInterface, sel string) error {
	rest, err := dbrs.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return kube.Explain(err, gvr.DeleteBackupRequest, "")
	}
	for _, d := range rest.Items {
		if err := dbrs.Delete(ctx, d.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return kube.Explain(err, gvr.DeleteBackupRequest, d.GetName())
		}
	}
	return nil
}

// pendingRequest is the name of a DeleteBackupRequest sel selects that
// Velero has not processed yet (an earlier run's), "" when there is none.
func pendingRequest(ctx context.Context, dbrs dynamic.ResourceInterface, sel string) (string, error) {
	pending, err := dbrs.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", kube.Explain(err, gvr.DeleteBackupRequest, "")
	}
	name := ""
	for _, d := range pending.Items {
		if kube.Str(d.Object, "status", "phase") != velero.PhaseProcessed {
			name = d.GetName()
		}
	}
	return name, nil
}

// deletionErrors adds what Velero said on the requests to a failed wait.
func (r *run) deletionErrors(ctx context.Context, sel string, waitErr error) error {
	l, err := r.dyn.Resource(gvr.DeleteBackupRequest).Namespace(r.canary.OADPNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return waitErr
	}
	var errs []string
	for _, d := range l.Items {
		e, _, _ := unstructured.NestedStringSlice(d.Object, "status", "errors")
		errs = append(errs, e...)
	}
	if len(errs) == 0 {
		return waitErr
	}
	return fmt.Errorf("velero could not delete it: %s", strings.Join(errs, "; "))
}
