package manifests

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
)

// TestSetupNeverWritesWhatTheOperatorRejects walks setup's flag space and
// judges the objects Build returns (not a hand-made copy) with the operator's
// rules of the chosen version: every combination setup accepts must
// reconcile, and the rest must be refused before anything is built.
func TestSetupNeverWritesWhatTheOperatorRejects(t *testing.T) {
	checked := 0
	for _, version := range SupportedOADPVersions {
		for _, snapshots := range []string{SnapshotsCSI, SnapshotsNative} {
			for _, fs := range []bool{false, true} {
				for _, images := range []bool{true, false} {
					for _, cco := range []bool{false, true} {
						for _, res := range []map[string]string{nil, {"cpu": "500m", "memory": "256Mi"}} {
							for _, prefix := range []string{"", "backups/prod"} {
								o := opts(version, snapshots)
								o.FSBackup, o.BackupImages, o.Prefix, o.VeleroRequests = fs, images, prefix, res
								o.InstallOperator, o.SubscriptionRoleARN, o.WriteSecret = true, cco, !cco
								name := fmt.Sprintf("%s/%s/fs=%v/images=%v/cco=%v/requests=%v/prefix=%q", version, snapshots, fs, images, cco, res != nil, prefix)
								err := ValidateOptions(o, "us-east-2")
								if version == "1.2" && fs {
									if err == nil {
										t.Errorf("%s: setup must refuse file-system backup on OADP 1.2", name)
									}
									continue
								}
								if err != nil {
									t.Errorf("%s: setup refuses a supported combination: %v", name, err)
									continue
								}
								v := dparules.Judge(context.Background(), builtNamespace(t, Build(o), o), version, nil)
								if !v.Accepted() {
									t.Errorf("%s: setup would write a DPA the operator rejects: %v", name, v.Err())
								}
								checked++
							}
						}
					}
				}
			}
		}
	}
	if want := (len(SupportedOADPVersions)*2*2 - 2) * 2 * 2 * 2 * 2; checked != want {
		t.Errorf("checked %d combinations, want %d", checked, want)
	}
}

// builtNamespace is what the operator sees after setup applied objs: the
// secret is setup's, or with ROLEARN the Cloud Credential Operator's, which
// holds the same web-identity profile under the same key.
func builtNamespace(t *testing.T, objs []*unstructured.Unstructured, o Options) dparules.Namespace {
	t.Helper()
	o = o.WithDefaults()
	ns := dparules.Namespace{Secrets: map[string]map[string][]byte{}, CloudStorages: map[string]*unstructured.Unstructured{}}
	for _, obj := range objs {
		switch obj.GetKind() {
		case "DataProtectionApplication":
			ns.DPA = obj
		case "CloudStorage":
			ns.CloudStorages[obj.GetName()] = obj
		case "Secret":
			data := map[string][]byte{}
			sd, _, _ := unstructured.NestedStringMap(obj.Object, "stringData")
			for k, v := range sd {
				data[k] = []byte(v)
			}
			ns.Secrets[obj.GetName()] = data
		}
	}
	if o.SubscriptionRoleARN {
		ns.Secrets[SecretName] = map[string][]byte{SecretKey: []byte(fmt.Sprintf(
			"[default]\nsts_regional_endpoints = regional\nrole_arn = %s\nweb_identity_token_file = %s\n", o.RoleARN, WebIdentityToken))}
	}
	if ns.DPA == nil {
		t.Fatal("Build wrote no DataProtectionApplication")
	}
	return ns
}
