package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// The latency model: a laptop far from AWS. IAM is one global endpoint, STS
// and S3 regional, the API server nearer.
func latencies() map[string]time.Duration {
	l := faults.Distant()
	l["kube"] = 25 * time.Millisecond
	return l
}

// The smallest chains the work allows: which AWS request needs which
// answer. setup: the caller's identity gives the account ID, which the
// OIDC provider's and the policy's ARNs need; the role and its attached
// policies are looked up by name (no account needed), so in principle they
// go out with the identity; the creates need the reads' answers, and the
// attachment needs both the role and the policy to exist.
//
//	fresh:     GetCallerIdentity, GetRole, ListAttachedRolePolicies
//	           -> GetOpenIDConnectProvider, GetPolicy, the bucket's
//	              reads (HeadBucket names this account as the owner)
//	           -> CreatePolicy, CreateRole, CreateBucket
//	           -> AttachRolePolicy, the bucket's settings (each needs
//	              its create only)                                   (4)
//	converged: ... -> GetPolicy -> GetPolicyVersion (needs its
//	           DefaultVersionId)                                     (3)
//	status:    GetCallerIdentity, GetRole, ListAttachedRolePolicies,
//	           GetBucketLocation -> GetOpenIDConnectProvider, GetPolicy
//	           (and AssumeRoleWithWebIdentity after GetRole)
//	           -> GetPolicyVersion                                   (3)
//	cleanup:   GetCallerIdentity -> reads of the role, its policies and
//	           the policy, the bucket's tags -> DetachRolePolicy, the
//	           bucket's (empty) listing -> DeleteRole, DeletePolicy (a
//	           policy with attachments cannot be deleted), DeleteBucket
//	                                                                 (4)
//
// The goals are those of the issue: fresh setup at most 4 sequential AWS
// round trips, a converged rerun and status at most 3, wall time within
// 1.3x of the measured chain's latency (every request on it, AWS and API
// server, at its modelled latency), setup 6x faster than the chapter.
var minChain = map[string]int{"setup, fresh": 4, "setup, converged": 3, "status": 3, "cleanup": 4}

var goalChain = map[string]int{"setup, fresh": 4, "setup, converged": 3, "status": 3}

type latencyRow struct {
	name      string
	wall      time.Duration
	aws, kube int
	awsChain  []faults.Logged
	// fullChain is the heaviest chain of AWS and API-server requests (the
	// most modelled latency in sequence): floor is its latency, the least
	// wall time of what was sent in that order.
	fullChain []faults.Logged
	floor     time.Duration
	failed    string
	plugin    bool
}

// latencyBench runs the commands with every AWS and API-server request
// through a proxy that adds the model's latency and logs each request's
// start and end; the critical paths come from those logs.
func (b *bench) latencyBench(ctx context.Context, runs int) error {
	lat := latencies()
	lp, err := startLatency(b.r)
	if err != nil {
		return err
	}
	defer lp.Close()
	awsP := lp.aws
	old := b.env
	b.env = lp.Env()
	b.awsURL = awsP.URL
	defer func() { b.env, b.awsURL = old, b.r.AWSEndpoint }()

	seq := 1000
	ns := func() string { return fmt.Sprintf("bench-%d", seq) }
	fresh := func() error { seq++; return b.r.ResetAWS(ctx) }
	converged := func() error {
		if err := fresh(); err != nil {
			return err
		}
		_, err := b.exec(b.pluginCmd("setup", "--yes", "--wait=false", "-n", ns()))
		return err
	}
	once := func(row latencyRow, prepare func() error, cmds func() []*exec.Cmd) latencyRow {
		return b.latencyOnce(lp, lat, row, prepare, cmds)
	}
	measure := func(name string, plugin bool, prepare func() error, cmds func() []*exec.Cmd) latencyRow {
		var rows []latencyRow
		for i := 0; i < runs; i++ {
			rows = append(rows, once(latencyRow{name: name, plugin: plugin}, prepare, cmds))
		}
		return medianRow(rows)
	}

	setup := func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("setup", "--yes", "--wait=false", "-n", ns())} }
	var out []latencyRow
	add := func(r latencyRow) latencyRow {
		out = append(out, r)
		fmt.Fprintf(os.Stderr, "  measured %s (latency model)\n", r.name)
		return r
	}
	// The plugin's fresh setup and the chapter's run in turn, each pair
	// under the same load of the machine (the chapter's aws CLI processes
	// are CPU-bound, so a busier machine slows it more): the speed-up is
	// the median of the pairs' ratios.
	var pfs, cfs []latencyRow
	var ratios []float64
	for i := 0; i < runs; i++ {
		p := once(latencyRow{name: "setup, fresh", plugin: true}, fresh, setup)
		c := once(latencyRow{name: "setup, fresh (chapter)"}, fresh, func() []*exec.Cmd { return b.chapterFull(ns()) })
		pfs, cfs = append(pfs, p), append(cfs, c)
		ratios = append(ratios, ratio(c.wall, p.wall))
	}
	pf, cf := add(medianRow(pfs)), add(medianRow(cfs))
	sort.Float64s(ratios)
	speedup := ratios[len(ratios)/2]
	add(measure("setup, converged", true, converged, setup))
	add(measure("status", true, converged, func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("status", "-n", ns())} }))
	add(measure("cleanup", true, converged, func() []*exec.Cmd {
		// The rig runs no kube-controller-manager, so a namespace never
		// finishes deleting: the operator and namespace are kept.
		return []*exec.Cmd{b.pluginCmd("cleanup", "--yes", "--keep-operator", "-n", ns(), "--timeout", "1m")}
	}))

	printLatency(out, lat, pf, cf, speedup, runs, b.chains)
	return nil
}

