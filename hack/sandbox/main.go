// Command sandbox starts and stops the local AWS STS cluster in a box
// (internal/sandbox) in the background: `make sandbox` and `make sandbox-stop`.
//
//	sandbox start   start it (or report the running one) and print its environment
//	sandbox env     print the running sandbox's environment
//	sandbox stop    stop it: every process, port and directory
//
// State lives in $OADP_STS_SANDBOX_STATE, default <cache>/sandbox (the cache
// directory of hack/rig-tools.sh), so `stop` finds what `start` began.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/sandbox"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sandbox start|env|stop")
		os.Exit(2)
	}
	state, err := stateDir()
	if err == nil {
		switch os.Args[1] {
		case "start":
			err = start(state)
		case "serve":
			err = serve(state)
		case "env":
			err = printEnv(state)
		case "stop":
			err = stop(state)
		default:
			err = fmt.Errorf("unknown command %q: use start, env or stop", os.Args[1])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

var klogLine = regexp.MustCompile(`^[IWE]\d{4} `)

func stateDir() (string, error) {
	if d := os.Getenv("OADP_STS_SANDBOX_STATE"); d != "" {
		return filepath.Abs(d)
	}
	cache, err := rig.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "sandbox"), nil
}

// running returns the pid of the live sandbox server, 0 if none.
func running(state string) int {
	b, err := os.ReadFile(filepath.Join(state, "pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// start runs this program again as `serve`, detached in a session of its own
// so it outlives make, and follows its log until the sandbox is ready.
func start(state string) error {
	if pid := running(state); pid != 0 {
		fmt.Fprintf(os.Stderr, "The sandbox is already running (pid %d).\n", pid)
		return printEnv(state)
	}
	// Leftovers of a sandbox that was killed outright.
	for _, f := range []string{"pid", "env.sh", "dir", "serve.log"} {
		os.Remove(filepath.Join(state, f))
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(state, "serve.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	lf.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)

	fmt.Fprintln(os.Stderr, "Starting the sandbox: a local AWS STS cluster with OADP 1.4 and the real Velero server.")
	follow, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer follow.Close()
	rd := bufio.NewReader(follow)
	printNew := func() {
		for {
			line, err := rd.ReadString('\n')
			if line != "" && err == nil {
				// klog's notes from the API clients are noise here.
				if !klogLine.MatchString(line) {
					fmt.Fprint(os.Stderr, "  ", line)
				}
				continue
			}
			// A partial line is read again once it is complete.
			if line != "" {
				_, _ = follow.Seek(-int64(len(line)), io.SeekCurrent)
				rd.Reset(follow)
			}
			return
		}
	}
	deadline := time.After(10 * time.Minute)
	for {
		printNew()
		if _, err := os.Stat(filepath.Join(state, "env.sh")); err == nil {
			printNew()
			return printEnv(state)
		}
		select {
		case err := <-exited:
			printNew()
			return fmt.Errorf("the sandbox did not start (%v); its log is %s", err, logPath)
		case <-sig:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited //nolint:errcheck // stopped by our signal: its exit status says no more
			return errors.New("interrupted; the sandbox was stopped")
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited //nolint:errcheck // stopped by our signal: its exit status says no more
			return fmt.Errorf("the sandbox did not start in 10 minutes; its log was %s", logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serve is the background process: it holds the sandbox (the stand-in runs
// inside it) until SIGTERM, then stops everything and removes the state.
func serve(state string) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	if err := os.WriteFile(filepath.Join(state, "pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Log: os.Stdout})
	if err != nil {
		os.Remove(filepath.Join(state, "pid"))
		return err
	}
	// Where stop can still clean up should this process be killed outright.
	_ = os.WriteFile(filepath.Join(state, "dir"), []byte(sb.Rig.Dir+"\n"), 0o600)
	var env strings.Builder
	env.WriteString(sb.Rig.ShellEnv())
	if root, err := rig.RepoRoot(); err == nil {
		fmt.Fprintf(&env, "export PATH=%s:$PATH\n", filepath.Join(root, "bin"))
	}
	tmp := filepath.Join(state, "env.sh.tmp")
	if err := os.WriteFile(tmp, []byte(env.String()), 0o600); err != nil {
		sb.Stop()
		return err
	}
	if err := os.Rename(tmp, filepath.Join(state, "env.sh")); err != nil {
		sb.Stop()
		return err
	}
	fmt.Println("sandbox ready")
	<-ctx.Done()
	fmt.Println("stopping")
	sb.Stop()
	return os.RemoveAll(state)
}

func printEnv(state string) error {
	b, err := os.ReadFile(filepath.Join(state, "env.sh"))
	if err != nil || running(state) == 0 {
		return errors.New("no sandbox is running: start one with 'make sandbox'")
	}
	dir, _ := os.ReadFile(filepath.Join(state, "dir"))
	fmt.Printf(`
The sandbox is running. Use it from a shell with:

%s
or: eval "$(make -s sandbox-env)"

  kubectl oadp-sts status          the plugin, against the sandbox
  kubectl get backups -A           kubectl works too (kubectl at /usr/bin/kubectl)
  logs: %s/sandbox/{velero,stand-in}.log

Stop it with: make sandbox-stop
`, b, strings.TrimSpace(string(dir)))
	return nil
}

// stop asks the server to stop and waits; if it does not, it is killed (its
// children die with it) and its directories are removed here.
func stop(state string) error {
	pid := running(state)
	if pid == 0 {
		cleanup(state)
		fmt.Fprintln(os.Stderr, "No sandbox is running.")
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 150 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(200 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		time.Sleep(500 * time.Millisecond)
	}
	cleanup(state)
	fmt.Fprintf(os.Stderr, "Sandbox stopped (pid %d).\n", pid)
	return nil
}

func cleanup(state string) {
	if b, err := os.ReadFile(filepath.Join(state, "dir")); err == nil {
		if d := strings.TrimSpace(string(b)); strings.Contains(d, "oadp-sts-rig-") {
			os.RemoveAll(d)
		}
	}
	os.RemoveAll(state)
}
