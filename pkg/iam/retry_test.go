package iam

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Fakes for the one branch moto cannot produce on demand: IAM not yet seeing
// what it was just told (the real-server tests create and attach on moto).
func TestRetryEventual(t *testing.T) {
	errLag := errors.New("NoSuchEntity: not visible yet")
	errHard := errors.New("AccessDenied")
	lagging := func(err error) bool { return errors.Is(err, errLag) }
	t.Run("retried until it holds", func(t *testing.T) {
		calls := 0
		err := retryEventual(context.Background(), func() error {
			if calls++; calls < 3 {
				return errLag
			}
			return nil
		}, lagging)
		if err != nil || calls != 3 {
			t.Errorf("err %v after %d calls, want nil after 3", err, calls)
		}
	})
	t.Run("another error at once", func(t *testing.T) {
		calls := 0
		err := retryEventual(context.Background(), func() error { calls++; return errHard }, lagging)
		if !errors.Is(err, errHard) || calls != 1 {
			t.Errorf("err %v after %d calls, want AccessDenied after 1", err, calls)
		}
	})
	t.Run("the context ending stops it", func(t *testing.T) {
		calls := 0
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := retryEventual(ctx, func() error {
			if calls++; calls == 2 {
				cancel()
			}
			return errLag
		}, lagging)
		if !errors.Is(err, context.Canceled) || calls != 2 {
			t.Errorf("err %v after %d calls, want context.Canceled after 2", err, calls)
		}
	})
	t.Run("the last error when the attempts run out", func(t *testing.T) {
		saved := eventualBackoff
		t.Cleanup(func() { eventualBackoff = saved })
		eventualBackoff.Duration, eventualBackoff.Steps = time.Millisecond, 3
		calls := 0
		err := retryEventual(context.Background(), func() error { calls++; return errLag }, lagging)
		if !errors.Is(err, errLag) || calls != 3 {
			t.Errorf("err %v after %d calls, want the lag error after 3", err, calls)
		}
	})
}
