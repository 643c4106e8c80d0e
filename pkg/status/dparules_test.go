package status

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// setupChain is setup's objects as status reads them back, for OADP version.
func setupChain(version string) (*Chain, Inputs) {
	o := manifests.Options{Namespace: ns, ClusterName: "c1", Region: "us-east-2", RoleARN: roleARN, OADPVersion: version, Snapshots: manifests.SnapshotsCSI, BackupImages: true}.WithDefaults()
	ch := &Chain{Namespace: ns,
		DPAs:          []unstructured.Unstructured{*manifests.DPA(o)},
		CloudStorages: []unstructured.Unstructured{*manifests.CloudStorage(o)},
		DPASecrets:    map[string]map[string][]byte{manifests.SecretName: {manifests.SecretKey: []byte(manifests.CredentialsFile(roleARN, "us-east-2"))}},
	}
	in := inputs(ch)
	in.OADP = &clusterfacts.OADP{Installed: true, Version: version + ".0", CSV: "oadp-operator.v" + version + ".0", CSVPhase: "Succeeded"}
	return ch, in
}

func TestDPARulesOnTheClustersObjects(t *testing.T) {
	_, in := setupChain("1.5")
	if c := find(t, Build(in), CheckDPARules); c.Result != OK {
		t.Errorf("setup's DPA on 1.5: %s %s (%s)", c.Result, c.Message, c.Cause)
	}

	// The secret the location names is gone: the operator's own message.
	ch, in := setupChain("1.5")
	ch.DPASecrets = map[string]map[string][]byte{}
	if c := find(t, Build(in), CheckDPARules); c.Result != Failed || !strings.Contains(c.Message, `Secret "cloud-credentials" not found`) || c.Fix == "" {
		t.Errorf("missing secret: %s %q fix %q", c.Result, c.Message, c.Fix)
	}

	// Restic: accepted by the operator, unsupported on STS: a warning with its source.
	ch, in = setupChain("1.5")
	_ = unstructured.SetNestedMap(ch.DPAs[0].Object, map[string]any{"enable": true, "uploaderType": "restic"}, "spec", "configuration", "nodeAgent")
	if c := find(t, Build(in), CheckDPARules); c.Result != Warning || !strings.Contains(c.Cause, "Red Hat does not support Restic on AWS STS") || !strings.Contains(c.Fix, "OADP-5702") {
		t.Errorf("restic on 1.5: %s %q cause %q fix %q", c.Result, c.Message, c.Cause, c.Fix)
	}
}
