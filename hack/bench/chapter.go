package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cleanup"
)

// kubectlCmd runs /usr/bin/kubectl (the chapter's oc) against the rig.
func (b *bench) kubectlCmd(stdin string, args ...string) *exec.Cmd {
	c := exec.Command(b.kubectl, args...)
	c.Env = append(append(os.Environ(), b.r.EnvList()...), b.env...)
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	return c
}

// chapterFull is the whole chapter up to the DPA, in namespace ns: the facts
// (four oc gets and the caller identity), the IAM steps, then the namespace,
// the secret from the credentials file, and the CloudStorage and DPA from
// heredocs on stdin.
func (b *bench) chapterFull(ns string) []*exec.Cmd {
	get := func(args ...string) *exec.Cmd { return b.kubectlCmd("", args...) }
	facts := []*exec.Cmd{
		get("get", "clusterversion", "version", "-o", "jsonpath={.status.desired.version}"),
		get("get", "clusterversion", "version", "-o", "jsonpath={.spec.clusterID}"),
		get("get", "authentication.config.openshift.io", "cluster", "-o", "jsonpath={.spec.serviceAccountIssuer}"),
		get("get", "infrastructures", "cluster", "-o", "jsonpath={.status.platformStatus.aws.region}"),
		b.awsCmd("sts", "get-caller-identity", "--query", "Account", "--output", "text"),
	}
	roleARN := "arn:aws:iam::" + rig.AWSAccount + ":role/" + rig.InfraName + "-openshift-oadp-aws-cloud-credentials"
	creds := mustWrite(filepath.Join(b.scratch(), "credentials"), "[default]\nrole_arn = "+roleARN+"\nweb_identity_token_file = /var/run/secrets/openshift/serviceaccount/token\n", 0o600)
	name := rig.InfraName
	cs := fmt.Sprintf(`apiVersion: oadp.openshift.io/v1alpha1
kind: CloudStorage
metadata:
  name: %[1]s-oadp
  namespace: %[2]s
spec:
  creationSecret:
    key: credentials
    name: cloud-credentials
  enableSharedConfig: true
  name: %[1]s-oadp
  provider: aws
  region: %[3]s
`, name, ns, rig.Region)
	dpa := fmt.Sprintf(`apiVersion: oadp.openshift.io/v1alpha1
kind: DataProtectionApplication
metadata:
  name: %[1]s-dpa
  namespace: %[2]s
spec:
  backupImages: true
  backupLocations:
  - bucket:
      cloudStorageRef:
        name: %[1]s-oadp
      credential:
        key: credentials
        name: cloud-credentials
      prefix: velero
      default: true
      config:
        region: %[3]s
  configuration:
    velero:
      defaultPlugins:
      - openshift
      - aws
      - csi
    nodeAgent:
      enable: false
      uploaderType: kopia
`, name, ns, rig.Region)
	cluster := []*exec.Cmd{
		b.kubectlCmd("", "create", "namespace", ns),
		b.kubectlCmd("", "-n", ns, "create", "secret", "generic", "cloud-credentials", "--from-file=credentials="+creds),
		b.kubectlCmd(cs, "create", "-f", "-"),
		b.kubectlCmd(dpa, "create", "-f", "-"),
	}
	return append(append(facts, b.chapterSteps()...), cluster...)
}

// policyLookup times the chapter's list-policies and the plugin's read of
// IAM (a client dry run, which plans from GetPolicy and GetRole) with n other
// policies in the account.
func (b *bench) policyLookup(ctx context.Context, n int) (plugin, chapter result, err error) {
	if err := b.r.ResetAWS(ctx); err != nil {
		return plugin, chapter, err
	}
	c := b.r.IAM()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := c.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("other-%04d", i)), PolicyDocument: aws.String(chapterPolicy)})
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return plugin, chapter, err
	}
	plugin = b.measure(fmt.Sprintf("policy lookup, %4d other policies (plugin: setup --dry-run=client)", n), nil,
		func() []*exec.Cmd { return []*exec.Cmd{b.pluginCmd("setup", "--dry-run=client", "-n", "bench-lookup")} })
	chapter = b.measure(fmt.Sprintf("policy lookup, %4d other policies (chapter: list-policies --query)", n), nil, func() []*exec.Cmd {
		return []*exec.Cmd{b.awsCmd("iam", "list-policies", "--query", "Policies[?PolicyName=='OadpVer1'].{ARN:Arn}", "--output", "text")}
	})
	return plugin, chapter, nil
}

