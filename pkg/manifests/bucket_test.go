package manifests

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The velero location of the bucket setup makes, judged by the rule engine
// (held to the real operator's verdicts by pkg/dparules' conformance test)
// for every version: accepted, with image backup only where the operator's
// registry-secret step reads an STS profile (1.5 on).
func TestBucketLocationPerVersion(t *testing.T) {
	for _, v := range SupportedOADPVersions {
		o := Options{ClusterName: "c1", Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/r", OADPVersion: v,
			BucketLocation: true, BackupImages: true, WriteSecret: true}.WithDefaults()
		verdict := JudgeSetup(o)
		stsRegistry := v == "1.5" || v == "1.6"
		if stsRegistry != (verdict.First == nil) {
			t.Errorf("OADP %s with backupImages: verdict %+v", v, verdict.First)
		}
		if !stsRegistry && verdict.First.Rule != "C01" {
			t.Errorf("OADP %s: the refusal is %s, want the registry-secret step C01", v, verdict.First.Rule)
		}
		o.BackupImages = false
		if err := JudgeSetup(o).Err(); err != nil {
			t.Errorf("OADP %s without image backup: %v", v, err)
		}
		for _, obj := range Build(o) {
			if obj.GetKind() == "CloudStorage" {
				t.Errorf("OADP %s: a CloudStorage beside a velero location", v)
			}
		}
		locs, _, _ := unstructured.NestedSlice(DPA(o).Object, "spec", "backupLocations")
		vel := locs[0].(map[string]any)["velero"].(map[string]any)
		if b, _, _ := unstructured.NestedString(vel, "objectStorage", "bucket"); b != "c1-oadp" {
			t.Errorf("OADP %s: bucket %q", v, b)
		}
	}
}
