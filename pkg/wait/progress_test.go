package wait

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(phase string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"phase": phase}}}
}

func phase(o *unstructured.Unstructured) string {
	return o.Object["status"].(map[string]any)["phase"].(string)
}

// On a terminal: one line, rewritten in place, ended once.
func TestLiveProgressRewritesOneLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(Options{What: "x", Out: &b, Live: true, Progress: phase}, "absent")
	p.update(obj("New"))
	p.update(obj("InProgress"))
	p.redraw()
	p.update(obj("Completed"))
	p.finish()
	out := b.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "Completed\x1b[K\n") {
		t.Errorf("live output should be one rewritten line ending in the last state:\n%q", out)
	}
	if strings.Count(out, "\r") < 4 {
		t.Errorf("every change and tick should redraw: %q", out)
	}
}

// Piped: a plain line per change, none for repeats.
func TestPlainProgressOneLinePerChange(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(Options{What: "x", Out: &b, Progress: phase}, "absent")
	for _, ph := range []string{"New", "InProgress", "InProgress", "Completed"} {
		p.update(obj(ph))
	}
	p.redraw()
	p.finish()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || strings.Contains(b.String(), "\r") {
		t.Fatalf("want 3 plain lines, got %q", b.String())
	}
	if !strings.HasSuffix(lines[2], "Completed") || !strings.HasPrefix(lines[0], "0s  ") {
		t.Errorf("lines = %q", lines)
	}
}

func TestElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		400 * time.Millisecond: "0s", 59 * time.Second: "59s", 65 * time.Second: "1m05s", 3*time.Hour + 2*time.Second: "3h00m02s",
	} {
		if got := Elapsed(d); got != want {
			t.Errorf("Elapsed(%s) = %q, want %q", d, got, want)
		}
	}
}
