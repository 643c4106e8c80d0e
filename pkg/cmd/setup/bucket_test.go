package setup_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
	rec "github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

var (
	ownBucket  = names.Bucket(rig.InfraName)
	scopedName = iam.ScopedPolicyName(rig.InfraName)
)

// The default: setup makes the bucket (moto, read back), scopes the role's
// policy to it (IAM, read back, and judged by moto's own policy evaluation),
// writes a velero location and no CloudStorage, and a rerun puts drift back.
func TestSetupMakesAndHardensTheBucket(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()

	res := clitest.Run(t, "setup", "--yes", "--wait=false")
	if res.Code != 0 {
		t.Fatalf("setup exit %d: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "bucket "+ownBucket+": created in "+rig.Region) {
		t.Errorf("stderr lacks the bucket's creation:\n%s", res.Stderr)
	}
	checkHardened(t, r, ownBucket)

	// The location names the bucket; no CloudStorage is written.
	dpa, err := r.Dynamic.Resource(gvr.DPA).Namespace("openshift-adp").Get(ctx, names.DPA(rig.InfraName), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	locs, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "backupLocations")
	vel, _, _ := unstructured.NestedMap(locs[0].(map[string]any), "velero")
	if b, _, _ := unstructured.NestedString(vel, "objectStorage", "bucket"); b != ownBucket {
		t.Errorf("velero.objectStorage.bucket %q, want %q (location %v)", b, ownBucket, locs[0])
	}
	for k, want := range map[string]string{"region": rig.Region, "profile": "default"} {
		if v, _, _ := unstructured.NestedString(vel, "config", k); v != want {
			t.Errorf("velero.config.%s %q, want %q", k, v, want)
		}
	}
	if n, _, _ := unstructured.NestedString(vel, "credential", "name"); n != "cloud-credentials" {
		t.Errorf("velero.credential.name %q", n)
	}
	css, err := r.Dynamic.Resource(gvr.CloudStorage).Namespace("openshift-adp").List(ctx, metav1.ListOptions{})
	if err != nil || len(css.Items) != 0 {
		t.Errorf("CloudStorages: %v (err %v), want none", len(css.Items), err)
	}
	ns, err := r.Kube.CoreV1().Namespaces().Get(ctx, "openshift-adp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.FromAnnotations(ns.Annotations)
	if got.Bucket != ownBucket || got.CloudStorage != "" || got.BucketAdopted || got.PolicyName != scopedName {
		t.Errorf("record %+v: want bucket %s, no CloudStorage, not adopted, policy %s", got, ownBucket, scopedName)
	}

	doc := scopedPolicyFromIAM(t, r)
	if strings.Contains(doc, "ec2:") || strings.Contains(doc, "s3:CreateBucket") || strings.Contains(doc, `"*"`) {
		t.Errorf("a CSI-mode policy of a bucket setup made needs no EC2, no bucket creation and nothing on *:\n%s", doc)
	}
	rolePolicyRefusesOtherBuckets(t, r, doc, ownBucket)

	// Drift: the public access block and the encryption removed by hand.
	s3c := r.S3()
	if _, err := s3c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String(ownBucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String(ownBucket)}); err != nil {
		t.Fatal(err)
	}
	res = clitest.Run(t, "setup", "--yes", "--wait=false")
	if res.Code != 0 {
		t.Fatalf("rerun exit %d: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "bucket "+ownBucket+": updated (public access block, default encryption)") {
		t.Errorf("rerun does not report the drift it put back:\n%s", res.Stderr)
	}
	checkHardened(t, r, ownBucket)
	res = clitest.Run(t, "setup", "--wait=false") // no --yes, no terminal: nothing to change
	if res.Code != 0 || !strings.Contains(res.Stderr, "bucket "+ownBucket+": unchanged") {
		t.Errorf("a converged rerun: exit %d\n%s", res.Code, res.Stderr)
	}
}

// checkHardened reads the bucket back from moto.
func checkHardened(t *testing.T, r *rig.Rig, b string) {
	t.Helper()
	ctx := context.Background()
	c := r.S3()
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &b})
	if err != nil {
		t.Fatalf("bucket %s: %v", b, err)
	}
	if string(loc.LocationConstraint) != rig.Region {
		t.Errorf("bucket %s in %q, want the cluster's %s", b, loc.LocationConstraint, rig.Region)
	}
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &b})
	if err != nil {
		t.Errorf("public access block: %v", err)
	} else if p := pab.PublicAccessBlockConfiguration; !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("public access block not all on: %+v", p)
	}
	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &b})
	if err != nil {
		t.Errorf("encryption: %v", err)
	} else if a := enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm; a != s3types.ServerSideEncryptionAes256 {
		t.Errorf("default encryption %s, want AES256 (SSE-S3)", a)
	}
	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b})
	if err != nil {
		t.Fatalf("tags: %v", err)
	}
	got := map[string]string{}
	for _, tg := range tags.TagSet {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if got[iam.TagManagedBy] != iam.ManagedBy || got[iam.TagOwnerClusterID] != rig.ClusterID {
		t.Errorf("bucket tags %v lack the ownership tags", got)
	}
}

