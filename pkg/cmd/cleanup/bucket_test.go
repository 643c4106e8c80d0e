package cleanup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// The bucket setup made (no CloudStorage), versioned and holding old
// versions, is emptied and deleted by a plain cleanup; a bucket setup
// adopted is kept, with its data. Both read back from moto.
func TestCleanupDeletesTheBucketSetupMadeAndKeepsAnAdoptedOne(t *testing.T) {
	r := rig.Get(t)
	ctx := context.Background()
	for _, adopted := range []bool{false, true} {
		t.Run(fmt.Sprintf("adopted=%v", adopted), func(t *testing.T) {
			r.Fresh(t)
			r.UseEnv(t)
			waitNamespaceGone(t, r, ns)
			defer teardown(t, r)
			b := "mycluster-made"
			if adopted {
				b = "team-bucket"
				if _, err := r.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b),
					CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}}); err != nil {
					t.Fatal(err)
				}
			}
			if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cluster-name", "mycluster", "--bucket", b, "--bucket-versioning"); res.Code != 0 {
				t.Fatalf("setup: exit %d: %s", res.Code, res.Stderr)
			}
			for i := range 6 { // three keys, two versions each
				if _, err := r.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(fmt.Sprintf("velero/backups/b/%d", i%3)), Body: strings.NewReader("x")}); err != nil {
					t.Fatal(err)
				}
			}
			// The operator and its CRDs stay for the next case's setup.
			res := clitest.Run(t, "cleanup", "--yes", "--keep-operator", "--keep-crds", "--timeout", "15s")
			if res.Code != 0 {
				t.Fatalf("cleanup: exit %d: %s", res.Code, res.Stderr)
			}
			if got := bucketExists(t, r, b); got != adopted {
				t.Errorf("bucket %s exists after cleanup: %v, want %v\n%s", b, got, adopted, res.Stderr)
			}
			if adopted {
				if !strings.Contains(res.Stderr, "adopted by setup") {
					t.Errorf("cleanup does not say why it kept the adopted bucket:\n%s", res.Stderr)
				}
				out, err := r.S3().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b)})
				if err != nil || len(out.Versions) != 6 {
					t.Errorf("the adopted bucket's data: %d versions (err %v), want all 6 kept", len(out.Versions), err)
				}
			}
		})
	}
}
