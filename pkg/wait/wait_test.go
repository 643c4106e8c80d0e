package wait_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

const ns = "wait-test"

// backups returns the Backup client of a namespace that exists.
func backups(t *testing.T, r *rig.Rig) dynamic.ResourceInterface {
	t.Helper()
	_, err := r.Kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return r.Dynamic.Resource(gvr.Backup).Namespace(ns)
}

func backup(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"includedNamespaces": []any{"x"}},
	}}
}

func create(t *testing.T, c dynamic.ResourceInterface, name string) {
	t.Helper()
	if _, err := c.Create(context.Background(), backup(name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// setPhase plays the Velero server. Velero's Backup CRD has no status
// subresource: the server writes status through the object itself.
func setPhase(t *testing.T, r *rig.Rig, name, phase string, done int64) {
	t.Helper()
	patch := fmt.Sprintf(`{"status":{"phase":%q,"progress":{"itemsBackedUp":%d,"totalItems":10}}}`, phase, done)
	_, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Error(err)
	}
}

// once is a Progress that calls f the first time the wait has the object in
// hand: a test's cue to act on it, instead of a guessed delay.
func once(f func()) func(*unstructured.Unstructured) string {
	var o sync.Once
	return func(*unstructured.Unstructured) string {
		o.Do(f)
		return "seen"
	}
}

func phaseIs(want string) wait.Condition {
	return func(o *unstructured.Unstructured) (bool, error) {
		return kube.Str(o.Object, "status", "phase") == want, nil
	}
}

func progress(o *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %d/%d", kube.Str(o.Object, "status", "phase"), kube.Int(o.Object, "status", "progress", "itemsBackedUp"), kube.Int(o.Object, "status", "progress", "totalItems"))
}

// syncBuffer lets the test read what the wait writes from its goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The watch starts before the create and sees every state to the end, one
// plain line per change.
func TestForSeesCreateAndChanges(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	ctx := context.Background()
	w, err := wait.Start(ctx, c, "b1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	create(t, c, "b1")
	go func() {
		setPhase(t, r, "b1", "InProgress", 3)
		setPhase(t, r, "b1", "Completed", 10)
	}()
	var out syncBuffer
	obj, err := w.For(ctx, phaseIs("Completed"), wait.Options{What: `backup "b1"`, Timeout: 20 * time.Second, Out: &out, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if got := kube.Str(obj.Object, "status", "phase"); got != "Completed" {
		t.Errorf("phase %q", got)
	}
	if !strings.Contains(out.String(), "Completed") || strings.Contains(out.String(), "\r") {
		t.Errorf("plain progress should be lines ending in Completed, no carriage returns:\n%q", out.String())
	}
}

func TestForTimeout(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	create(t, c, "b2")
	setPhase(t, r, "b2", "InProgress", 1)
	_, err := wait.For(context.Background(), c, "b2", phaseIs("Completed"), wait.Options{What: `backup "b2"`, Timeout: 300 * time.Millisecond, Progress: progress})
	var te *wait.TimeoutError
	if !errors.As(err, &te) || exitcode.Code(err) != exitcode.Timeout {
		t.Fatalf("err = %v (exit %d), want a timeout with exit %d", err, exitcode.Code(err), exitcode.Timeout)
	}
	if !strings.Contains(err.Error(), "timed out after 300ms") || !strings.Contains(err.Error(), "InProgress") {
		t.Errorf("message %q should give the timeout and the last state", err)
	}
}

func TestForInterrupted(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	create(t, c, "b3")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := wait.For(ctx, c, "b3", phaseIs("Completed"), wait.Options{What: `backup "b3"`, Timeout: time.Minute, Progress: once(cancel)})
	var ie *wait.InterruptedError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "continues in the background") {
		t.Fatalf("err = %v, want an interruption that says the backup continues", err)
	}
	if _, err := c.Get(context.Background(), "b3", metav1.GetOptions{}); err != nil {
		t.Errorf("the backup must survive the interrupted wait: %v", err)
	}
}

func TestConditionErrorEndsWait(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	create(t, c, "b4")
	setPhase(t, r, "b4", "Failed", 0)
	boom := errors.New("failed")
	_, err := wait.For(context.Background(), c, "b4", func(o *unstructured.Unstructured) (bool, error) {
		if kube.Str(o.Object, "status", "phase") == "Failed" {
			return false, boom
		}
		return false, nil
	}, wait.Options{What: "b4", Timeout: 20 * time.Second})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the condition's error", err)
	}
}

func TestDeleted(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	ctx := context.Background()
	// Already gone: at once.
	if err := wait.Deleted(ctx, c, "never-was", wait.Options{What: "x", Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	create(t, c, "b5")
	deleteIt := func() { go func() { _ = c.Delete(ctx, "b5", metav1.DeleteOptions{}) }() }
	if err := wait.Deleted(ctx, c, "b5", wait.Options{What: "b5", Timeout: time.Minute, Progress: once(deleteIt)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "b5", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after Deleted: %v", err)
	}
}

func TestGoneWhileWaiting(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	ctx := context.Background()
	create(t, c, "b6")
	deleteIt := func() { go func() { _ = c.Delete(ctx, "b6", metav1.DeleteOptions{}) }() }
	_, err := wait.For(ctx, c, "b6", phaseIs("Completed"), wait.Options{What: `backup "b6"`, Timeout: time.Minute, Progress: once(deleteIt)})
	var ge *wait.GoneError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want GoneError", err)
	}
}

// With Recreated, a deletion is a state on the way, not the end.
func TestRecreatedKeepsWaiting(t *testing.T) {
	r := rig.Get(t)
	c := backups(t, r)
	ctx := context.Background()
	create(t, c, "b8")
	replaced := make(chan struct{})
	defer func() { <-replaced }() // no t.Error after the test ends
	replace := func() {
		go func() {
			defer close(replaced)
			if err := c.Delete(ctx, "b8", metav1.DeleteOptions{}); err != nil {
				t.Error(err)
			}
			time.Sleep(200 * time.Millisecond)
			if _, err := c.Create(ctx, backup("b8"), metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
			setPhase(t, r, "b8", "Completed", 10)
		}()
	}
	var out bytes.Buffer
	obj, err := wait.For(ctx, c, "b8", phaseIs("Completed"), wait.Options{What: `backup "b8"`, Timeout: time.Minute, Recreated: true, Out: &out, Progress: once(replace)})
	if err != nil {
		t.Fatalf("err = %v, want the recreated object seen through; progress:\n%s", err, out.String())
	}
	if kube.Str(obj.Object, "status", "phase") != "Completed" {
		t.Errorf("returned %v", obj.Object["status"])
	}
}

func TestRefusedStartFailsFast(t *testing.T) {
	r := rig.Get(t)
	missing := r.Dynamic.Resource(schema.GroupVersionResource{Group: "nope.example.com", Version: "v1", Resource: "things"}).Namespace(ns)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := wait.Start(ctx, missing, "x")
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the server's refusal at once", err)
	}
}

// The wait outlives an API server restart and still sees the end.
func TestSurvivesAPIServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the API server")
	}
	r := rig.Get(t)
	c := backups(t, r)
	ctx := context.Background()
	create(t, c, "b7")
	setPhase(t, r, "b7", "InProgress", 1)
	w, err := wait.Start(ctx, c, "b7")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	errc := make(chan error, 1)
	go func() {
		_, err := w.For(ctx, phaseIs("Completed"), wait.Options{What: "b7", Timeout: 2 * time.Minute})
		errc <- err
	}()
	if err := r.RestartAPIServer(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	setPhase(t, r, "b7", "Completed", 10)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the wait did not see Completed after the API server restarted")
	}
}
