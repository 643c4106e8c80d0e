package dparules_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
)

// sts is setup's DPA shape with its secret and CloudStorage.
func sts(mutate func(spec map[string]any)) dparules.Namespace {
	spec := map[string]any{
		"backupImages": true,
		"backupLocations": []any{map[string]any{"bucket": map[string]any{
			"cloudStorageRef": map[string]any{"name": "c1-oadp"}, "credential": map[string]any{"name": "cloud-credentials", "key": "credentials"},
			"default": true, "prefix": "velero", "config": map[string]any{"region": "us-east-2"}}}},
		"configuration": map[string]any{"velero": map[string]any{"defaultPlugins": []any{"openshift", "aws", "csi"}},
			"nodeAgent": map[string]any{"enable": false, "uploaderType": "kopia"}},
	}
	if mutate != nil {
		mutate(spec)
	}
	return dparules.Namespace{
		DPA: &unstructured.Unstructured{Object: map[string]any{"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
			"metadata": map[string]any{"name": "c1-dpa", "namespace": "openshift-adp"}, "spec": spec}},
		Secrets: map[string]map[string][]byte{"cloud-credentials": {"credentials": []byte(
			"[default]\nrole_arn = arn:aws:iam::123456789012:role/r\nweb_identity_token_file = /var/run/secrets/openshift/serviceaccount/token\n")}},
		CloudStorages: map[string]*unstructured.Unstructured{"c1-oadp": {Object: map[string]any{"kind": "CloudStorage"}}},
	}
}

func judge(ns dparules.Namespace, v string) dparules.Verdict {
	return dparules.Judge(context.Background(), ns, v, nil)
}

func TestEveryVersionAcceptsSetupsShape(t *testing.T) {
	for _, v := range dparules.Versions[2:] {
		if err := judge(sts(nil), v).Err(); err != nil {
			t.Errorf("OADP %s: %v", v, err)
		}
	}
}

// The first failing rule is the operator's; the later ones are listed as
// such, each with the operator's own words.
func TestFirstRuleAndLaterOnes(t *testing.T) {
	ns := sts(func(s map[string]any) {
		s["features"] = map[string]any{"dataMover": map[string]any{"enable": false}}
		s["unsupportedOverrides"] = map[string]any{"operator-type": "oadp"}
	})
	v := judge(ns, "1.5")
	if v.First == nil || v.First.Rule != "R34" || len(v.Later) != 1 || v.Later[0].Rule != "R37" {
		t.Fatalf("first %+v, later %+v; want R34 then R37", v.First, v.Later)
	}
	msg := v.Err().Error()
	if !strings.Contains(msg, "Use Velero Built-in Data Mover instead") || !strings.Contains(msg, "later, once that is fixed: only mtc operator type override is supported") || !strings.Contains(msg, "fix: ") {
		t.Errorf("report %q", msg)
	}
}

// 1.6 is 1.5 plus its release notes: uploaderType restic is an error there,
// a warning before.
func TestResticByVersion(t *testing.T) {
	ns := sts(func(s map[string]any) {
		s["configuration"].(map[string]any)["nodeAgent"] = map[string]any{"enable": true, "uploaderType": "restic"}
	})
	if v := judge(ns, "1.5"); !v.Accepted() || len(v.Warnings) != 1 {
		t.Errorf("1.5: %v, warnings %+v", v.Err(), v.Warnings)
	}
	if v := judge(ns, "1.6.1"); v.Accepted() || v.First.Message != "restic is no longer supported in spec.configuration.nodeAgent.uploaderType, use kopia instead" {
		t.Errorf("1.6: %+v", v.First)
	}
}

func TestSecretNamesAndReconciles(t *testing.T) {
	ns := sts(func(s map[string]any) {
		s["snapshotLocations"] = []any{map[string]any{"velero": map[string]any{"provider": "aws", "credential": map[string]any{"name": "vsl-creds", "key": "cloud"}}}}
	})
	if got := dparules.SecretNames(ns.DPA); !slices.Equal(got, []string{"cloud-credentials", "vsl-creds"}) {
		t.Errorf("SecretNames = %v", got)
	}
	if m, known := dparules.Normalize("1.9.0"); m != "1.6" || known {
		t.Errorf("Normalize(1.9.0) = %s, %v", m, known)
	}
}

// 1.2 and 1.3, best effort from the documentation.
func TestOlderVersions(t *testing.T) {
	ns := sts(func(s map[string]any) {
		s["configuration"].(map[string]any)["velero"].(map[string]any)["defaultPlugins"] = []any{"openshift", "legacy-aws"}
	})
	if v := judge(ns, "1.3"); v.Accepted() || v.First.Stage != dparules.Admission {
		t.Errorf("1.3 with legacy-aws: %+v", v.First)
	}
	if v := judge(ns, "1.4"); !v.Accepted() {
		t.Errorf("1.4 with legacy-aws: %v", v.Err())
	}
	if v := judge(sts(nil), "1.2"); !v.Accepted() || len(v.Warnings) != 1 || v.Warnings[0].Rule != "W-nodeagent" {
		t.Errorf("1.2 with nodeAgent: %v %+v", v.Err(), v.Warnings)
	}
}
