package cleanup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// What an earlier setup was given, none of it a default.
const (
	myCluster = "mycluster"
	myRole    = myCluster + iam.RoleSuffix
	myPolicy  = "OadpMycluster"
	myBucket  = "mycluster-backups"
	myDPA     = "mycluster-velero"
)

// setupCustom runs the plugin's setup with non-default names, then does what
// the operator would with the CloudStorage (no operator runs here): puts its
// finalizer on it and makes its bucket with the tags the CloudStorage asks for.
func setupCustom(t *testing.T, r *rig.Rig) {
	t.Helper()
	waitNamespaceGone(t, r, ns)
	res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage", "--cluster-name", myCluster, "--policy-name", myPolicy, "--bucket", myBucket, "--dpa-name", myDPA)
	if res.Code != 0 {
		t.Fatalf("setup: exit %d: %s", res.Code, res.Stderr)
	}
	cs, err := r.Dynamic.Resource(gvr.CloudStorage).Namespace(ns).Get(context.Background(), myBucket, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	specTags, _, _ := unstructured.NestedStringMap(cs.Object, "spec", "tags")
	var tags []s3types.Tag
	for k, v := range specTags {
		tags = append(tags, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	fillBucket(t, r, myBucket, 10, tags)
	patchFinalizer(t, r, gvr.CloudStorage, myBucket, manifests.CloudStorageFinalizer)
}

func policyNamedExists(r *rig.Rig, name string) bool {
	_, err := r.IAM().GetPolicy(context.Background(), &awsiam.GetPolicyInput{PolicyArn: aws.String(iam.PolicyARN("aws", rig.AWSAccount, name))})
	return err == nil
}

// After a setup with other names, a plain cleanup finds the role, the policy
// and the bucket from the namespace's record and leaves nothing behind.
func TestCleanupWithoutFlagsRemovesWhatTheRecordNames(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	t.Cleanup(func() {
		if err := r.InstallCRDs(context.Background(), rig.DefaultOADPCRDs); err != nil {
			t.Errorf("putting the default OADP CRDs back: %v", err)
		}
	})
	setupCustom(t, r)

	res := clitest.Run(t, "cleanup", "--yes", "--timeout", "15s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{"deleted IAM role " + myRole, "deleted IAM policy " + myPolicy, "Cleanup complete."} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Stderr)
		}
	}
	if roleExists(r, myRole) || policyNamedExists(r, myPolicy) || bucketExists(t, r, myBucket) {
		t.Errorf("AWS left behind: role %v, policy %v, bucket %v", roleExists(r, myRole), policyNamedExists(r, myPolicy), bucketExists(t, r, myBucket))
	}
	for _, c := range []struct {
		g    schemaGVR
		name string
	}{{gvr.Namespace, ns}, {gvr.CRD, gvr.OADPCRDName}, {gvr.CRD, "backups.velero.io"}, {gvr.CRD, "cloudstorages.oadp.openshift.io"}} {
		if exists(t, r, c.g, "", c.name) {
			t.Errorf("%s %s still exists", c.g.Resource, c.name)
		}
	}
}

// The record names a role, but the role lacks our ownership tags (someone
// else's, or retagged): cleanup does not delete it, nor the policy it uses,
// without --force. A flag against the record is refused before anything.
func TestCleanupKeepsARecordedRoleThatIsNotOurs(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	setupCustom(t, r)
	defer teardown(t, r)

	stop, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conflict := clitest.Run(t, "cleanup", "--yes", "--role-name", "other-role")
	calls, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if conflict.Code != exitcode.Error || !strings.Contains(conflict.Stderr, "--role-name other-role") || !strings.Contains(conflict.Stderr, myRole) {
		t.Errorf("cleanup --role-name against the record: exit %d, stderr %q; want %d naming both roles", conflict.Code, conflict.Stderr, exitcode.Error)
	}
	if len(calls) != 0 {
		t.Errorf("a refused cleanup called AWS: %v", calls)
	}
	if !exists(t, r, gvr.DPA, ns, myDPA) {
		t.Errorf("a refused cleanup deleted the DPA")
	}

	must(t, func() error {
		_, err := r.IAM().UntagRole(ctx, &awsiam.UntagRoleInput{RoleName: aws.String(myRole), TagKeys: []string{iam.TagOwnerClusterID}})
		return err
	})
	res := clitest.Run(t, "cleanup", "--keep-operator", "--yes", "--timeout", "2s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{
		"skip    IAM role " + myRole + " (not tagged oadp-sts.openshift.io/cluster-id=" + rig.ClusterID + "; --force deletes it)",
		"skip    IAM policy " + myPolicy + " (the role that uses it stays)",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Stderr)
		}
	}
	if !roleExists(r, myRole) || !policyNamedExists(r, myPolicy) {
		t.Errorf("deleted what is not ours: role %v policy %v", roleExists(r, myRole), policyNamedExists(r, myPolicy))
	}
	if bucketExists(t, r, myBucket) {
		t.Errorf("bucket %s, tagged for this cluster, was kept", myBucket)
	}
}

