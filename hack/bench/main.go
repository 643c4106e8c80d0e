// Command bench measures the plugin against the chapter's manual procedure on
// the test rig: wall time (median of several runs) and the requests each makes
// to AWS (counted by moto's recorder) and to the API server (counted in its
// audit log by the plugin's user agent). The plugin runs as its built binary,
// bin/kubectl-oadp_sts, and the chapter's steps as the real aws CLI, each as a
// process of its own, so both pay the same process and TLS costs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	r      *rig.Rig
	plugin string
	awsCLI string
	runs   int
}

func main() {
	runs := flag.Int("runs", 5, "runs per scenario (the median is reported)")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(runs int) error {
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
	b := &bench{r: r, plugin: plugin, awsCLI: awsCLI, runs: runs}

	fresh := func() error { return r.ResetAWS(ctx) }
	converged := func() error {
		if err := r.ResetAWS(ctx); err != nil {
			return err
		}
		_, err := b.exec(b.pluginCmd("setup", "--yes"))
		return err
	}
	offlineArgs := []string{"setup", "--dry-run=client", "--cluster-name", "prod", "--cluster-id", rig.ClusterID,
		"--openshift-version", rig.OpenShiftVer, "--oidc-issuer", rig.Issuer, "--account-id", rig.AWSAccount, "--region", rig.Region}

	var rows []result
	add := func(res result) { rows = append(rows, res); fmt.Fprintf(os.Stderr, "  measured %s\n", res.name) }

	add(b.measure("status (plugin)", fresh, func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("status")} }))
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		add(b.measure("status (chapter: 4x kubectl get -o jsonpath, aws sts get-caller-identity)", fresh, func() []*exec.Cmd {
			get := func(args ...string) *exec.Cmd {
				c := exec.Command(kubectl, args...)
				c.Env = append(os.Environ(), b.r.EnvList()...)
				return c
			}
			return []*exec.Cmd{
				get("get", "clusterversion", "version", "-o", "jsonpath={.status.desired.version}"),
				get("get", "clusterversion", "version", "-o", "jsonpath={.spec.clusterID}"),
				get("get", "authentication.config.openshift.io", "cluster", "-o", "jsonpath={.spec.serviceAccountIssuer}"),
				get("get", "infrastructures", "cluster", "-o", "jsonpath={.status.platformStatus.aws.region}"),
				b.awsCmd("sts", "get-caller-identity", "--query", "Account", "--output", "text"),
			}
		}))
	}

	pf := b.measure("setup AWS part, fresh account (plugin)", fresh, func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("setup", "--yes")} })
	cf := b.measure("setup AWS part, fresh account (chapter, aws CLI)", fresh, b.chapterSteps)
	pc := b.measure("setup AWS part, converged account (plugin)", converged, func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("setup", "--yes")} })
	cc := b.measure("setup AWS part, converged account (chapter, aws CLI)", converged, b.chapterSteps)
	cc.note = "create-role fails: the role exists"
	add(pf)
	add(cf)
	add(pc)
	add(cc)
	off := b.measure("setup --dry-run=client, every fact by flag (plugin, offline)", nil, func() []*exec.Cmd {
		c := b.pluginCmd(offlineArgs...)
		// Nothing to reach: any request would fail.
		c.Env = append(c.Env, "KUBECONFIG=/nonexistent", "AWS_ENDPOINT_URL=http://127.0.0.1:1")
		return []*exec.Cmd{c}
	})
	off.offlineTarget = 50 * time.Millisecond
	add(off)

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
	pairs := [][2]result{{pf, cf}, {pc, cc}}
	if len(rows) == 7 {
		pairs = append([][2]result{{rows[0], rows[1]}}, pairs...)
	}
	for _, p := range pairs {
		fmt.Printf("%s: chapter/plugin wall time %.2fx, AWS requests %d vs %d\n",
			strings.TrimSuffix(p[0].name, " (plugin)"), ratio(p[1].wall, p[0].wall), p[1].aws, p[0].aws)
	}
	fmt.Println("\nThe plugin's setup runs include what the chapter does by hand beforehand: reading the cluster's facts and")
	fmt.Println("the caller identity, and checking the OIDC provider; status also checks the provider and the operator. The")
	fmt.Println("chapter finds its policy with list-policies, which pages through every policy in the account; the plugin")
	fmt.Println("uses one GetPolicy. Each aws CLI run is a Python process: most of the chapter's time is their start-up.")
	if err := b.backupWait(ctx); err != nil {
		fmt.Println("\nbackup --wait reaction: FAILED:", err)
	}
	return nil
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// chapterSteps are the chapter's IAM commands, as it runs them.
func (b *bench) chapterSteps() []*exec.Cmd {
	dir, _ := os.MkdirTemp("", "oadp-sts-bench-")
	policy := filepath.Join(dir, "policy.json")
	trust := filepath.Join(dir, "trust-policy.json")
	os.WriteFile(policy, []byte(chapterPolicy), 0o644)
	os.WriteFile(trust, []byte(strings.NewReplacer("${AWS_ACCOUNT_ID}", rig.AWSAccount, "${OIDC_ENDPOINT}", rig.IssuerHost).Replace(chapterTrust)), 0o644)
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
		auditFrom := fileSize(b.r.AuditLog)
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
		res.kube = countKube(b.r.AuditLog, auditFrom, "kubectl-oadp_sts/") + countKube(b.r.AuditLog, auditFrom, "kubectl/")
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
		return d, fmt.Errorf("%s: %v: %s", strings.Join(c.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

func (b *bench) pluginCmd(args ...string) *exec.Cmd {
	c := exec.Command(b.plugin, args...)
	c.Env = append(os.Environ(), b.r.EnvList()...)
	return c
}

// awsCmd runs the aws CLI v1 at moto. It takes an empty AWS_PROFILE for a
// profile named "" and reads AWS_DEFAULT_REGION, so the rig's environment is
// adapted. AWS_ENDPOINT_URL works from botocore 1.31 (aws-cli 1.45 here
// honors it); --endpoint-url is given too, for older ones.
func (b *bench) awsCmd(args ...string) *exec.Cmd {
	c := exec.Command(b.awsCLI, append([]string{"--endpoint-url", b.r.AWSEndpoint}, args...)...)
	env := []string{"AWS_DEFAULT_REGION=" + rig.Region}
	for _, kv := range append(os.Environ(), b.r.EnvList()...) {
		if !strings.HasSuffix(kv, "=") {
			env = append(env, kv)
		}
	}
	c.Env = env
	return c
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// countKube counts the requests since offset whose user agent starts with
// prefix: "kubectl-oadp_sts/" for the plugin, "kubectl/" for the chapter's gets.
func countKube(path string, offset int64, prefix string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			UserAgent string `json:"userAgent"`
			Stage     string `json:"stage"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && strings.HasPrefix(ev.UserAgent, prefix) && ev.Stage == "ResponseComplete" {
			n++
		}
	}
	return n
}

// The chapter's files, as its heredocs write them.
const (
	chapterPolicy = `{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": [ "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeVolumeAttribute", "ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus", "ec2:CreateTags", "ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:DeleteSnapshot" ], "Resource": "*" } ]}`
	chapterTrust  = `{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Federated": "arn:aws:iam::${AWS_ACCOUNT_ID}:oidc-provider/${OIDC_ENDPOINT}" }, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": { "StringEquals": { "${OIDC_ENDPOINT}:sub": [ "system:serviceaccount:openshift-adp:openshift-adp-controller-manager", "system:serviceaccount:openshift-adp:velero"] } } }] }`
)
