// Package wait waits for a Kubernetes object to reach a state, or to be gone,
// by watching it: an informer (list, then watch, relisting and rewatching on
// its own) so a wait survives an API server restart and reacts to a change as
// soon as the server sends it. Nothing here polls the server.
//
// A wait that follows a create starts watching before the create, so the first
// states of the new object are seen too:
//
//	w, err := wait.Start(ctx, client, name)
//	if err != nil { ... }
//	defer w.Stop()
//	create(...)
//	obj, err := w.For(ctx, cond, opts)
//
// For one-off waits on objects that already exist, wait.For and wait.Deleted
// do both steps.
//
// It owns watching, the timeout (exit code 5 through pkg/exitcode) and the
// progress line. It takes the one dynamic.ResourceInterface it watches and
// must not depend on how clients are built or on AWS (TestDomainPackages-
// TakeNarrowInterfaces in pkg/cmd checks), nor decide what state is good:
// the caller's Condition does.
package wait

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
)

// Condition decides from the object's latest state whether the wait is over.
// A non-nil error ends the wait with that error (a terminal failure, say).
type Condition func(obj *unstructured.Unstructured) (done bool, err error)

// Options shape one wait. The zero value waits without a limit and shows nothing.
type Options struct {
	// What names the object in messages: `backup "hello-world"`.
	What string
	// Timeout ends the wait with a *TimeoutError (exit code ExitTimeout);
	// zero or negative means no limit (commands reject those as input).
	Timeout time.Duration
	// Progress describes the object's state in a few words ("InProgress
	// 12/40 items"). The elapsed time is added by the wait. Nil: "waiting".
	Progress func(obj *unstructured.Unstructured) string
	// Out receives progress; nil shows none.
	Out io.Writer
	// Live rewrites one line in place (a terminal); otherwise a plain line is
	// written each time the progress text changes (a pipe, a CI log).
	Live bool
	// Recreated keeps a For waiting when the object is deleted, for one
	// that is expected to come back (a CRD an operator reinstalls).
	Recreated bool
}

// TimeoutError is a wait that ran out of time. The operation may still finish.
type TimeoutError struct {
	What    string
	Timeout time.Duration
	// Last is the last progress seen, "" when the object was never seen.
	Last string
}

func (e *TimeoutError) Error() string {
	last := ""
	if e.Last != "" {
		last = " (last seen: " + e.Last + ")"
	}
	return fmt.Sprintf("timed out after %s waiting for %s%s; it may still finish: wait longer with --timeout", e.Timeout, e.What, last)
}

// InterruptedError is a wait stopped by its context (Ctrl-C): only the
// waiting stopped, not the operation.
type InterruptedError struct{ What string }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("stopped waiting for %s; it continues in the background", e.What)
}

// GoneError is an object deleted while a wait expected it to change.
type GoneError struct{ What string }

func (e *GoneError) Error() string { return e.What + " was deleted while waiting for it" }

// Watch is a running watch on one named object.
type Watch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	obj    *unstructured.Unstructured
	gone   bool // deleted since seen, or absent after the initial list
	notify chan struct{}
	// lost is the error of the last request, while the API server does not
	// answer, and lostSince when it stopped: a wait that times out then
	// says the cluster was lost, not that the object was slow.
	lost      error
	lostSince time.Time
}

// UnreachableError is a wait that ran out of time while the API server did
// not answer: the cluster was lost, which no longer wait fixes.
type UnreachableError struct {
	What  string
	Since time.Duration
	Err   error
}

func (e *UnreachableError) Error() string {
	// The dial's own words, without the request's long URL.
	cause := e.Err
	var oe *net.OpError
	if errors.As(e.Err, &oe) {
		cause = oe
	}
	return fmt.Sprintf("lost the cluster while waiting for %s: its API server has not answered for %s (%v); check that it is up and reachable, then run 'kubectl oadp-sts status'",
		e.What, e.Since.Round(time.Second), cause)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Start begins watching the object called name through client and returns
// once the initial list is in, so a create issued after Start is never
// missed. It fails early when the first request is refused (no permission,
// no such API); an unreachable server is retried until ctx ends.
// Call Stop when done.
func Start(ctx context.Context, client dynamic.ResourceInterface, name string) (*Watch, error) {
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &Watch{cancel: cancel, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	refused := make(chan error, 1)
	report := func(err error) {
		w.noteReach(err)
		if err != nil && !kube.IsUnreachable(err) && refusal(err) {
			select {
			case refused <- err:
			default:
			}
		}
	}
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			l, err := client.List(ctx, o)
			report(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			wi, err := client.Watch(ctx, o)
			report(err)
			return wi, err
		},
	}
	_, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &unstructured.Unstructured{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { w.set(o, false) },
			UpdateFunc: func(_, o any) { w.set(o, false) },
			DeleteFunc: func(o any) { w.set(nil, true) },
		},
	})
	go func() {
		defer close(w.done)
		ctrl.RunWithContext(ictx)
	}()
	select {
	case <-ctrl.HasSyncedChecker().Done():
	case err := <-refused:
		w.Stop()
		return nil, err
	case <-ctx.Done():
		w.Stop()
		return nil, ctx.Err()
	}
	w.mu.Lock()
	if w.obj == nil {
		w.gone = true
	}
	w.mu.Unlock()
	return w, nil
}

