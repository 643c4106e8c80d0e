//go:build unix

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/sandbox"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	oiam "github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

// twoClusters is the package's fleet of two, stopped by TestMain.
var twoClusters *rig.Fleet

// The chapter's two-cluster case on two rig clusters (two API servers, each
// its own identity and issuer, one moto), both in us-east-2: backed up on
// the first with the real Velero server, then, with that Velero stopped
// and another started against the second (one Velero per machine), set up
// there with --from-cluster and the namespace restored there. The DPAs'
// Reconciled conditions are the sandbox's OADP operator stand-in's
// verdicts (internal/sandbox), not the real operator's; the locations'
// Available, the backup's sync and the restore are the real Velero's. The
// second cluster's policy, read back from IAM, is judged by moto's own
// policy evaluation: it reads the first cluster's backups and cannot delete
// or overwrite them, nor write outside restores/.
//
//nolint:funlen // one story on two clusters, each step on what the one before left
func TestTwoClustersOneBucket(t *testing.T) {
	if _, err := sandbox.VeleroBinDir(); err != nil {
		rig.SkipOrFail(t, err)
	}
	releaseShared()
	ctx := context.Background()
	a := rig.FleetIdentity(0)
	b := rig.FleetIdentity(1)
	b.Region = a.Region
	b.IssuerHost = "fleet-oidc.s3." + b.Region + ".amazonaws.com/" + b.InfraName
	start := time.Now()
	fleet, err := rig.StartFleet(ctx, rig.Options{ControllerManager: true}, a, b)
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	twoClusters = fleet
	fmt.Fprintf(os.Stderr, "two clusters up in %s\n", time.Since(start).Round(time.Millisecond))
	fleet.UseEnv(t)
	ra, rb := fleet.Rig("a"), fleet.Rig("b")
	bucketA := a.InfraName + "-oadp"
	roleB := b.InfraName + oiam.RoleSuffix
	policyB := b.InfraName + oiam.PolicySuffix

	// The first cluster: set up, the workload, its backup.
	sbA := startVelero(t, ra)
	mustRun(t, exitcode.OK, "setup", "--yes", "--context", "a")
	want := createHelloWorld(t, ra)
	mustRun(t, exitcode.OK, "backup", app, "--context", "a")
	if p := str(get1(t, ra, gvr.Backup, app), "status", "phase"); p != "Completed" {
		t.Fatalf("backup on a: phase %s, want Completed", p)
	}
	backupKey := manifests.DefaultPrefix + "/backups/" + app + "/velero-backup.json"
	if !list(t, ra, bucketA, manifests.DefaultPrefix+"/backups/"+app+"/")[backupKey] {
		t.Fatalf("the backup on a wrote no %s to bucket %s", backupKey, bucketA)
	}
	tagsBefore := bucketTags(t, ra, bucketA)
	sbA.Stop()

	// A region mismatch is refused before anything is made: the second
	// cluster as if it ran in us-west-2 (--region is one of setup's facts).
	res := mustRun(t, exitcode.Error, "setup", "--yes", "--context", "b", "--from-cluster", "a", "--region", "us-west-2")
	if !strings.Contains(res.Stderr, "is in region us-east-2 and this cluster is in us-west-2") {
		t.Errorf("setup --from-cluster across regions: want the regions named, got:\n%s", res.Stderr)
	}
	if _, err := ra.IAM().GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(roleB)}); err == nil {
		t.Errorf("the refused setup made role %s", roleB)
	}

	// The second cluster, on the first one's location.
	sbB := startVelero(t, rb)
	res = mustRun(t, exitcode.OK, "setup", "--yes", "--context", "b", "--from-cluster", "a")
	if !strings.Contains(res.Stderr, "bucket "+bucketA+": another cluster's") {
		t.Errorf("setup on b does not say the bucket is another cluster's:\n%s", res.Stderr)
	}
	dpaB := get1(t, rb, gvr.DPA, b.InfraName+"-dpa")
	locs, _, _ := unstructured.NestedSlice(dpaB.Object, "spec", "backupLocations")
	if len(locs) != 1 {
		t.Fatalf("b's DPA has %d locations, want 1", len(locs))
	}
	vel, _ := locs[0].(map[string]any)["velero"].(map[string]any)
	if store, _ := vel["objectStorage"].(map[string]any); store["bucket"] != bucketA || store["prefix"] != manifests.DefaultPrefix || vel["accessMode"] != manifests.AccessReadOnly {
		t.Errorf("b's DPA location %v: want bucket %s, prefix %s, accessMode ReadOnly", vel, bucketA, manifests.DefaultPrefix)
	}
	nsB, err := rb.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := nsB.Annotations[record.AnnotationBucketFrom]; got != a.ClusterID {
		t.Errorf("b's record: bucket-from %q, want a's cluster ID %s", got, a.ClusterID)
	}
	if got := bucketTags(t, ra, bucketA); fmt.Sprint(got) != fmt.Sprint(tagsBefore) {
		t.Errorf("setup on b changed a's bucket's tags: %v, were %v", got, tagsBefore)
	}
	readerPolicyJudgedByMoto(t, ra, policyDocument(t, ra, policyB), bucketA)
	// status judges b's role by the read-only scope: no missing writes.
	if res := mustRun(t, exitcode.OK, "status", "--context", "b"); !strings.Contains(res.Stdout, "writes only restores/") {
		t.Errorf("status on b does not judge the read-only scope:\n%s", res.Stdout)
	}

	// The restore on b waits for Velero's sync of a's backup.
	res = mustRun(t, exitcode.OK, "restore", app, "--context", "b", "--sync-timeout", "3m")
	if p := str(get1(t, rb, gvr.Restore, app), "status", "phase"); p != "Completed" {
		t.Fatalf("restore on b: phase %s, want Completed\n%s", p, res.Stderr)
	}
	checkRestored(t, rb, want)
	if !list(t, ra, bucketA, manifests.DefaultPrefix+"/restores/"+app+"/")[manifests.DefaultPrefix+"/restores/"+app+"/restore-"+app+"-logs.gz"] {
		t.Errorf("Velero on b wrote no restore log under %s/restores/", manifests.DefaultPrefix)
	}

	// cleanup on b leaves a's bucket and its backup's data.
	mustRun(t, exitcode.OK, "cleanup", "--yes", "--context", "b", "--workload", app, "--timeout", "60s")
	sbB.Stop()
	if !list(t, ra, bucketA, manifests.DefaultPrefix+"/backups/"+app+"/")[backupKey] {
		t.Errorf("cleanup on b removed a's backup %s", backupKey)
	}
	if _, err := ra.IAM().GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(roleB)}); err == nil {
		t.Errorf("cleanup on b left its role %s", roleB)
	}
}

