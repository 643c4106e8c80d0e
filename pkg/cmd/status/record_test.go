package status_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// After `setup --cluster-name mycluster` and other names, a plain status
// checks the role, policy, bucket and DPA setup made (found in the
// namespace's record), not the defaults of the cluster's own name. The
// operator and Velero are played by the test, as in setUpChain.
func TestStatusWithoutFlagsChecksWhatSetupRecorded(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	const (
		ns     = "status-record"
		policy = "OadpMycluster"
		bkt    = "mycluster-backups"
		dpa    = "mycluster-velero"
	)
	role := "mycluster" + iam.RoleSuffix
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage", "-n", ns, "--cluster-name", "mycluster",
		"--policy-name", policy, "--bucket", bkt, "--dpa-name", dpa); res.Code != 0 {
		t.Fatalf("setup: exit %d: %s", res.Code, res.Stderr)
	}
	csv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": "oadp-operator.v1.4.2", "namespace": ns},
		"spec":     map[string]any{"displayName": "OADP Operator", "version": "1.4.2", "install": map[string]any{"strategy": "deployment"}},
		"status":   map[string]any{"phase": "Succeeded", "reason": "InstallSucceeded"},
	}}
	mustApply(t, r, csv)
	mustApplyStatus(t, r, csv)
	now := time.Now().UTC().Format(time.RFC3339)
	mustApplyStatus(t, r, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
		"metadata": map[string]any{"name": dpa, "namespace": ns},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Reconciled", "status": "True", "reason": "Complete",
			"message": "Reconcile complete", "lastTransitionTime": now}}},
	}})
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": manifests.BSLName(dpa), "namespace": ns},
		"spec": map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": bkt, "prefix": "velero"}, "default": true,
			"credential": map[string]any{"name": manifests.SecretName, "key": manifests.SecretKey},
			"config":     map[string]any{"region": rig.Region, "enableSharedConfig": "true"}},
	}}
	mustApply(t, r, bsl)
	bsl.Object["status"] = map[string]any{"phase": "Available", "lastValidationTime": now}
	mustApplyStatus(t, r, bsl)
	if _, err := r.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bkt),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(rig.Region)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "velero"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rep, res := statusJSON(t, "-n", ns)
	if res.Code != 0 || !rep.Ready {
		for _, c := range rep.Checks {
			if c.Result == "failed" {
				t.Errorf("check %q failed: %s", c.Name, c.Cause)
			}
		}
		t.Fatalf("plain status after setup with other names: exit %d, ready %v; want 0 and ready", res.Code, rep.Ready)
	}
	for name, want := range map[string]string{"iam role": role, "policy attached": policy, "bucket " + bkt: "in " + rig.Region, "credentials secret": role} {
		found := false
		for _, c := range rep.Checks {
			if c.Name == name {
				found = true
				if c.Result != "ok" || !strings.Contains(c.Message, want) {
					t.Errorf("check %q = %s %q, want ok naming %s", name, c.Result, c.Message, want)
				}
			}
		}
		if !found {
			t.Errorf("no check %q", name)
		}
	}

	// A flag against the record: an error naming both, exit 1.
	conflict := clitest.Run(t, "status", "-n", ns, "--role-name", "other-role")
	if conflict.Code != exitcode.Error || !strings.Contains(conflict.Stderr, "--role-name other-role") || !strings.Contains(conflict.Stderr, role) {
		t.Errorf("status --role-name against the record: exit %d, stderr %q; want %d naming both roles", conflict.Code, conflict.Stderr, exitcode.Error)
	}
}
