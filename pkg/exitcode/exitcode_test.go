package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	base := errors.New("boom")
	timedOut := WithCode(Timeout, base)
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", base, Error},
		{"coded", timedOut, Timeout},
		{"wrapped by fmt", fmt.Errorf("wait: %w", timedOut), Timeout},
		{"outer code wins", WithCode(Failed, timedOut), Failed},
		{"errorf", Errorf(PartiallyFailed, "backup %s ended %s", "b", "PartiallyFailed"), PartiallyFailed},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("%s: Code = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestWithCodeWrapsOnce(t *testing.T) {
	if WithCode(Timeout, nil) != nil {
		t.Fatal("WithCode(nil) is not nil")
	}
	once := WithCode(Timeout, errors.New("boom"))
	if again := WithCode(Timeout, once); again != once {
		t.Errorf("WithCode wrapped an error that already carries its code: %#v", again)
	}
	again := WithCode(Timeout, fmt.Errorf("context: %w", once))
	var e *CodedError
	if !errors.As(again, &e) || errors.As(e.Err, new(*CodedError)) {
		t.Errorf("WithCode wrapped a wrapped coded error again: %#v", again)
	}
	if got := WithCode(Failed, once); Code(got) != Failed {
		t.Errorf("a different code is not applied: %d", Code(got))
	}
	if got := WithCode(Timeout, errors.New("x")).Error(); got != "x" {
		t.Errorf("message changed: %q", got)
	}
}