// latencyOnce runs a scenario one time through the proxies: prepare, then
// the commands in order; the row gets their wall time and the chains from
// the proxies' logs.
func (b *bench) latencyOnce(lp *latencyProxies, lat map[string]time.Duration, row latencyRow, prepare func() error, cmds func() []*exec.Cmd) latencyRow {
	// On the rig status finds no Velero running, a failed check: exit 2.
	okExit2 := row.name == "status"
	if err := prepare(); err != nil {
		row.failed = err.Error()
		return row
	}
	list := cmds()
	lp.aws.ResetLog()
	lp.kube.ResetLog()
	for _, c := range list {
		d, err := b.exec(c)
		row.wall += d
		if err != nil && row.plugin && (!okExit2 || exitCode(err) != 2) {
			row.failed = err.Error()
		}
	}
	al, kl := lp.aws.Log(), lp.kube.Log()
	row.aws, row.kube = len(al), len(kl)
	row.awsChain = faults.CriticalPath(al)
	row.fullChain = faults.HeaviestPath(append(al, kl...), lat)
	row.floor = faults.Floor(row.fullChain, lat)
	return row
}

// medianRow is the run of median wall time, or the first that failed.
func medianRow(rows []latencyRow) latencyRow {
	for _, r := range rows {
		if r.failed != "" {
			return r
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].wall < rows[j].wall })
	return rows[len(rows)/2]
}

