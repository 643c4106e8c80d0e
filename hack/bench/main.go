// Command bench measures the plugin against the chapter's manual procedure on
// the test rig: wall time (median of several runs) and the requests each makes
// to AWS (counted by moto's recorder) and to the API server (counted in its
// audit log by the plugin's user agent). The plugin runs as its built binary,
// bin/kubectl-oadp_sts, and the chapter's steps as the real aws CLI, each as a
// process of its own, so both pay the same process and TLS costs.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

type result struct {
	name          string
	wall          time.Duration
	aws, awsMut   int
	kube          int
	note          string
	failed        string
	offlineTarget time.Duration
}

type bench struct {
	r       *rig.Rig
	plugin  string
	awsCLI  string
	kubectl string
	runs    int
	// env overrides the rig's environment and awsURL its AWS endpoint,
	// for the runs through the latency proxies.
	env    []string
	awsURL string
	chains bool
}

func main() {
	runs := flag.Int("runs", 5, "runs per scenario (the median is reported)")
	only := flag.String("only", "", "run one scenario only: verify, latency, fleet")
	chains := flag.Bool("chains", false, "print each latency scenario's heaviest chain, request by request")
	flag.Parse()
	if *only == "verify" {
		plugin, err := filepath.Abs("bin/kubectl-oadp_sts")
		if err == nil {
			err = verifyOverhead(plugin, *runs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only != "fleet" {
		if err := run(*runs, *only, *chains); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *only == "" || *only == "fleet" {
		// After the single rig has stopped: the fleet starts six clusters of its own.
		plugin, err := filepath.Abs("bin/kubectl-oadp_sts")
		if err == nil {
			err = fleetBench(plugin, min(*runs, 3))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: fleet:", err)
			os.Exit(1)
		}
	}
}

func run(runs int, only string, chains bool) error {
	plugin, err := filepath.Abs("bin/kubectl-oadp_sts")
	if err != nil {
		return err
	}
	if _, err := os.Stat(plugin); err != nil {
		return fmt.Errorf("%s is missing: run 'make build' (or 'make bench', which builds it)", plugin)
	}
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		return fmt.Errorf("the aws CLI is not on PATH (pip install awscli): the chapter's steps are measured with it")
	}
	ctx := context.Background()
	start := time.Now()
	r, err := rig.Start(ctx, rig.Options{})
	if err != nil {
		return err
	}
	defer r.Stop()
	fmt.Printf("rig up in %s: kube-apiserver %s at %s, moto at %s; %d runs per scenario, median shown\n\n",
		time.Since(start).Round(time.Millisecond), rig.KubeVersion, r.APIServerURL, r.AWSEndpoint, runs)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return fmt.Errorf("kubectl is not on PATH: the chapter's oc steps are measured with it")
	}
	b := &bench{r: r, plugin: plugin, awsCLI: awsCLI, kubectl: kubectl, runs: runs, awsURL: r.AWSEndpoint, chains: chains}
	if only == "latency" {
		return b.latencyBench(ctx, runs)
	}

	m, err := b.scenarios(ctx)
	if err != nil {
		return err
	}
	b.report(ctx, m, plugin, runs)
	return nil
}

// measured is what the scenarios found, for the report.
type measured struct {
	rows        []result
	ratios      []string
	pf, cf, off result // setup fresh (plugin, chapter) and the offline dry run, for the targets
}

// scenarios measures each scenario, plugin and chapter side by side.
func (b *bench) scenarios(ctx context.Context) (measured, error) {
	r := b.r
	// Every run of a fresh scenario gets a namespace never used before, so
	// the cluster side starts from nothing too.
	seq := 0
	ns := func() string { return fmt.Sprintf("bench-%d", seq) }
	fresh := func() error { seq++; return r.ResetAWS(ctx) }
	converged := func() error {
		if err := fresh(); err != nil {
			return err
		}
		_, err := b.exec(b.pluginCmd("setup", "--yes", "--wait=false", "-n", ns()))
		return err
	}
	offlineArgs := []string{"setup", "--dry-run=client", "-o", "yaml", "--cluster-name", "prod", "--cluster-id", rig.ClusterID,
		"--openshift-version", rig.OpenShiftVer, "--oidc-issuer", rig.Issuer, "--account-id", rig.AWSAccount, "--region", rig.Region,
		"--oadp-version", "1.4", "--install-operator=false", "--credentials=secret"}

	var m measured
	add := func(res result) result {
		m.rows = append(m.rows, res)
		fmt.Fprintf(os.Stderr, "  measured %s\n", res.name)
		return res
	}
	pair := func(label string, plugin, chapter result) {
		m.ratios = append(m.ratios, fmt.Sprintf("%s: chapter/plugin wall time %.1fx, AWS requests %d vs %d, kube requests %d vs %d",
			label, ratio(chapter.wall, plugin.wall), chapter.aws, plugin.aws, chapter.kube, plugin.kube))
	}

	ps := add(b.measure("status (plugin)", fresh, func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("status")} }))
	cs := add(b.measure("status (chapter: 4x kubectl get -o jsonpath, aws sts get-caller-identity)", fresh, func() []*exec.Cmd {
		return b.chapterFull(ns())[:5]
	}))
	pair("status", ps, cs)

	setup := func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("setup", "--yes", "--wait=false", "-n", ns())} }
	pf := add(b.measure("setup, fresh account and cluster (plugin, --wait=false)", fresh, setup))
	cf := add(b.measure("setup, fresh account and cluster (chapter: 13 kubectl and aws CLI commands)", fresh, func() []*exec.Cmd { return b.chapterFull(ns()) }))
	pair("setup, fresh", pf, cf)
	pc := add(b.measure("setup, everything exists (plugin)", converged, setup))
	cc := b.measure("setup, everything exists (chapter: the same commands)", converged, func() []*exec.Cmd { return b.chapterFull(ns()) })
	cc.note = "its create commands fail: the chapter cannot converge"
	add(cc)
	pair("setup, everything exists", pc, cc)

	for _, n := range []int{1, 100, 1000} {
		pl, ch, err := b.policyLookup(ctx, n)
		if err != nil {
			return measured{}, err
		}
		add(pl)
		add(ch)
	}

	off := b.measure("setup --dry-run=client -o yaml, every fact by flag (plugin, offline)", nil, func() []*exec.Cmd {
		c := b.pluginCmd(offlineArgs...)
		// Nothing to reach: any request would fail.
		c.Env = append(c.Env, "KUBECONFIG=/nonexistent", "AWS_ENDPOINT_URL=http://127.0.0.1:1")
		return []*exec.Cmd{c}
	})
	off.offlineTarget = 50 * time.Millisecond
	add(off)

	m.pf, m.cf, m.off = pf, cf, off
	return m, nil
}

