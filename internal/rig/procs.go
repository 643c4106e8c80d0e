package rig

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process the rig started. Its output goes to a log file in
// the rig's directory, named in every startup error.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (r *Rig) start(name, bin string, args []string, env []string) (*proc, error) {
	logPath := filepath.Join(r.Dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	// "-KEY" in env removes KEY from the inherited environment.
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.HasPrefix(kv, "-") || slices.Contains(env, "-"+k)
	})
	// Servers write scratch files (moto its recording) to their working directory.
	cmd.Dir = r.Dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	// Its exit status is not an error: the rig stops its processes by signal,
	// and one that dies early shows in its log and its readiness check.
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	r.procs = append(r.procs, p)
	return p, nil
}

// stop kills the process and waits for it, so its ports are free on return.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the end of the process's log, for startup errors.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	// Hold all listeners until every port is chosen so none is handed out twice.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// waitHTTP polls url until check accepts the response, the process dies, or the
// timeout passes. Polling is right here: a server that is not yet listening
// cannot be watched.
func waitHTTP(ctx context.Context, p *proc, client *http.Client, url string, timeout time.Duration, check func(*http.Response) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			ok := check(resp)
			_, _ = io.Copy(io.Discard, resp.Body) // drained for the connection's reuse
			resp.Body.Close()
			if ok {
				return nil
			}
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited during startup; its log (%s) ends:\n%s", p.name, p.log, p.tail())
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%s not ready at %s after %s", p.name, url, timeout)
			if p != nil {
				msg += fmt.Sprintf("; its log (%s) ends:\n%s", p.log, p.tail())
			}
			return fmt.Errorf("%s", msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