// refusal reports whether err is the server saying no, which retrying will not change.
func refusal(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || kube.IsTypeMissing(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err)
}

// Stop ends the watch and waits for its goroutines to finish.
func (w *Watch) Stop() {
	w.cancel()
	<-w.done
}

func (w *Watch) set(o any, deleted bool) {
	u, _ := o.(*unstructured.Unstructured)
	w.mu.Lock()
	if deleted || u == nil {
		w.obj, w.gone = nil, true
	} else {
		w.obj, w.gone = u, false
	}
	w.mu.Unlock()
	// Coalesce: the waiter only ever needs the latest state.
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// noteReach keeps whether the last request reached the API server.
func (w *Watch) noteReach(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		w.lost, w.lostSince = nil, time.Time{}
	case kube.IsUnreachable(err):
		if w.lost == nil {
			w.lostSince = time.Now()
		}
		w.lost = err
	}
}

func (w *Watch) latest() (*unstructured.Unstructured, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.obj, w.gone
}

// For waits until cond holds for the object and returns the object as it
// was then. It ends early with cond's error, a *GoneError when the object is
// deleted after being seen (unless opts.Recreated), a *TimeoutError (exit code ExitTimeout) when
// opts.Timeout passes, and an *InterruptedError when ctx is cancelled.
func (w *Watch) For(ctx context.Context, cond Condition, opts Options) (*unstructured.Unstructured, error) {
	seen := false
	return w.run(ctx, opts, "waiting for "+opts.What+" to appear", func(obj *unstructured.Unstructured, gone bool) (bool, error) {
		if obj == nil {
			if gone && seen && !opts.Recreated {
				return false, &GoneError{What: opts.What}
			}
			return false, nil
		}
		seen = true
		return cond(obj)
	})
}

// Deleted waits until the object is gone (at once when it already is),
// ending early the same way as For.
func (w *Watch) Deleted(ctx context.Context, opts Options) error {
	_, err := w.run(ctx, opts, "gone", func(obj *unstructured.Unstructured, gone bool) (bool, error) {
		return gone, nil
	})
	return err
}

func (w *Watch) run(ctx context.Context, opts Options, absent string, check func(*unstructured.Unstructured, bool) (bool, error)) (*unstructured.Unstructured, error) {
	p := newProgress(opts, absent)
	defer p.finish()
	var timeout <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var tick <-chan time.Time
	if p.live {
		// Only to redraw the elapsed time on the live line; the state
		// itself comes from the watch.
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		tick = tk.C
	}
	// The state as of Start is already in; look at it before waiting.
	for {
		obj, gone := w.latest()
		p.update(obj)
		if done, err := check(obj, gone); done || err != nil {
			return obj, err
		}
		if err := w.next(ctx, tick, timeout, p, opts); err != nil {
			return obj, err
		}
	}
}

// next blocks until the watch reports a change, redrawing the live line
// meanwhile.
func (w *Watch) next(ctx context.Context, tick, timeout <-chan time.Time, p *progress, opts Options) error {
	for {
		select {
		case <-w.notify:
			return nil
		case <-tick:
			p.redraw()
		case <-timeout:
			w.mu.Lock()
			lost, since := w.lost, w.lostSince
			w.mu.Unlock()
			if lost != nil {
				return exitcode.WithCode(exitcode.Error, &UnreachableError{What: opts.What, Since: time.Since(since), Err: lost})
			}
			return p.timedOut(opts)
		case <-ctx.Done():
			return p.interrupted(ctx, opts)
		}
	}
}

func (p *progress) timedOut(opts Options) error {
	return exitcode.WithCode(exitcode.Timeout, &TimeoutError{What: opts.What, Timeout: opts.Timeout, Last: p.last})
}

func (p *progress) interrupted(ctx context.Context, opts Options) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		// The caller's own deadline, not a Ctrl-C.
		return exitcode.WithCode(exitcode.Timeout, &TimeoutError{What: opts.What, Timeout: opts.Timeout, Last: p.last})
	}
	return &InterruptedError{What: opts.What}
}

// For watches the object called name until cond holds; see Watch.For.
func For(ctx context.Context, client dynamic.ResourceInterface, name string, cond Condition, opts Options) (*unstructured.Unstructured, error) {
	w, err := Start(ctx, client, name)
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	return w.For(ctx, cond, opts)
}

// Deleted watches the object called name until it is gone; see Watch.Deleted.
func Deleted(ctx context.Context, client dynamic.ResourceInterface, name string, opts Options) error {
	w, err := Start(ctx, client, name)
	if err != nil {
		return err
	}
	defer w.Stop()
	return w.Deleted(ctx, opts)
}
