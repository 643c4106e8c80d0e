package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// fleetSizes are the fleets measured; the goal compares the last with the first.
var fleetSizes = []int{1, 3, 6}

// Fleet mode's goals: six clusters in at most twice one's wall time (they
// run at once, so the time is the slowest cluster's, not the sum), and the
// plugin's peak memory under 100 MiB however many clusters it drives.
const (
	fleetTimeGoal   = 2.0
	fleetMemoryGoal = 100 << 10 // KiB, as /usr/bin/time reports it
)

type fleetRow struct {
	verb     string
	clusters int
	// parallel is --parallel when not the default.
	parallel int
	wall     time.Duration
	rssKiB   int64
	// cpu is the plugin's user and system time: against wall, how much of
	// the run the plugin itself worked rather than waited on the servers.
	cpu    time.Duration
	failed string
}

// fleetBench starts a fleet of six rig clusters against one moto, puts the
// latency model's proxies in front of moto and each API server (without
// them every cluster's requests answer in microseconds, and the bench would
// measure the two cores shared by six API servers, not the plugin's
// concurrency), and measures setup and status on 1, 3 and 6 of them in
// fleet mode (--contexts-matching), each run on namespaces never used
// before; the peak RSS of the plugin's process from /usr/bin/time.
//
//nolint:funlen // one story: the fleet, its proxies, then every size measured and the goals
func fleetBench(plugin string, runs int) error {
	ctx := context.Background()
	start := time.Now()
	ids := make([]rig.Identity, fleetSizes[len(fleetSizes)-1])
	f, err := rig.StartFleet(ctx, rig.Options{}, ids...)
	if err != nil {
		return err
	}
	defer f.Stop()
	fmt.Printf("\nfleet: %d rig clusters (%s) against one moto, up in %s\n", len(f.Rigs), strings.Join(f.Contexts(), ", "), time.Since(start).Round(time.Millisecond))
	lat := latencies()
	env, closeProxies, err := fleetProxies(f, lat)
	if err != nil {
		return err
	}
	defer closeProxies()
	timeCmd, _ := exec.LookPath("/usr/bin/time")

	seq := 0
	b := &bench{r: f.AWS(), plugin: plugin, env: env}
	measure := func(verb string, n int, prepare func(ns string) error, args ...string) fleetRow {
		row := fleetRow{verb: verb, clusters: n}
		var walls []time.Duration
		for i := 0; i < runs; i++ {
			seq++
			ns := fmt.Sprintf("fleet-bench-%d", seq)
			if err := f.ResetAWS(ctx); err != nil {
				row.failed = err.Error()
				return row
			}
			if prepare != nil {
				if err := prepare(ns); err != nil {
					row.failed = err.Error()
					return row
				}
			}
			match := fmt.Sprintf("^(%s)$", strings.Join(f.Contexts()[:n], "|"))
			c := b.pluginCmd(append([]string{verb, "-n", ns, "--contexts-matching", match}, args...)...)
			rssFile := filepath.Join(f.Dir, "rss")
			if timeCmd != "" && i == 0 {
				c = exec.Command(timeCmd, append([]string{"-f", "%U %S %M", "-o", rssFile}, c.Args...)...)
				c.Env = b.pluginCmd().Env
			}
			d, err := b.exec(c)
			// status exits 2 on the rig: no Velero validates the locations.
			if err != nil && (verb != "status" || exitCode(err) != 2) {
				row.failed = err.Error()
			}
			if timeCmd != "" && i == 0 {
				// GNU time writes "Command exited with non-zero status N"
				// before the number when the command failed (status: 2).
				data, _ := os.ReadFile(rssFile)
				if f := strings.Fields(lastLine(strings.TrimSpace(string(data)))); len(f) == 3 {
					user, _ := strconv.ParseFloat(f[0], 64)
					sys, _ := strconv.ParseFloat(f[1], 64)
					row.cpu = time.Duration((user + sys) * float64(time.Second))
					row.rssKiB, _ = strconv.ParseInt(f[2], 10, 64)
				}
			}
			walls = append(walls, d)
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		row.wall = walls[len(walls)/2]
		fmt.Fprintf(os.Stderr, "  measured %s on %d clusters\n", verb, n)
		return row
	}
	setUp := func(n int) func(ns string) error {
		return func(ns string) error {
			match := fmt.Sprintf("^(%s)$", strings.Join(f.Contexts()[:n], "|"))
			_, err := b.exec(b.pluginCmd("setup", "--yes", "--wait=false", "-n", ns, "--contexts-matching", match))
			return err
		}
	}
	all := fleetSizes[len(fleetSizes)-1]
	var rows []fleetRow
	for _, n := range fleetSizes {
		rows = append(rows, measure("setup", n, nil, "--yes", "--wait=false"))
	}
	// --parallel 4 runs six clusters in two waves, so twice one cluster's
	// time is the floor; every cluster at once shows what contention costs.
	wide := measure("setup", all, nil, "--yes", "--wait=false", "--parallel", strconv.Itoa(all))
	wide.parallel = all
	rows = append(rows, wide)
	for _, n := range fleetSizes {
		rows = append(rows, measure("status", n, setUp(n)))
	}
	wide = measure("status", all, setUp(all), "--parallel", strconv.Itoa(all))
	wide.parallel = all
	rows = append(rows, wide)
	printFleet(rows, lat, runs, timeCmd != "")
	return nil
}

// fleetProxies fronts moto and every cluster's API server with the latency
// model; env points a plugin process at them (a kubeconfig with every
// context at its cluster's proxy, AWS at moto's, no region of its own).
func fleetProxies(f *rig.Fleet, lat map[string]time.Duration) (env []string, closeAll func(), err error) {
	var proxies []*faults.Proxy
	closeAll = func() {
		for _, p := range proxies {
			p.Close()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	awsP, err := faults.Start(f.AWS().AWSEndpoint, faults.Options{Latency: lat, Jitter: 0.1, Seed: 21})
	if err != nil {
		return nil, nil, err
	}
	proxies = append(proxies, awsP)
	cfg, err := clientcmd.LoadFromFile(f.Kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	for i, r := range f.Rigs {
		tr, err := rest.TransportFor(r.Config)
		if err != nil {
			return nil, nil, err
		}
		p, err := faults.StartFor(r.APIServerURL, faults.Upstream{Service: "kube", Transport: tr}, faults.Options{Latency: lat, Jitter: 0.1, Seed: uint64(22 + i)})
		if err != nil {
			return nil, nil, err
		}
		proxies = append(proxies, p)
		ctx, ok := cfg.Contexts[r.Identity.Context]
		if !ok || cfg.Clusters[ctx.Cluster] == nil {
			return nil, nil, errors.New("the fleet's kubeconfig lacks context " + r.Identity.Context)
		}
		c := cfg.Clusters[ctx.Cluster]
		c.Server, c.CertificateAuthority, c.CertificateAuthorityData = p.URL, "", nil
	}
	path := filepath.Join(f.Dir, "kubeconfig-latency")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return nil, nil, err
	}
	var out []string
	for k, v := range f.Env() {
		out = append(out, k+"="+v)
	}
	return append(out, "KUBECONFIG="+path, "AWS_ENDPOINT_URL="+awsP.URL), closeAll, nil
}

func printFleet(rows []fleetRow, lat map[string]time.Duration, runs int, rss bool) {
	fmt.Printf("\nfleet mode under the latency model (IAM %s, STS %s, S3 %s, each API server %s per request), --parallel 4 (the default), %d runs, median:\n",
		lat["iam"], lat["sts"], lat["s3"], lat["kube"], runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "command\tclusters\t--parallel\twall (median)\tvs 1 cluster\tpeak RSS (plugin)\tplugin CPU (user+sys)")
	one := map[string]time.Duration{}
	for _, r := range rows {
		par := "4"
		if r.parallel != 0 {
			par = strconv.Itoa(r.parallel)
		}
		if r.failed != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\tFAILED: %s\t\t\t\n", r.verb, r.clusters, par, lastLine(r.failed))
			continue
		}
		if r.clusters == 1 {
			one[r.verb] = r.wall
		}
		mem, cpu := "-", "-"
		if rss {
			mem, cpu = fmt.Sprintf("%.1f MiB", float64(r.rssKiB)/1024), r.cpu.Round(10*time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2fx\t%s\t%s\n", r.verb, r.clusters, par, r.wall.Round(time.Millisecond), ratio(r.wall, one[r.verb]), mem, cpu)
	}
	tw.Flush()
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Println("fleet goals:")
	var peak int64
	for _, r := range rows {
		peak = max(peak, r.rssKiB)
		if r.clusters != fleetSizes[len(fleetSizes)-1] {
			continue
		}
		x := ratio(r.wall, one[r.verb])
		par := "the default --parallel 4"
		if r.parallel != 0 {
			par = fmt.Sprintf("--parallel %d", r.parallel)
		}
		fmt.Printf("  %s, %s: %d clusters in %.2fx the time of one, goal <= %.0fx: %s\n", r.verb, par, r.clusters, x, fleetTimeGoal, verdict(r.failed == "" && one[r.verb] > 0 && x <= fleetTimeGoal))
	}
	if rss {
		fmt.Printf("  peak memory of the plugin: %.1f MiB, %.2f of the 100 MiB goal: %s\n", float64(peak)/1024, float64(peak)/float64(fleetMemoryGoal), verdict(peak > 0 && peak < fleetMemoryGoal))
	} else {
		fmt.Println("  peak memory: not measured (/usr/bin/time is missing: apt-get install time)")
	}
}
