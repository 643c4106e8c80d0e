package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/sandbox"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
)

// verifyOverhead runs `verify -o json` (the built plugin) on a sandbox with
// the real Velero server, runs times, and reports the median wall time, the
// time Velero took for the backup and the restore (completion minus start
// in their status, which Velero stamps to the second), and the difference:
// what verify itself adds (its steps, waits, reads and cleanup).
func verifyOverhead(plugin string, runs int) error {
	if _, err := sandbox.VeleroBinDir(); err != nil {
		return err
	}
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{Log: io.Discard})
	if err != nil {
		return err
	}
	defer sb.Stop()
	env := append(os.Environ(), sb.Rig.EnvList()...)
	runWith := func(extraEnv []string, args ...string) ([]byte, error) {
		c := exec.Command(plugin, args...)
		c.Env = append(env, extraEnv...)
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		if err := c.Run(); err != nil {
			return out.Bytes(), fmt.Errorf("%v: %w\n%s", args, err, errOut.String())
		}
		return out.Bytes(), nil
	}
	run := func(args ...string) ([]byte, error) { return runWith(nil, args...) }
	if _, err := run("setup", "--yes"); err != nil {
		return err
	}
	var walls, velero, overheads, cleanups, reactions []float64
	for range runs {
		start := time.Now()
		out, err := run("verify", "-o", "json")
		wall := time.Since(start).Seconds()
		if err != nil {
			return err
		}
		var rep verify.Report
		if err := json.Unmarshal(out, &rep); err != nil {
			return err
		}
		v := 0.0
		for _, o := range []*verify.Operation{rep.Backup, rep.Restore} {
			if o != nil {
				v += o.VeleroSeconds
			}
		}
		walls, velero, overheads = append(walls, wall), append(velero, v), append(overheads, verify.Overhead(wall, rep.Backup, rep.Restore))
		if c := rep.Step(verify.StepCleanup); c != nil {
			cleanups = append(cleanups, c.Seconds)
		}
		for _, st := range []struct {
			step, resource string
			op             *verify.Operation
		}{{verify.StepBackup, "backups", rep.Backup}, {verify.StepRestore, "restores", rep.Restore}} {
			s := rep.Step(st.step)
			if s == nil || st.op == nil {
				continue
			}
			end := s.Started.Add(time.Duration(s.Seconds * float64(time.Second)))
			if last, ok := lastVeleroWrite(sb.Rig.AuditLog, st.resource, st.op.Name, end); ok {
				reactions = append(reactions, end.Sub(last).Seconds())
			}
		}
	}
	fmt.Printf("\nverify on the sandbox (real Velero %s, moto), %d runs, median: wall %.2fs, Velero's backup + restore %.0fs (status timestamps, whole seconds), verify's own overhead %.2fs (wall minus Velero; +/- 2s from Velero's second-granular stamps), of which cleanup %.2fs (Velero deleting the backup's data, the namespaces' deletion)\n",
		sandbox.VeleroVersion, runs, medianF(walls), medianF(velero), medianF(overheads), medianF(cleanups))
	sort.Float64s(reactions)
	worst := 0.0
	if len(reactions) > 0 {
		worst = reactions[len(reactions)-1]
	}
	if err := verifyLatency(sb, runWith); err != nil {
		fmt.Println("verify under the latency model: FAILED:", err)
	}
	fmt.Printf("verify's reaction to Velero's last write of its backup and restore (audit log to the step's end), %d waits: median %.0f ms, worst %.0f ms; budget 100 ms\n",
		len(reactions), 1000*medianF(reactions), 1000*worst)
	return nil
}

// lastVeleroWrite is the time of Velero's last write to the named object
// before end, from the API server's audit log.
func lastVeleroWrite(path, resource, name string, end time.Time) (time.Time, bool) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	var last time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Verb      string    `json:"verb"`
			UserAgent string    `json:"userAgent"`
			Stage     string    `json:"stage"`
			Timestamp time.Time `json:"stageTimestamp"`
			ObjectRef struct {
				Resource, Name string
			} `json:"objectRef"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Stage != "ResponseComplete" || ev.ObjectRef.Resource != resource || ev.ObjectRef.Name != name {
			continue
		}
		if (ev.Verb == "update" || ev.Verb == "patch") && strings.HasPrefix(ev.UserAgent, "velero") && ev.Timestamp.Before(end) && ev.Timestamp.After(last) {
			last = ev.Timestamp
		}
	}
	return last, !last.IsZero()
}

func medianF(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// verifyLatency runs verify once more with the plugin's requests through the
// latency proxies (Velero's own go straight to the servers) and prints its
// wall time, requests and AWS critical path. Most of verify's time is
// waiting for Velero, so no ratio to the chain's latency is claimed.
func verifyLatency(sb *sandbox.Sandbox, run func(extraEnv []string, args ...string) ([]byte, error)) error {
	lp, err := startLatency(sb.Rig)
	if err != nil {
		return err
	}
	defer lp.Close()
	start := time.Now()
	if _, err := run(lp.Env(), "verify"); err != nil {
		return err
	}
	wall := time.Since(start)
	al, kl := lp.aws.Log(), lp.kube.Log()
	chain := faults.CriticalPath(al)
	fmt.Printf("verify under the latency model: wall %s, %d AWS and %d kube requests, %d AWS round trips in sequence (%s)\n",
		wall.Round(time.Millisecond), len(al), len(kl), len(chain), path(chain))
	return nil
}