// printLatency prints the latency table and the goals: pf and cf are the
// plugin's and the chapter's fresh setups, speedup the median of their runs'
// ratios.
func printLatency(out []latencyRow, lat map[string]time.Duration, pf, cf latencyRow, speedup float64, runs int, chains bool) {
	fmt.Printf("\nlatency model: IAM %s, STS %s, S3 %s, API server %s per request (10%% jitter), through proxies that log every request;\n",
		lat["iam"], lat["sts"], lat["s3"], lat["kube"])
	fmt.Println("AWS in sequence = the longest chain of AWS requests each of which started after the one before ended, from the logs;")
	fmt.Println("heaviest chain = such a chain of AWS and API-server requests with the most modelled latency: the floor the wall time is judged against")
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\twall (median)\tAWS req\tkube req\tAWS in sequence (least)\theaviest chain, AWS+kube\tits latency\tas measured\twall/latency\tAWS critical path")
	for _, r := range out {
		least := "-"
		if n, ok := minChain[r.name]; ok {
			least = fmt.Sprint(n)
		}
		if r.failed != "" {
			fmt.Fprintf(tw, "%s\tFAILED: %s\t\t\t\t\t\t\t\t\n", r.name, lastLine(r.failed))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d (%s)\t%d\t%s\t%s\t%.2fx\t%s\n", r.name, r.wall.Round(time.Millisecond), r.aws, r.kube,
			len(r.awsChain), least, len(r.fullChain), r.floor.Round(time.Millisecond), span(r.fullChain).Round(time.Millisecond), ratio(r.wall, r.floor), path(r.awsChain))
	}
	tw.Flush()
	fmt.Println("(as measured: the heaviest chain from its first request's start to its last one's end, the servers' own time included;")
	fmt.Println(" wall minus it is the plugin's process start and its time between requests)")
	if chains {
		printChains(out)
	}

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Println("\nlatency goals:")
	for _, r := range out {
		if !r.plugin {
			continue
		}
		if r.failed != "" {
			fmt.Printf("  %s: FAILED\n", r.name)
			continue
		}
		if g, ok := goalChain[r.name]; ok {
			fmt.Printf("  %s: %d sequential AWS round trips, goal <= %d: %s\n", r.name, len(r.awsChain), g, verdict(len(r.awsChain) <= g))
		}
		fmt.Printf("  %s: wall %.2fx its heaviest chain's latency, goal <= 1.3x: %s\n", r.name, ratio(r.wall, r.floor), verdict(ratio(r.wall, r.floor) <= 1.3))
	}
	fmt.Printf("  setup, fresh: %.1fx faster than the chapter under the same latency (the median of %d runs in turn; medians %s vs %s), goal >= 6x: %s\n",
		speedup, runs, pf.wall.Round(time.Millisecond), cf.wall.Round(time.Millisecond), verdict(speedup >= 6 && pf.failed == "" && cf.failed == ""))
}

// latencyProxies front the rig's moto and API server with the latency
// model, logging every request.
type latencyProxies struct {
	aws, kube  *faults.Proxy
	kubeconfig string
}

func startLatency(r *rig.Rig) (*latencyProxies, error) {
	lat := latencies()
	awsP, err := faults.Start(r.AWSEndpoint, faults.Options{Latency: lat, Jitter: 0.1, Seed: 19})
	if err != nil {
		return nil, err
	}
	lp := &latencyProxies{aws: awsP}
	tr, err := rest.TransportFor(r.Config)
	if err == nil {
		lp.kube, err = faults.StartFor(r.APIServerURL, faults.Upstream{Service: "kube", Transport: tr}, faults.Options{Latency: lat, Jitter: 0.1, Seed: 20})
	}
	if err == nil {
		lp.kubeconfig, err = proxiedKubeconfig(r, lp.kube.URL)
	}
	if err != nil {
		lp.Close()
		return nil, err
	}
	return lp, nil
}

// Env points a process at the proxies.
func (lp *latencyProxies) Env() []string {
	return []string{"KUBECONFIG=" + lp.kubeconfig, "AWS_ENDPOINT_URL=" + lp.aws.URL}
}

func (lp *latencyProxies) Close() {
	lp.aws.Close()
	if lp.kube != nil {
		lp.kube.Close()
	}
}

// proxiedKubeconfig is the rig's kubeconfig with the server at the latency
// proxy (plain HTTP on loopback; the proxy speaks TLS to the API server).
func proxiedKubeconfig(r *rig.Rig, server string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(r.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Clusters {
		c.Server = server
		c.CertificateAuthority, c.CertificateAuthorityData = "", nil
	}
	path := filepath.Join(r.Dir, "kubeconfig-latency")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// span is a chain's measured duration, first start to last end.
func span(chain []faults.Logged) time.Duration {
	if len(chain) == 0 {
		return 0
	}
	return chain[len(chain)-1].End.Sub(chain[0].Start)
}

// path names the requests of a chain, overlapping ones left out.
func path(chain []faults.Logged) string {
	var s []string
	for _, q := range chain {
		s = append(s, q.Action)
	}
	return strings.Join(s, " > ")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// printChains shows each plugin run's heaviest chain, request by request,
// with when it started after the first and how long it took.
func printChains(rows []latencyRow) {
	for _, r := range rows {
		if !r.plugin || len(r.fullChain) == 0 {
			continue
		}
		fmt.Printf("\n%s, heaviest chain:\n", r.name)
		t0 := r.fullChain[0].Start
		for _, q := range r.fullChain {
			fmt.Printf("  +%5dms %4dms  %-4s %s\n", q.Start.Sub(t0).Milliseconds(), q.End.Sub(q.Start).Milliseconds(), q.Service, q.Action)
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
