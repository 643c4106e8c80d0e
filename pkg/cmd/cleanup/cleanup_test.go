package cleanup_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/apply"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{ControllerManager: true}) }

const (
	ns       = "openshift-adp"
	bucket   = rig.InfraName + "-oadp"
	roleName = rig.InfraName + iam.RoleSuffix
)

var policyARN = iam.PolicyARN("aws", rig.AWSAccount, iam.DefaultPolicyName)

// install lays down what setup and a backup leave behind: IAM role and policy
// tagged for the rig's cluster, the cluster objects with our label, the
// operator's objects, a bucket with data, a backup and a restore. The
// CloudStorage carries the operator's finalizer, which nobody here releases.
func install(t *testing.T, r *rig.Rig, objects int) {
	t.Helper()
	ctx := context.Background()
	waitNamespaceGone(t, r, ns)
	owned := iam.RoleTags(rig.ClusterID, rig.OpenShiftVer, ns).With(iam.OwnershipTags(rig.ClusterID)).IAM()
	c := r.IAM()
	must(t, func() error {
		_, err := c.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String(iam.DefaultPolicyName), PolicyDocument: aws.String(iam.PermissionsPolicy().JSON()), Tags: owned})
		return err
	})
	must(t, func() error {
		_, err := c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(roleName),
			AssumeRolePolicyDocument: aws.String(iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, ns).JSON()), Tags: owned})
		return err
	})
	must(t, func() error {
		_, err := c.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String(roleName), PolicyArn: aws.String(policyARN)})
		return err
	})

	mo := manifests.Options{Namespace: ns, ClusterName: rig.InfraName, ClusterID: rig.ClusterID, Region: rig.Region,
		RoleARN: iam.RoleARN("aws", rig.AWSAccount, "/", roleName), OADPVersion: "1.4", BackupImages: true,
		InstallOperator: true, WriteSecret: true, Tags: map[string]string(iam.OwnershipTags(rig.ClusterID))}
	a := &apply.Applier{Client: r.Dynamic}
	for _, o := range manifests.Build(mo) {
		if _, err := a.Apply(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The operator's side: its finalizer on the CloudStorage, its CSV, a
	// schedule, a backup and a restore with Velero's finalizer.
	patchFinalizer(t, r, gvr.CloudStorage, bucket, manifests.CloudStorageFinalizer)
	for _, o := range []map[string]any{
		{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion", "metadata": map[string]any{"name": "oadp-operator.v1.4.2", "namespace": ns},
			"spec": map[string]any{"displayName": "OADP Operator", "version": "1.4.2", "install": map[string]any{"strategy": "deployment"}}},
		{"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": map[string]any{"name": "hello-world", "namespace": ns},
			"spec": map[string]any{"includedNamespaces": []any{"hello-world"}, "storageLocation": rig.InfraName + "-dpa-1", "ttl": "720h0m0s"}},
		{"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": map[string]any{"name": "hello-nightly", "namespace": ns},
			"spec": map[string]any{"schedule": "0 1 * * *", "template": map[string]any{"includedNamespaces": []any{"hello-world"}}}},
		{"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": map[string]any{"name": "hello-world", "namespace": ns,
			"finalizers": []any{"restores.velero.io/external-resources-finalizer"}}, "spec": map[string]any{"backupName": "hello-world"}},
	} {
		if err := r.Apply(ctx, &unstructured.Unstructured{Object: o}); err != nil {
			t.Fatal(err)
		}
	}
	tags := []s3types.Tag{}
	for k, v := range iam.OwnershipTags(rig.ClusterID) {
		tags = append(tags, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	fillBucket(t, r, bucket, objects, tags)
}

// fillBucket makes a versioned bucket holding objects versions, with delete
// markers on a tenth of the keys.
func fillBucket(t *testing.T, r *rig.Rig, name string, objects int, tags []s3types.Tag) {
	t.Helper()
	ctx := context.Background()
	c := r.S3()
	must(t, func() error {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}})
		return err
	})
	if len(tags) > 0 {
		must(t, func() error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{TagSet: tags}})
			return err
		})
	}
	must(t, func() error {
		_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		return err
	})
	keys := objects / 2
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range objects {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			key := fmt.Sprintf("velero/backups/b%d/file-%d", i%7, i%keys)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := 0; i < keys/10; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			key := fmt.Sprintf("velero/backups/b%d/file-%d", i%7, i)
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String(key)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func patchFinalizer(t *testing.T, r *rig.Rig, g schemaGVR, name, finalizer string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"finalizers":[%q]}}`, finalizer)
	if _, err := r.Dynamic.Resource(g).Namespace(ns).Patch(context.Background(), name, mergePatch, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, r *rig.Rig, g schemaGVR, namespace, name string) bool {
	t.Helper()
	var err error
	if namespace == "" {
		_, err = r.Dynamic.Resource(g).Get(context.Background(), name, metav1.GetOptions{})
	} else {
		_, err = r.Dynamic.Resource(g).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("read %s %s: %v", g.Resource, name, err)
	}
	return err == nil
}

func bucketExists(t *testing.T, r *rig.Rig, name string) bool {
	_, err := r.S3().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

func roleExists(r *rig.Rig, name string) bool {
	_, err := r.IAM().GetRole(context.Background(), &awsiam.GetRoleInput{RoleName: aws.String(name)})
	return err == nil
}

func policyExists(r *rig.Rig) bool {
	_, err := r.IAM().GetPolicy(context.Background(), &awsiam.GetPolicyInput{PolicyArn: aws.String(policyARN)})
	return err == nil
}

// Everything goes, read back from the API server and moto; the CloudStorage
// finalizer nobody releases (no operator runs here) does not hang cleanup
// past its timeout; a second run finds nothing.
func TestCleanupRemovesEverythingOfOurs(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	t.Cleanup(func() {
		if err := r.InstallCRDs(context.Background(), rig.DefaultOADPCRDs); err != nil {
			t.Errorf("putting the default OADP CRDs back: %v", err)
		}
	})
	install(t, r, 5000)
	ctx := context.Background()
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, nsObj("hello-world"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	res := clitest.Run(t, "cleanup", "--workload", "hello-world", "--yes", "--timeout", "15s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{"delete  namespace hello-world (workload)", "emptied bucket " + bucket + " (5250 object versions and delete markers)",
		"the plugin deleted the bucket and removed the finalizer", "deleted IAM role " + roleName, "deleted IAM policy OadpVer1", "Cleanup complete."} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The schedule goes before the backups, so it cannot make one meanwhile.
	sched, backup := strings.Index(res.Stderr, "deleted schedule hello-nightly"), strings.Index(res.Stderr, "deleted backup hello-world")
	if !strings.Contains(res.Stderr, "delete  1 schedule: hello-nightly") || sched < 0 || backup < 0 || sched > backup {
		t.Errorf("the schedule is not planned and deleted before the backups (at %d and %d)", sched, backup)
	}
	for _, c := range []struct {
		g        schemaGVR
		ns, name string
	}{
		{gvr.Namespace, "", "hello-world"}, {gvr.Namespace, "", ns}, {gvr.CRD, "", gvr.OADPCRDName},
		{gvr.CRD, "", "backups.velero.io"}, {gvr.CRD, "", "cloudstorages.oadp.openshift.io"},
	} {
		if exists(t, r, c.g, c.ns, c.name) {
			t.Errorf("%s %s still exists", c.g.Resource, c.name)
		}
	}
	if bucketExists(t, r, bucket) || roleExists(r, roleName) || policyExists(r) {
		t.Errorf("AWS left behind: bucket %v role %v policy %v", bucketExists(t, r, bucket), roleExists(r, roleName), policyExists(r))
	}

	again := clitest.Run(t, "cleanup", "--yes", "--timeout", "15s")
	if again.Code != 0 || !strings.Contains(again.Stderr, "Nothing of ours to clean up.") {
		t.Errorf("second run: exit %d, %q", again.Code, again.Stderr)
	}
}

// A policy another role uses, and a role without our tags, survive; both are
// reported with the reason; --force deletes the role.
func TestCleanupKeepsWhatIsNotOurs(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	c := r.IAM()
	install(t, r, 10)
	must(t, func() error {
		_, err := c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("other-cluster-role"),
			AssumeRolePolicyDocument: aws.String(iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, ns).JSON())})
		return err
	})
	must(t, func() error {
		_, err := c.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("other-cluster-role"), PolicyArn: aws.String(policyARN)})
		return err
	})
	must(t, func() error { // someone else's role of our name: tags of another cluster
		_, err := c.UntagRole(ctx, &awsiam.UntagRoleInput{RoleName: aws.String(roleName), TagKeys: []string{iam.TagOwnerClusterID}})
		return err
	})
	res := clitest.Run(t, "cleanup", "--keep-operator", "--keep-bucket", "--yes", "--timeout", "2s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{
		"skip    IAM role " + roleName + " (not tagged oadp-sts.openshift.io/cluster-id=" + rig.ClusterID + "; --force deletes it)",
		"skip    IAM policy OadpVer1 (still attached to ",
		"keep    the OADP operator (--keep-operator)",
		"deleted cloudstorage " + bucket + " (bucket " + bucket + " kept)",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !roleExists(r, roleName) || !policyExists(r) || !bucketExists(t, r, bucket) {
		t.Errorf("deleted what is not ours: role %v policy %v bucket %v", roleExists(r, roleName), policyExists(r), bucketExists(t, r, bucket))
	}
	if !exists(t, r, gvr.CSV, ns, "oadp-operator.v1.4.2") {
		t.Errorf("--keep-operator deleted the CSV")
	}
	forced := clitest.Run(t, "cleanup", "--keep-operator", "--keep-bucket", "--force", "--yes", "--timeout", "2s")
	if forced.Code != 0 || roleExists(r, roleName) {
		t.Errorf("--force: exit %d, role still exists %v", forced.Code, roleExists(r, roleName))
	}
	if !policyExists(r) {
		t.Errorf("--force deleted a policy another role still uses")
	}
	teardown(t, r)
}

// --dry-run, --dry-run=server and a refused confirmation change nothing;
// the server dry run sends every deletion of the plan with dryRun=All.
func TestCleanupChangesNothingWithoutConsent(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	install(t, r, 10)
	ctx := context.Background()
	defer teardown(t, r)

	stop, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dry := clitest.Run(t, "cleanup", "--dry-run")
	kube := r.RecordKube("kubectl-oadp_sts/")
	server := clitest.Run(t, "cleanup", "--dry-run=server")
	reqs, err := kube()
	if err != nil {
		t.Fatal(err)
	}
	noTTY := clitest.RunWithInput(t, "y\n", "cleanup")
	calls, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if server.Code != 0 || !strings.Contains(server.Stderr, "dataprotectionapplication "+rig.InfraName+"-dpa deleted (server dry run)") || !strings.Contains(server.Stderr, "AWS has no dry run") {
		t.Errorf("--dry-run=server: exit %d %q", server.Code, server.Stderr)
	}
	var dryDeletes int
	for _, q := range reqs {
		switch {
		case q.Mutating() && !q.DryRun():
			t.Errorf("--dry-run=server sent %s %s/%s without dryRun=All", q.Verb, q.Resource, q.Name)
		case q.Verb == "delete":
			dryDeletes++
		}
	}
	if dryDeletes == 0 {
		t.Errorf("--dry-run=server sent no deletion at all")
	}
	if dry.Code != 0 || !strings.Contains(dry.Stderr, "Dry run: nothing was deleted") || !strings.Contains(dry.Stderr, "delete  IAM role "+roleName) {
		t.Errorf("dry run: exit %d %q", dry.Code, dry.Stderr)
	}
	if noTTY.Code != exitcode.Error || !strings.Contains(noTTY.Stderr, "refusing to delete without confirmation: no terminal to ask on; rerun with --yes") {
		t.Errorf("no terminal: exit %d %q", noTTY.Code, noTTY.Stderr)
	}
	for _, c := range calls {
		if c.Mutating() {
			t.Errorf("mutating AWS call without consent: %+v", c)
		}
	}
	if !exists(t, r, gvr.DPA, ns, rig.InfraName+"-dpa") || !exists(t, r, gvr.Backup, ns, "hello-world") || !roleExists(r, roleName) || !bucketExists(t, r, bucket) {
		t.Errorf("something was deleted without consent")
	}
}

func TestCleanupBadInput(t *testing.T) {
	res := clitest.Run(t, "cleanup", "--timeout", "0s")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "--timeout must be positive") {
		t.Errorf("exit %d %q", res.Code, res.Stderr)
	}
	res = clitest.Run(t, "cleanup", "--role-name", "bad/name!", "--dry-run")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "--role-name") {
		t.Errorf("exit %d %q", res.Code, res.Stderr)
	}
}

// A cleanup run again after an interruption finds the DeleteBackupRequest it
// already made and does not ask Velero twice.
func TestCleanupReusesAPendingDeleteBackupRequest(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	install(t, r, 10)
	defer teardown(t, r)
	b, err := r.Dynamic.Resource(gvr.Backup).Namespace(ns).Get(ctx, "hello-world", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pending := cleanupDBR(b)
	if _, err := r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(ns).Create(ctx, pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, "cleanup", "--keep-operator", "--keep-bucket", "--keep-iam", "--yes", "--timeout", "2s")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	list, err := r.Dynamic.Resource(gvr.DeleteBackupRequest).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d DeleteBackupRequests, want the pending one only", len(list.Items))
	}
}
