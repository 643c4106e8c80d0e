package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"

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
	run := func(args ...string) ([]byte, error) {
		c := exec.Command(plugin, args...)
		c.Env = env
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		if err := c.Run(); err != nil {
			return out.Bytes(), fmt.Errorf("%v: %w\n%s", args, err, errOut.String())
		}
		return out.Bytes(), nil
	}
	if _, err := run("setup", "--yes"); err != nil {
		return err
	}
	var walls, velero, overheads, cleanups []float64
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
	}
	fmt.Printf("\nverify on the sandbox (real Velero %s, moto), %d runs, median: wall %.2fs, Velero's backup + restore %.0fs (status timestamps, whole seconds), verify's own overhead %.2fs (wall minus Velero; +/- 2s from Velero's second-granular stamps), of which cleanup %.2fs (Velero deleting the backup's data, the namespaces' deletion)\n",
		sandbox.VeleroVersion, runs, medianF(walls), medianF(velero), medianF(overheads), medianF(cleanups))
	fmt.Println("verify's waits are pkg/wait's watches, the same as backup --wait's, whose reaction is measured above.")
	return nil
}

func medianF(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