// scopedPolicyFromIAM reads the role's attached policy back from IAM and
// checks that every S3 resource it names is the bucket or under it.
func scopedPolicyFromIAM(t *testing.T, r *rig.Rig) string {
	t.Helper()
	return policyFromIAM(t, r, ownBucket)
}

// policyFromIAM is the role's one policy's default document, which must name
// no resource beyond bucket b.
func policyFromIAM(t *testing.T, r *rig.Rig, b string) string {
	t.Helper()
	ctx := context.Background()
	c := r.IAM()
	att, err := c.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(roleName)})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyName) != scopedName {
		t.Fatalf("attached to %s: %+v (err %v), want the one policy %s", roleName, att, err, scopedName)
	}
	arn := att.AttachedPolicies[0].PolicyArn
	p, err := c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: arn, VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.PathUnescape(aws.ToString(v.PolicyVersion.Document))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Statement []struct {
			Action, Resource any
		}
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	for _, st := range d.Statement {
		res := []any{st.Resource}
		if l, ok := st.Resource.([]any); ok {
			res = l
		}
		for _, x := range res {
			s, _ := x.(string)
			if s != "arn:aws:s3:::"+b && !strings.HasPrefix(s, "arn:aws:s3:::"+b+"/") {
				t.Errorf("policy names resource %q beyond bucket %s", s, b)
			}
		}
	}
	return doc
}

// rolePolicyRefusesOtherBuckets puts the document setup wrote on a role in
// a second moto that evaluates policies, assumes the role and writes: under
// the prefix is allowed, another bucket and outside the prefix are refused.
// moto is the judge here, not the plugin's own reading of the document.
func rolePolicyRefusesOtherBuckets(t *testing.T, r *rig.Rig, doc, b string) {
	t.Helper()
	ctx := context.Background()
	role, err := r.PutRolePolicy(ctx, doc, rig.Region, []string{b, "someone-elses-bucket"}, nil)
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	defer role.Stop()
	asRole := role.AsRole
	put := func(bucket, key string) error {
		_, err := asRole.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}
	if err := put(b, "velero/backups/probe"); err != nil {
		t.Errorf("the role may not write under its own prefix: %v", err)
	}
	if err := put("someone-elses-bucket", "velero/backups/probe"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("a write to another bucket with the role's credentials: %v, want AccessDenied", err)
	}
	if err := put(b, "outside-the-prefix"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("a write outside the prefix: %v, want AccessDenied", err)
		logs, _ := filepath.Glob(filepath.Join(r.Dir, "moto-auth-*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b[max(0, len(b)-12000):])
		}
	}
}

// A bucket setup may not use is refused before anything is made.
func TestSetupRefusesABucketItMayNotUse(t *testing.T) {
	r := rig.Get(t)
	ctx := context.Background()
	elsewhere := "bucket-in-another-region"
	taken := "bucket-of-another-account"
	cases := []struct {
		name, bucket, want string
		make               func(t *testing.T)
	}{
		{"another region", elsewhere, "is in region eu-central-1, and the cluster is in " + rig.Region, func(t *testing.T) {
			if _, err := r.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(elsewhere),
				CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-central-1"}},
				func(o *s3.Options) { o.Region = "eu-central-1" }); err != nil {
				t.Fatal(err)
			}
		}},
		{"another account", taken, "is not this account's", func(t *testing.T) {
			// moto maps credentials of a role in another account to that account.
			cfg := r.AWSConfig()
			as, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/other"), RoleSessionName: aws.String("other")})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(as.Credentials.AccessKeyId), aws.ToString(as.Credentials.SecretAccessKey), aws.ToString(as.Credentials.SessionToken))
			if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(taken),
				CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.Fresh(t)
			r.UseEnv(t)
			c.make(t)
			stop := record(t, r)
			res := clitest.Run(t, "setup", "--yes", "--wait=false", "--bucket", c.bucket)
			reqs := stop()
			if res.Code != 1 || !strings.Contains(res.Stderr, c.want) || !strings.Contains(res.Stderr, "--bucket") {
				t.Errorf("exit %d, want 1 with %q and the flag to change:\n%s", res.Code, c.want, res.Stderr)
			}
			if m := mutating(reqs); len(m) != 0 {
				t.Errorf("a refused bucket made AWS changes: %v", m)
			}
			if _, err := r.IAM().GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(roleName)}); err == nil {
				t.Error("the role was created")
			}
			dpas, err := r.Dynamic.Resource(gvr.DPA).Namespace("openshift-adp").List(ctx, metav1.ListOptions{})
			if err != nil || len(dpas.Items) != 0 {
				t.Errorf("DPAs after a refusal: %d (err %v)", len(dpas.Items), err)
			}
		})
	}
}