// coldStart runs each command 2*b.runs times and reports the median wall
// time, then the peak resident set of one more run under /usr/bin/time (GNU
// time, apt package "time"): getrusage on our own child would report the
// bench's size, which a forked child inherits until it execs.
func (b *bench) coldStart(name string, cmd func() *exec.Cmd) (string, time.Duration, int64, error) {
	var walls []time.Duration
	for i := 0; i < b.runs*2; i++ {
		d, err := b.exec(cmd())
		if err != nil {
			return name, 0, 0, err
		}
		walls = append(walls, d)
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	var rss int64
	if gt, err := exec.LookPath("/usr/bin/time"); err == nil {
		out := filepath.Join(b.r.Dir, "rss")
		c := cmd()
		tc := exec.Command(gt, append([]string{"-f", "%M", "-o", out}, c.Args...)...)
		tc.Env = c.Env
		if _, err := b.exec(tc); err != nil {
			return name, 0, 0, err
		}
		data, _ := os.ReadFile(out)
		rss, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	return name, walls[len(walls)/2], rss, nil
}

const emptyObjects = 10000

// fillBucket makes a plain (unversioned) bucket of emptyObjects objects, as
// Velero writes them: the chapter's `aws s3 rm --recursive` removes only
// current objects, so a versioned bucket would not compare.
func (b *bench) fillBucket(ctx context.Context, bucket string) error {
	c := b.r.S3()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var mu sync.Mutex
	var firstErr error
	for i := range emptyObjects {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			key := fmt.Sprintf("velero/backups/b%d/file-%05d", i%10, i)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// emptyBucket times the plugin's emptier (cleanup's, in process: the bucket
// work dominates, not the process start) beside `aws s3 rm --recursive`.
func (b *bench) emptyBucket(ctx context.Context) (plugin, chapter time.Duration, reqs [2]int, err error) {
	const bucket = "bench-empty"
	runs := min(b.runs, 3)
	var pw, cw []time.Duration
	for i := 0; i < runs; i++ {
		for side := 0; side < 2; side++ {
			if err := b.r.ResetAWS(ctx); err != nil {
				return 0, 0, reqs, err
			}
			if err := b.fillBucket(ctx, bucket); err != nil {
				return 0, 0, reqs, err
			}
			stop, err := b.r.RecordAWS(ctx)
			if err != nil {
				return 0, 0, reqs, err
			}
			start := time.Now()
			if side == 0 {
				// The plugin's environment, for the SDK in this process.
				for k, v := range b.r.Env() {
					os.Setenv(k, v)
				}
				t0 := time.Now()
				opts := awsclient.NewOptions()
				cfg, lerr := opts.Load(ctx)
				if lerr != nil {
					return 0, 0, reqs, lerr
				}
				e := &cleanup.Emptier{S3: awsclient.New(cfg).S3, Region: rig.Region, InFlight: 8}
				n, eerr := e.Empty(ctx, bucket)
				if eerr != nil || n != emptyObjects {
					return 0, 0, reqs, fmt.Errorf("emptier: %d deleted, %v", n, eerr)
				}
				pw = append(pw, time.Since(t0))
			} else {
				if _, err := b.exec(b.awsCmd("s3", "rm", "s3://"+bucket, "--recursive", "--only-show-errors")); err != nil {
					return 0, 0, reqs, err
				}
				cw = append(cw, time.Since(start))
			}
			q, err := stop()
			if err != nil {
				return 0, 0, reqs, err
			}
			reqs[side] = len(q)
			left, err := b.r.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			if err != nil {
				return 0, 0, reqs, err
			}
			if n := aws.ToInt32(left.KeyCount); n != 0 {
				return 0, 0, reqs, fmt.Errorf("side %d left %d objects", side, n)
			}
		}
	}
	return median(pw), median(cw), reqs, nil
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}
