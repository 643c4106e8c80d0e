package wait_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// The real API server closes a watch when it likes (its timeout, a restart,
// a load balancer), but not on demand; these tests close it with a fake
// client's watcher, next to the real-server tests in wait_test.go.

func fakeBSL(phase string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": "default", "namespace": "fake", "resourceVersion": "1"},
	}}
	if phase != "" {
		_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
	}
	return u
}

func available(o *unstructured.Unstructured) (bool, error) {
	return kube.Str(o.Object, "status", "phase") == "Available", nil
}

// watchList reports whether a is the informer's streaming list (a watch
// with sendInitialEvents), which the fake cannot serve: it is refused as by
// a server without the feature, and the informer lists and watches instead.
func watchList(a k8stesting.Action) bool {
	w, ok := a.(k8stesting.WatchActionImpl)
	return ok && w.ListOptions.SendInitialEvents != nil && *w.ListOptions.SendInitialEvents
}

var errNoWatchList = apierrors.NewServiceUnavailable("this fake serves no watch-list")

// refuseWatchList makes c refuse the streaming list; other watches go on
// to c's other reactors.
func refuseWatchList(c *dynamicfake.FakeDynamicClient) {
	c.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		return watchList(a), nil, errNoWatchList
	})
}

func fakeClient(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr.BSL: "BackupStorageLocationList"}, objs...)
}

// TestWatchClosedMidWaitIsReestablished: a watch the server closes while
// waiting is opened again, and what comes through the new one ends the wait.
func TestWatchClosedMidWaitIsReestablished(t *testing.T) {
	c := fakeClient(fakeBSL("New"))
	watchers := make(chan *watch.FakeWatcher, 4)
	var opened atomic.Int32
	c.PrependWatchReactor("backupstoragelocations", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if watchList(a) {
			return true, nil, errNoWatchList
		}
		opened.Add(1)
		w := watch.NewFake()
		watchers <- w
		return true, w, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		obj *unstructured.Unstructured
		err error
	}
	done := make(chan result, 1)
	go func() {
		o, err := wait.For(ctx, c.Resource(gvr.BSL).Namespace("fake"), "default", available, wait.Options{What: "the location", Timeout: 20 * time.Second})
		done <- result{o, err}
	}()

	first := next(t, watchers)
	first.Modify(fakeBSL("Unavailable"))
	first.Stop() // the server closes the watch mid-wait
	select {
	case r := <-done:
		t.Fatalf("the wait ended when its watch closed: %v, %v", r.obj, r.err)
	default:
	}
	second := next(t, watchers)
	second.Modify(fakeBSL("Available"))
	r := <-done
	if r.err != nil || kube.Str(r.obj.Object, "status", "phase") != "Available" {
		t.Fatalf("wait.For = %v, %v; want the Available location from the re-established watch", r.obj, r.err)
	}
	if n := opened.Load(); n < 2 {
		t.Errorf("the watch was opened %d times, want it re-established", n)
	}
}

// TestWatchThatCannotBeReopenedTimesOut: when the watch closes and the
// server then fails every new one, the wait ends at its timeout with exit
// code 5 and the last state it saw, not silently or at once.
func TestWatchThatCannotBeReopenedTimesOut(t *testing.T) {
	c := fakeClient(fakeBSL("New"))
	var opened atomic.Int32
	c.PrependWatchReactor("backupstoragelocations", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if watchList(a) {
			return true, nil, errNoWatchList
		}
		if opened.Add(1) > 1 {
			return true, nil, apierrors.NewInternalError(errors.New("etcd leader changed"))
		}
		w := watch.NewFake()
		go func() {
			w.Modify(fakeBSL("Unavailable"))
			w.Stop()
		}()
		return true, w, nil
	})
	start := time.Now()
	_, err := wait.For(context.Background(), c.Resource(gvr.BSL).Namespace("fake"), "default", available,
		wait.Options{What: "BackupStorageLocation \"default\"", Timeout: 3 * time.Second, Progress: func(o *unstructured.Unstructured) string {
			return "backupstoragelocation/default " + kube.Str(o.Object, "status", "phase")
		}})
	var te *wait.TimeoutError
	if !errors.As(err, &te) || exitcode.Code(err) != exitcode.Timeout {
		t.Fatalf("err = %v (exit %d), want a timeout with exit %d", err, exitcode.Code(err), exitcode.Timeout)
	}
	if !strings.Contains(err.Error(), `BackupStorageLocation "default"`) || !strings.Contains(err.Error(), "last seen: backupstoragelocation/default ") {
		t.Errorf("the timeout does not name what it waited for and the last state seen: %v", err)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("the wait gave up after %s, before its timeout", d)
	}
	if opened.Load() < 2 {
		t.Errorf("the closed watch was not tried again")
	}
}

// TestThrottledListIsRetried: a 429 from the server on the initial list is
// not a refusal: the wait tries again and sees the object.
func TestThrottledListIsRetried(t *testing.T) {
	c := fakeClient(fakeBSL("Available"))
	refuseWatchList(c)
	var lists atomic.Int32
	c.PrependReactor("list", "backupstoragelocations", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) == 1 {
			return true, nil, apierrors.NewTooManyRequests("the server is busy", 1)
		}
		return false, nil, nil
	})
	o, err := wait.For(context.Background(), c.Resource(gvr.BSL).Namespace("fake"), "default", available, wait.Options{What: "the location", Timeout: 20 * time.Second})
	if err != nil || o == nil {
		t.Fatalf("wait.For after a 429 = %v, %v; want the location", o, err)
	}
	if lists.Load() < 2 {
		t.Errorf("listed %d times, want the throttled list retried", lists.Load())
	}
}

func next(t *testing.T, watchers <-chan *watch.FakeWatcher) *watch.FakeWatcher {
	t.Helper()
	select {
	case w := <-watchers:
		return w
	case <-time.After(15 * time.Second):
		t.Fatal("no watch was opened within 15s")
		return nil
	}
}