// An existing bucket of this account in the cluster's region is adopted:
// hardened, never tagged as ours, and recorded as adopted.
func TestSetupAdoptsAnAccountBucket(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	b := "team-backups"
	if _, err := r.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}}); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--bucket", b, "--bucket-versioning")
	if res.Code != 0 || !strings.Contains(res.Stderr, "adopted") {
		t.Fatalf("exit %d:\n%s", res.Code, res.Stderr)
	}
	if _, err := r.S3().GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b}); err == nil {
		t.Error("an adopted bucket got tags: cleanup would take it for its own")
	}
	if v, err := r.S3().GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b}); err != nil || v.Status != s3types.BucketVersioningStatusEnabled {
		t.Errorf("versioning %v (err %v), want Enabled with --bucket-versioning", v, err)
	}
	ns, err := r.Kube.CoreV1().Namespaces().Get(ctx, "openshift-adp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.FromAnnotations(ns.Annotations); !got.BucketAdopted || got.Bucket != b {
		t.Errorf("record %+v, want bucket %s adopted", got, b)
	}
}

// --bucket naming a bucket this plugin made for another cluster (its tags)
// is that cluster's location: setup changes nothing about it, writes a
// ReadOnly location and the read-only scope (IAM read again for it),
// records whose it is, and a rerun keeps it all.
func TestSetupOnAnotherClustersBucket(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	other := "first-cluster-oadp"
	if _, err := r.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(other),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}}); err != nil {
		t.Fatal(err)
	}
	tags := []s3types.Tag{}
	for k, v := range iam.OwnershipTags("first-cluster-id") {
		tags = append(tags, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := r.S3().PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(other), Tagging: &s3types.Tagging{TagSet: tags}}); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		stop := record(t, r)
		res := clitest.Run(t, "setup", "--yes", "--wait=false", "--bucket", other)
		reqs := stop()
		if res.Code != 0 || !strings.Contains(res.Stderr, "another cluster's (first-cluster-id), read-only here") {
			t.Fatalf("run %d: exit %d, want 0 naming the bucket's cluster:\n%s", run, res.Code, res.Stderr)
		}
		for _, q := range reqs {
			if q.Mutating() && strings.Contains(q.Path, other) {
				t.Errorf("run %d: setup changed the other cluster's bucket: %s %s", run, q.Method, q.Path)
			}
		}
	}
	doc := policyFromIAM(t, r, other)
	rep, err := iam.CompareScope(doc, iam.ScopedPolicy(iam.Scope{Partition: "aws", Bucket: other, Prefix: "velero", ReadOnly: true}))
	if err != nil || len(rep.Missing)+len(rep.Extra) > 0 {
		t.Errorf("the role's policy is not the read-only scope: %+v (%v)\n%s", rep, err, doc)
	}
	dpa, err := r.Dynamic.Resource(gvr.DPA).Namespace("openshift-adp").Get(ctx, names.DPA(rig.InfraName), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	locs, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "backupLocations")
	if m, _, _ := unstructured.NestedString(locs[0].(map[string]any), "velero", "accessMode"); m != "ReadOnly" {
		t.Errorf("location accessMode %q, want ReadOnly", m)
	}
	ns, err := r.Kube.CoreV1().Namespaces().Get(ctx, "openshift-adp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.FromAnnotations(ns.Annotations); got.BucketFrom != "first-cluster-id" || got.Bucket != other || got.BucketAdopted {
		t.Errorf("record %+v: want bucket %s from first-cluster-id, not adopted", got, other)
	}
	// A --prefix other than the recorded one is a conflict, refused.
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--prefix", "mine"); res.Code != 1 || !strings.Contains(res.Stderr, "--prefix mine") {
		t.Errorf("--prefix against the recorded location: exit %d:\n%s", res.Code, res.Stderr)
	}
}

// --from-cluster naming no context, or this very cluster, is refused with
// the flag and the fix, before anything is made.
func TestSetupFromClusterRefusals(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	for _, c := range []struct{ context, want string }{
		{"no-such-context", `--from-cluster no-such-context: cannot load a kubeconfig: context "no-such-context" does not exist`},
		{r.Identity.Context, "--from-cluster " + r.Identity.Context + " is this cluster (ID " + r.Identity.ClusterID + ")"},
	} {
		stop := record(t, r)
		res := clitest.Run(t, "setup", "--yes", "--wait=false", "--from-cluster", c.context)
		if m := mutating(stop()); len(m) != 0 {
			t.Errorf("--from-cluster %s: AWS changed before the refusal: %v", c.context, m)
		}
		if res.Code != 1 || !strings.Contains(res.Stderr, c.want) || !strings.Contains(res.Stderr, "setup changed nothing") {
			t.Errorf("--from-cluster %s: exit %d, want 1 with %q:\n%s", c.context, res.Code, c.want, res.Stderr)
		}
	}
}