// report prints the scenarios' table, then measures and prints what has no
// chapter counterpart (cold start, emptying a bucket, backup --wait, verify).
func (b *bench) report(ctx context.Context, m measured, plugin string, runs int) {
	rows, ratios, pf, cf, off := m.rows, m.ratios, m.pf, m.cf, m.off
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\twall (median)\tAWS requests\tAWS mutating\tkube requests\tnote")
	for _, x := range rows {
		note := x.note
		if x.failed != "" {
			note = "FAILED: " + x.failed
		}
		if x.offlineTarget > 0 {
			verdict := "under"
			if x.wall >= x.offlineTarget || x.aws+x.kube > 0 {
				verdict = "NOT under"
			}
			note = fmt.Sprintf("%s the %s budget, no network", verdict, x.offlineTarget)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", x.name, x.wall.Round(100*time.Microsecond), x.aws, x.awsMut, x.kube, note)
	}
	tw.Flush()

	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "cold start\twall (median)\tpeak RSS")
	var vWall, kWall time.Duration
	for i, c := range []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"kubectl-oadp_sts version", func() *exec.Cmd { return b.pluginCmd("version") }},
		{"kubectl version --client", func() *exec.Cmd { return b.kubectlCmd("", "version", "--client") }},
	} {
		name, wall, rss, err := b.coldStart(c.name, c.cmd)
		if err != nil {
			fmt.Fprintf(tw, "%s\tFAILED: %v\t\n", name, err)
			continue
		}
		if i == 0 {
			vWall = wall
		} else {
			kWall = wall
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f MiB (/usr/bin/time)\n", name, wall.Round(100*time.Microsecond), float64(rss)/1024)
	}
	tw.Flush()

	pw, cw, reqs, err := b.emptyBucket(ctx)
	fmt.Println()
	if err != nil {
		fmt.Println("emptying a bucket: FAILED:", err)
	} else {
		fmt.Printf("emptying a bucket of %d objects: plugin (cleanup's emptier) %s in %d AWS requests, chapter (aws s3 rm --recursive) %s in %d: %.1fx\n",
			emptyObjects, pw.Round(time.Millisecond), reqs[0], cw.Round(time.Millisecond), reqs[1], ratio(cw, pw))
	}

	fmt.Println()
	for _, r := range ratios {
		fmt.Println(r)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("\ntargets: setup >= 10x faster than the chapter (fresh %.1fx): %s; dry run < 50 ms (%s): %s; version no slower than kubectl's (%s vs %s): %s\n",
		ratio(cf.wall, pf.wall), verdict(ratio(cf.wall, pf.wall) >= 10), off.wall.Round(100*time.Microsecond), verdict(off.wall < 50*time.Millisecond && off.failed == ""),
		vWall.Round(100*time.Microsecond), kWall.Round(100*time.Microsecond), verdict(vWall > 0 && vWall <= kWall))
	fmt.Println("\nThe plugin's setup includes what the chapter does by hand beforehand (reading the cluster's facts and the caller")
	fmt.Println("identity) and more: checking the OIDC provider, the installed operator and storage classes. The chapter finds its")
	fmt.Println("policy with list-policies, which pages through every policy in the account; the plugin uses one GetPolicy. Each")
	fmt.Println("aws CLI run is a Python process and each kubectl run a process of its own: most of the chapter's time is their start-up.")
	if err := b.latencyBench(ctx, min(runs, 3)); err != nil {
		fmt.Println("\nlatency model: FAILED:", err)
	}
	if err := b.backupWait(ctx); err != nil {
		fmt.Println("\nbackup --wait reaction: FAILED:", err)
	}
	if err := verifyOverhead(plugin, runs); err != nil {
		fmt.Println("\nverify overhead: FAILED:", err)
	}
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// scratch is a new directory for the chapter's files, inside the rig's
// directory, so the rig removes it.
func (b *bench) scratch() string {
	dir, err := os.MkdirTemp(b.r.Dir, "chapter-")
	if err != nil {
		panic(fmt.Sprintf("bench: a directory for the chapter's files: %v", err))
	}
	return dir
}

// mustWrite writes a file the chapter's commands read and returns its path.
// The scenarios build their commands as plain lists, so a write that fails (a
// full disk) stops the bench here rather than measuring commands that
// cannot run.
func mustWrite(path, data string, perm os.FileMode) string {
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		panic(fmt.Sprintf("bench: %v", err))
	}
	return path
}

// chapterSteps are the chapter's IAM commands, as it runs them.
func (b *bench) chapterSteps() []*exec.Cmd {
	dir := b.scratch()
	policy := mustWrite(filepath.Join(dir, "policy.json"), chapterPolicy, 0o644)
	trust := mustWrite(filepath.Join(dir, "trust-policy.json"), strings.NewReplacer("${AWS_ACCOUNT_ID}", rig.AWSAccount, "${OIDC_ENDPOINT}", rig.IssuerHost).Replace(chapterTrust), 0o644)
	role := rig.InfraName + "-openshift-oadp-aws-cloud-credentials"
	policyARN := "arn:aws:iam::" + rig.AWSAccount + ":policy/OadpVer1"
	return []*exec.Cmd{
		b.awsCmd("iam", "list-policies", "--query", "Policies[?PolicyName=='OadpVer1'].{ARN:Arn}", "--output", "text"),
		// The chapter skips create-policy when list-policies found it; it
		// is run either way here, and fails on a converged account.
		b.awsCmd("iam", "create-policy", "--policy-name", "OadpVer1", "--policy-document", "file://"+policy, "--query", "Policy.Arn",
			"--tags", "Key=openshift_version,Value="+rig.OpenShiftVer, "Key=operator_namespace,Value=openshift-adp", "Key=operator_name,Value=oadp", "--output", "text"),
		b.awsCmd("iam", "create-role", "--role-name", role, "--assume-role-policy-document", "file://"+trust,
			"--tags", "Key=cluster_id,Value="+rig.ClusterID, "Key=openshift_version,Value="+rig.OpenShiftVer, "Key=operator_namespace,Value=openshift-adp", "Key=operator_name,Value=oadp",
			"--query", "Role.Arn", "--output", "text"),
		b.awsCmd("iam", "attach-role-policy", "--role-name", role, "--policy-arn", policyARN),
	}
}

// measure runs prepare, then the commands in order, runs times; commands
// that exit non-zero are allowed (the chapter's create-* fail on a converged
// account) and counted in the note.
func (b *bench) measure(name string, prepare func() error, cmds func() []*exec.Cmd) result {
	ctx := context.Background()
	res := result{name: name}
	var walls []time.Duration
	for i := 0; i < b.runs; i++ {
		if prepare != nil {
			if err := prepare(); err != nil {
				res.failed = err.Error()
				return res
			}
		}
		list := cmds()
		stop, err := b.r.RecordAWS(ctx)
		if err != nil {
			res.failed = err.Error()
			return res
		}
		// "kubectl" is both the plugin's user agent (kubectl-oadp_sts/...)
		// and the chapter's (kubectl/...).
		kubeReqs := b.r.RecordKube("kubectl")
		var wall time.Duration
		failures := 0
		for _, c := range list {
			d, err := b.exec(c)
			wall += d
			if err != nil {
				failures++
				if strings.Contains(name, "(plugin") {
					res.failed = err.Error()
				}
			}
		}
		reqs, err := stop()
		if err != nil {
			res.failed = err.Error()
			return res
		}
		walls = append(walls, wall)
		res.aws, res.awsMut = len(reqs), 0
		for _, q := range reqs {
			if q.Mutating() {
				res.awsMut++
			}
		}
		kreqs, _ := kubeReqs()
		res.kube = len(kreqs)
		if failures > 0 && res.note == "" {
			res.note = fmt.Sprintf("%d command(s) exited non-zero", failures)
		}
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	res.wall = walls[len(walls)/2]
	return res
}

func (b *bench) exec(c *exec.Cmd) (time.Duration, error) {
	var stderr bytes.Buffer
	c.Stdout, c.Stderr = io.Discard, &stderr
	start := time.Now()
	err := c.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %w: %s", strings.Join(c.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

func (b *bench) pluginCmd(args ...string) *exec.Cmd {
	c := exec.Command(b.plugin, args...)
	c.Env = append(append(os.Environ(), b.r.EnvList()...), b.env...)
	return c
}

// awsCmd runs the aws CLI v1 at moto. It takes an empty AWS_PROFILE for a
// profile named "" and reads AWS_DEFAULT_REGION, so the rig's environment is
// adapted. AWS_ENDPOINT_URL works from botocore 1.31 (aws-cli 1.45 here
// honors it); --endpoint-url is given too, for older ones.
func (b *bench) awsCmd(args ...string) *exec.Cmd {
	c := exec.Command(b.awsCLI, append([]string{"--endpoint-url", b.awsURL}, args...)...)
	env := []string{"AWS_DEFAULT_REGION=" + rig.Region}
	for _, kv := range append(append(os.Environ(), b.r.EnvList()...), b.env...) {
		if !strings.HasSuffix(kv, "=") {
			env = append(env, kv)
		}
	}
	c.Env = env
	return c
}

// The chapter's files, as its heredocs write them.
const (
	chapterPolicy = `{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": [ "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeVolumeAttribute", "ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus", "ec2:CreateTags", "ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:DeleteSnapshot" ], "Resource": "*" } ]}`
	chapterTrust  = `{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Federated": "arn:aws:iam::${AWS_ACCOUNT_ID}:oidc-provider/${OIDC_ENDPOINT}" }, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": { "StringEquals": { "${OIDC_ENDPOINT}:sub": [ "system:serviceaccount:openshift-adp:openshift-adp-controller-manager", "system:serviceaccount:openshift-adp:velero"] } } }] }`
)