// startVelero runs the sandbox's operator stand-in and the real Velero
// server against r, its logs shown when the test fails.
func startVelero(t *testing.T, r *rig.Rig) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sb, err := sandbox.StartOn(ctx, r, sandbox.Options{Log: os.Stderr})
	if err != nil {
		t.Fatalf("sandbox on %s: %v", r.Identity.Context, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{sb.StandInLog, sb.VeleroLog} {
				t.Logf("%s (%s) ends:\n%s", f, r.Identity.Context, tailOf(f, 6000))
			}
		}
		sb.Stop()
	})
	return sb
}

func bucketTags(t *testing.T, r *rig.Rig, bucket string) map[string]string {
	t.Helper()
	out, err := r.S3().GetBucketTagging(context.Background(), &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("tags of bucket %s: %v", bucket, err)
	}
	tags := map[string]string{}
	for _, tg := range out.TagSet {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return tags
}

// policyDocument is the default version of the named policy, as IAM has it.
func policyDocument(t *testing.T, r *rig.Rig, name string) string {
	t.Helper()
	ctx := context.Background()
	arn := "arn:aws:iam::" + rig.AWSAccount + ":policy/" + name
	p, err := r.IAM().GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: &arn})
	if err != nil {
		t.Fatalf("policy %s: %v", name, err)
	}
	v, err := r.IAM().GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.QueryUnescape(aws.ToString(v.PolicyVersion.Document))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// readerPolicyJudgedByMoto puts doc on a role in a moto that evaluates
// policies, with bucket holding a backup, and tries as that role what
// Velero on a restore cluster does and what it must not.
func readerPolicyJudgedByMoto(t *testing.T, r *rig.Rig, doc, bucket string) {
	t.Helper()
	ctx := context.Background()
	backup := manifests.DefaultPrefix + "/backups/" + app + "/velero-backup.json"
	role, err := r.PutRolePolicy(ctx, doc, r.Identity.Region, []string{bucket, "someone-elses-bucket"}, map[string]string{bucket + "/" + backup: "{}"})
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	defer role.Stop()
	asRole := role.AsRole
	put := func(bucket, key string) error {
		_, err := asRole.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}
	denied := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("%s as the restore cluster's role: %v, want AccessDenied", what, err)
		}
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s as the restore cluster's role: %v, want it allowed", what, err)
		}
	}
	_, err = asRole.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(backup)})
	allowed("read the first cluster's backup", err)
	_, err = asRole.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(manifests.DefaultPrefix)})
	allowed("list the backups (Velero's sync)", err)
	allowed("write a restore's log", put(bucket, manifests.DefaultPrefix+"/restores/"+app+"/restore-"+app+"-logs.gz"))
	_, err = asRole.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(backup)})
	denied("delete the first cluster's backup", err)
	denied("overwrite the first cluster's backup", put(bucket, backup))
	denied("write a backup", put(bucket, manifests.DefaultPrefix+"/backups/new/velero-backup.json"))
	denied("write outside the prefix", put(bucket, "outside-the-prefix"))
	denied("write to another bucket", put("someone-elses-bucket", manifests.DefaultPrefix+"/restores/x"))
}
