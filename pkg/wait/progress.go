package wait

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// progress shows a wait's state: one line rewritten in place on a terminal,
// a plain line per change otherwise.
type progress struct {
	opts Options
	// absent is the text shown while there is no object.
	absent string
	live   bool
	start  time.Time
	last   string // the last progress text, without the elapsed time
	drawn  bool   // a live line is on screen and needs a newline at the end
}

func newProgress(opts Options, absent string) *progress {
	return &progress{opts: opts, absent: absent, live: opts.Live && opts.Out != nil, start: time.Now()}
}

func (p *progress) text(obj *unstructured.Unstructured) string {
	if obj == nil {
		return p.absent
	}
	if p.opts.Progress == nil {
		return "waiting"
	}
	return p.opts.Progress(obj)
}

// update records the object's state and shows it if it changed.
func (p *progress) update(obj *unstructured.Unstructured) {
	t := p.text(obj)
	if t == p.last && (p.drawn || !p.live) && p.last != "" {
		return
	}
	p.last = t
	if p.opts.Out == nil {
		return
	}
	if p.live {
		p.redraw()
		return
	}
	fmt.Fprintf(p.opts.Out, "%s  %s\n", Elapsed(time.Since(p.start)), t)
}

// redraw rewrites the live line with the current elapsed time.
func (p *progress) redraw() {
	if !p.live {
		return
	}
	// \r goes back to the line's start, \x1b[K clears what a longer earlier
	// line left behind.
	fmt.Fprintf(p.opts.Out, "\r%s  %s\x1b[K", Elapsed(time.Since(p.start)), p.last)
	p.drawn = true
}

// finish ends the live line so later output starts on a fresh one.
func (p *progress) finish() {
	if p.live && p.drawn {
		fmt.Fprintln(p.opts.Out)
	}
}

// Elapsed formats a duration the way progress lines and summaries show it:
// whole seconds, "1m05s" style.
func Elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}