// When the role cannot be deleted, the namespace that records its name stays,
// so a plain cleanup run again, once the cause is fixed, still finds it.
func TestCleanupKeepsTheRecordWhileIAMIsLeftBehind(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if err := r.InstallCRDs(context.Background(), rig.DefaultOADPCRDs); err != nil {
			t.Errorf("putting the default OADP CRDs back: %v", err)
		}
	})
	setupCustom(t, r)
	c := r.IAM()
	// A role in an instance profile cannot be deleted (DeleteConflict).
	must(t, func() error {
		_, err := c.CreateInstanceProfile(ctx, &awsiam.CreateInstanceProfileInput{InstanceProfileName: aws.String("holds-the-role")})
		return err
	})
	must(t, func() error {
		_, err := c.AddRoleToInstanceProfile(ctx, &awsiam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("holds-the-role"), RoleName: aws.String(myRole)})
		return err
	})

	res := clitest.Run(t, "cleanup", "--yes", "--timeout", "15s")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "IAM role "+myRole) || !strings.Contains(res.Stderr, "namespace "+ns+": kept") {
		t.Fatalf("exit %d, stderr:\n%s\nwant %d, the role left behind and the namespace kept", res.Code, res.Stderr, exitcode.Error)
	}
	if !roleExists(r, myRole) || !exists(t, r, gvr.Namespace, "", ns) {
		t.Fatalf("role exists %v, namespace exists %v; want both kept", roleExists(r, myRole), exists(t, r, gvr.Namespace, "", ns))
	}

	must(t, func() error {
		_, err := c.RemoveRoleFromInstanceProfile(ctx, &awsiam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("holds-the-role"), RoleName: aws.String(myRole)})
		return err
	})
	again := clitest.Run(t, "cleanup", "--yes", "--timeout", "15s")
	if again.Code != 0 {
		t.Fatalf("second run: exit %d: %s", again.Code, again.Stderr)
	}
	if roleExists(r, myRole) || policyNamedExists(r, myPolicy) || exists(t, r, gvr.Namespace, "", ns) {
		t.Errorf("after the second run: role %v, policy %v, namespace %v; want none", roleExists(r, myRole), policyNamedExists(r, myPolicy), exists(t, r, gvr.Namespace, "", ns))
	}
}

// A CloudStorage no operator holds with its finalizer goes at once; the
// bucket it named is still there, and cleanup says it deleted it itself
// rather than crediting the operator.
func TestCleanupDeletesTheBucketTheOperatorLeft(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	setupCustom(t, r)
	defer teardown(t, r)
	must(t, func() error {
		_, err := r.Dynamic.Resource(gvr.CloudStorage).Namespace(ns).Patch(context.Background(), myBucket, mergePatch, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		return err
	})
	res := clitest.Run(t, "cleanup", "--keep-operator", "--keep-iam", "--yes", "--timeout", "5s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "the operator left the bucket, so the plugin deleted it") || strings.Contains(res.Stderr, "(by the operator)") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	if bucketExists(t, r, myBucket) {
		t.Errorf("bucket %s left behind", myBucket)
	}
}

// A CloudStorage deleted by hand (its finalizer released first) leaves its
// bucket with nothing in the cluster naming it but setup's record: a plain
// cleanup still finds it there, checks our tags, and deletes it. A recorded
// bucket without our tags is kept.
func TestCleanupDeletesARecordedBucketWhoseCloudStorageIsGone(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	setupCustom(t, r)
	defer teardown(t, r)
	forgetCloudStorage := func() {
		t.Helper()
		res := r.Dynamic.Resource(gvr.CloudStorage).Namespace(ns)
		must(t, func() error {
			_, err := res.Patch(context.Background(), myBucket, mergePatch, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			return err
		})
		must(t, func() error { return res.Delete(context.Background(), myBucket, metav1.DeleteOptions{}) })
	}
	forgetCloudStorage()

	// First without our tags: the record alone is no licence to delete.
	ctx := context.Background()
	tagged, err := r.S3().GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(myBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.S3().DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(myBucket)}); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "cleanup", "--keep-operator", "--keep-iam", "--keep-crds", "--dry-run")
	if res.Code != 0 || !strings.Contains(res.Stderr, "bucket "+myBucket) || !strings.Contains(res.Stderr, "--force deletes it") {
		t.Fatalf("dry run of an untagged recorded bucket: exit %d, want it planned as kept:\n%s", res.Code, res.Stderr)
	}
	if _, err := r.S3().PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(myBucket), Tagging: &s3types.Tagging{TagSet: tagged.TagSet}}); err != nil {
		t.Fatal(err)
	}

	res = clitest.Run(t, "cleanup", "--keep-operator", "--keep-iam", "--yes", "--timeout", "5s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "deleted bucket "+myBucket) {
		t.Errorf("stderr does not say the recorded bucket was deleted:\n%s", res.Stderr)
	}
	if bucketExists(t, r, myBucket) {
		t.Errorf("bucket %s left behind", myBucket)
	}
}
