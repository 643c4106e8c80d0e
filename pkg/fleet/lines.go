package fleet

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Locked is a writer several clusters' output goes to at once: each Write
// is one whole call under a lock, so lines from two clusters never mix.
type Locked struct {
	mu *sync.Mutex
	w  io.Writer
}

// NewLocked wraps w under mu; give stdout and stderr one mutex when both
// are the same terminal.
func NewLocked(w io.Writer, mu *sync.Mutex) *Locked { return &Locked{w: w, mu: mu} }

func (l *Locked) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Prefixed writes a cluster's output to out one whole line at a time, each
// line prefixed with the cluster's context, for a terminal where every
// cluster's progress shows as it happens. A partial line waits for its end
// (or Flush), so it is never split by another cluster's line.
type Prefixed struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte
}

// NewPrefixed writes to out with prefix before each line.
func NewPrefixed(out io.Writer, prefix string) *Prefixed {
	return &Prefixed{out: out, prefix: prefix}
}

// Prefix is a context name padded to width, then a bar.
func Prefix(context string, width int) string { return fmt.Sprintf("%-*s | ", width, context) }

func (p *Prefixed) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	var whole []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		whole = append(whole, p.prefix...)
		whole = append(whole, p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
	}
	if len(whole) > 0 {
		if _, err := p.out.Write(whole); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush writes what is left of a last line without its newline, ended by one.
func (p *Prefixed) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		return nil
	}
	line := append([]byte(p.prefix), p.buf...)
	p.buf = nil
	_, err := p.out.Write(append(line, '\n'))
	return err
}

// Group keeps a cluster's output whole, for a stream that is not a terminal:
// it is written at once, under a header naming the context, when the cluster
// is done, so a log or a file reads cluster by cluster.
type Group struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (g *Group) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(b)
}

// Bytes is what the cluster wrote.
func (g *Group) Bytes() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Clone(g.buf.Bytes())
}

// WriteTo writes the group to out in one call: a header line with the
// context, then the cluster's lines (a last one without a newline ended).
// Nothing is written for a cluster that wrote nothing.
func (g *Group) WriteTo(out io.Writer, context string) (int64, error) {
	b := g.Bytes()
	if len(b) == 0 {
		return 0, nil
	}
	if b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	n, err := out.Write(append([]byte("=== "+context+" ===\n"), b...))
	return int64(n), err
}
