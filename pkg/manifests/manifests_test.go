package manifests

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
)

func opts(version, snapshots string) Options {
	return Options{
		Namespace: "openshift-adp", ClusterName: "prod", ClusterID: "id-1", Region: "us-east-2",
		RoleARN:     "arn:aws:iam::123456789012:role/prod-openshift-oadp-aws-cloud-credentials",
		OADPVersion: version, Snapshots: snapshots, BackupImages: true, WriteSecret: true,
	}
}

func TestDPAForEveryVersionAndModePassesTheOperatorRules(t *testing.T) {
	for _, v := range SupportedOADPVersions {
		for _, mode := range []string{SnapshotsCSI, SnapshotsNative} {
			o := opts(v, mode)
			dpa := DPA(o.WithDefaults())
			if err := JudgeSetup(o).Err(); err != nil {
				t.Errorf("OADP %s %s: generated DPA breaks rules: %v", v, mode, err)
			}
			if err := ValidateOptions(o, "us-east-2"); err != nil {
				t.Errorf("OADP %s %s: %v", v, mode, err)
			}
			spec := dpa.Object["spec"].(map[string]any)
			if _, found := spec["features"]; found {
				t.Errorf("OADP %s: spec.features emitted", v)
			}
			cfg := spec["configuration"].(map[string]any)
			_, hasRestic := cfg["restic"]
			_, hasNodeAgent := cfg["nodeAgent"]
			if v == "1.2" != hasRestic || v == "1.2" == hasNodeAgent {
				t.Errorf("OADP %s: restic=%v nodeAgent=%v; want restic only on 1.2", v, hasRestic, hasNodeAgent)
			}
			plugins, _, _ := unstructured.NestedStringSlice(spec, "configuration", "velero", "defaultPlugins")
			wantPlugins := "openshift,aws"
			if mode == SnapshotsCSI {
				wantPlugins += ",csi"
			}
			if strings.Join(plugins, ",") != wantPlugins {
				t.Errorf("OADP %s %s: plugins %v, want %s", v, mode, plugins, wantPlugins)
			}
			_, hasVSL := spec["snapshotLocations"]
			if hasVSL != (mode == SnapshotsNative) {
				t.Errorf("OADP %s %s: snapshotLocations present=%v", v, mode, hasVSL)
			}
			if got := SnapshotMode(dpa); got != mode {
				t.Errorf("OADP %s %s: SnapshotMode reads back %q", v, mode, got)
			}
		}
	}
}

// --fs-backup turns the node agent on with Kopia, the only uploader STS
// supports, and every version from 1.3 accepts it.
func TestFSBackup(t *testing.T) {
	for _, v := range SupportedOADPVersions[1:] {
		o := opts(v, SnapshotsCSI)
		if FSBackupEnabled(DPA(o.WithDefaults())) {
			t.Errorf("OADP %s: node agent on without --fs-backup", v)
		}
		o.FSBackup = true
		dpa := DPA(o.WithDefaults())
		if err := JudgeSetup(o).Err(); err != nil {
			t.Errorf("OADP %s: %v", v, err)
		}
		if err := ValidateOptions(o, "us-east-2"); err != nil {
			t.Errorf("OADP %s: %v", v, err)
		}
		agent, _, _ := unstructured.NestedMap(dpa.Object, "spec", "configuration", "nodeAgent")
		if agent["enable"] != true || agent["uploaderType"] != "kopia" || !FSBackupEnabled(dpa) {
			t.Errorf("OADP %s: nodeAgent %v, want enabled with kopia", v, agent)
		}
	}
}

// --data-mover turns the node agent on with Kopia next to the CSI plugin,
// which is all OADP's built-in Data Mover needs from 1.3 (OADP docs "About
// the OADP Data Mover"); every version from 1.3 accepts the DPA. 1.2 (whose
// Data Mover was VolSync's) and native snapshots are refused by name.
func TestDataMover(t *testing.T) {
	for _, v := range SupportedOADPVersions[1:] {
		o := opts(v, SnapshotsCSI)
		o.DataMover = true
		dpa := DPA(o.WithDefaults())
		if err := ValidateOptions(o, "us-east-2"); err != nil {
			t.Errorf("OADP %s: %v", v, err)
		}
		agent, _, _ := unstructured.NestedMap(dpa.Object, "spec", "configuration", "nodeAgent")
		plugins, _, _ := unstructured.NestedStringSlice(dpa.Object, "spec", "configuration", "velero", "defaultPlugins")
		if agent["enable"] != true || agent["uploaderType"] != "kopia" || !strings.Contains(strings.Join(plugins, ","), "csi") {
			t.Errorf("OADP %s: nodeAgent %v plugins %v, want the agent with kopia and csi", v, agent, plugins)
		}
		if _, found := dpa.Object["spec"].(map[string]any)["features"]; found {
			t.Errorf("OADP %s: spec.features (the old Data Mover) emitted", v)
		}
	}
	for _, c := range []struct{ version, snapshots, want string }{
		{"1.2", SnapshotsCSI, "--data-mover needs OADP 1.3 or later"},
		{"1.5", SnapshotsNative, "--data-mover moves the data of CSI snapshots: use it with --snapshots=csi"},
	} {
		o := opts(c.version, c.snapshots)
		o.DataMover = true
		if err := ValidateOptions(o, "us-east-2"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OADP %s %s: %v, want %q", c.version, c.snapshots, err, c.want)
		}
	}
}

func TestSnapshotModeOfAHandWrittenDPA(t *testing.T) {
	none := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"configuration": map[string]any{"velero": map[string]any{"defaultPlugins": []any{"openshift", "aws"}}}}}}
	if got := SnapshotMode(none); got != "" {
		t.Errorf("no csi plugin and no snapshot location: %q, want none", got)
	}
}

func TestDPAMatchesTheChapter(t *testing.T) {
	dpa := DPA(opts("1.4", SnapshotsNative).WithDefaults())
	if dpa.GetName() != "prod-dpa" || dpa.GetNamespace() != "openshift-adp" {
		t.Errorf("name %s/%s, want openshift-adp/prod-dpa", dpa.GetNamespace(), dpa.GetName())
	}
	loc := dpa.Object["spec"].(map[string]any)["backupLocations"].([]any)[0].(map[string]any)["bucket"].(map[string]any)
	want := map[string]any{
		"cloudStorageRef": map[string]any{"name": "prod-oadp"},
		"credential":      map[string]any{"name": "cloud-credentials", "key": "credentials"},
		"prefix":          "velero", "default": true,
		"config": map[string]any{"region": "us-east-2"},
	}
	if a, b := mustYAML(t, loc), mustYAML(t, want); a != b {
		t.Errorf("backup location:\n%s\nwant:\n%s", a, b)
	}
	vsl, _, _ := unstructured.NestedStringMap(dpa.Object["spec"].(map[string]any)["snapshotLocations"].([]any)[0].(map[string]any), "velero", "config")
	if vsl["credentialsFile"] != "/tmp/credentials/openshift-adp/cloud-credentials-credentials" || vsl["profile"] != "default" ||
		vsl["enableSharedConfig"] != "true" || vsl["region"] != "us-east-2" {
		t.Errorf("snapshot location config = %v", vsl)
	}
}

// The chapter's own DPAs (section 4.11.1.2) carry spec.features.dataMover, which
// OADP 1.3+ rejects; the CSI-only one also uses restic, which 1.5 rejects.
func TestChaptersDPAIsRejected(t *testing.T) {
	chapterCSI := `
apiVersion: oadp.openshift.io/v1alpha1
kind: DataProtectionApplication
metadata: {name: prod-dpa, namespace: openshift-adp}
spec:
  backupImages: true
  features:
    dataMover:
      enable: false
  backupLocations:
  - bucket:
      cloudStorageRef: {name: prod-oadp}
      credential: {key: credentials, name: cloud-credentials}
      prefix: velero
      default: true
      config: {region: us-east-2}
  configuration:
    velero:
      defaultPlugins: [openshift, aws, csi]
    restic:
      enable: false
`
	var m map[string]any
	if err := yaml.Unmarshal([]byte(chapterCSI), &m); err != nil {
		t.Fatal(err)
	}
	dpa := &unstructured.Unstructured{Object: m}
	if v := judge(dpa, "1.2"); !v.Accepted() {
		t.Errorf("OADP 1.2 accepts the chapter's DPA, got %v", v.Err())
	}
	for _, ver := range []string{"1.3", "1.4", "1.5"} {
		v := judge(dpa, ver)
		if !hasRule(v, "R34") {
			t.Errorf("OADP %s: chapter's dataMover block not rejected: %v", ver, v.Err())
		}
		if ver == "1.5" && !hasRule(v, "R36") {
			t.Errorf("OADP 1.5: restic not rejected: %v", v.Err())
		}
	}
}

// The engine's rules on setup's own DPA, one field broken at a time. Rules
// the old client-side checks had and the operator does not (a region on a
// bucket location, oracle case oadp-1.5-derived-012; Restic on STS, which the
// operator accepts, oadp-1.4-derived-009; a missing uploaderType, which the
// CRD schema refuses, oadp-1.5-admission-106) are gone.
func TestRules(t *testing.T) {
	base := func() *unstructured.Unstructured { return DPA(opts("1.4", SnapshotsNative).WithDefaults()) }
	cases := []struct {
		name   string
		mutate func(spec map[string]any)
		rule   string
	}{
		{"no prefix with images", func(s map[string]any) { delete(loc(s), "prefix") }, "R10"},
		{"no credential", func(s map[string]any) { delete(loc(s), "credential") }, "R13"},
		{"two kinds", func(s map[string]any) {
			s["backupLocations"].([]any)[0].(map[string]any)["velero"] = map[string]any{"provider": "aws"}
		}, "R08"},
		{"no default", func(s map[string]any) { loc(s)["default"] = false }, "R25"},
		{"vsm", func(s map[string]any) { velero(s)["defaultPlugins"] = []any{"openshift", "aws", "vsm"} }, "R35"},
		{"aws twice", func(s map[string]any) { velero(s)["defaultPlugins"] = []any{"aws", "legacy-aws"} }, "R39"},
		{"vsl key", func(s map[string]any) { vslConfig(s)["s3Url"] = "x" }, "R29"},
		{"vsl no aws plugin", func(s map[string]any) { velero(s)["defaultPlugins"] = []any{"openshift"} }, "R30"},
		{"restic and nodeAgent", func(s map[string]any) {
			s["configuration"].(map[string]any)["restic"] = map[string]any{"enable": false}
		}, "R03"},
		{"no default location flag with locations", func(s map[string]any) { velero(s)["noDefaultBackupLocation"] = true }, "R04"},
		{"velero-type location with the STS secret and images", func(s map[string]any) {
			s["backupLocations"] = []any{map[string]any{"velero": map[string]any{
				"provider": "aws", "default": true, "config": map[string]any{"region": "us-east-2"},
				"objectStorage": map[string]any{"bucket": "prod-oadp", "prefix": "velero"},
				"credential":    map[string]any{"name": SecretName, "key": SecretKey},
			}}}
		}, "C01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			tc.mutate(d.Object["spec"].(map[string]any))
			if v := judge(d, "1.4"); !hasRule(v, tc.rule) {
				t.Errorf("want rule %s, got %v", tc.rule, v.Err())
			}
		})
	}
}

// Restic is accepted by the operator; on STS it is a warning with its source.
func TestResticOnSTSIsAWarning(t *testing.T) {
	d := DPA(opts("1.4", SnapshotsCSI).WithDefaults())
	d.Object["spec"].(map[string]any)["configuration"].(map[string]any)["nodeAgent"] = map[string]any{"enable": true, "uploaderType": "restic"}
	v := judge(d, "1.4")
	if !v.Accepted() || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0].Message, "does not support Restic on AWS STS") || v.Warnings[0].Source == "" {
		t.Errorf("want accepted with one sourced Restic warning, got %v, %+v", v.Err(), v.Warnings)
	}
	if v := judge(d, "1.6"); !hasRule(v, "R36b") {
		t.Errorf("OADP 1.6 must reject uploaderType restic, got %v", v.Err())
	}
}

func TestValidateOptions(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"unknown version", func(o *Options) { o.OADPVersion = "1.9" }, `unknown OADP version "1.9": use --oadp-version with one of 1.2, 1.3, 1.4, 1.5`},
		{"bad mode", func(o *Options) { o.Snapshots = "ebs" }, `unknown snapshot mode "ebs"`},
		{"native other region", func(o *Options) { o.Snapshots = SnapshotsNative; o.SnapshotRegion = "eu-west-1" }, `--snapshot-region "eu-west-1" differs from the cluster's region "us-east-2"`},
		{"bucket upper case", func(o *Options) { o.Bucket = "Prod_Backups" }, `bucket name "Prod_Backups" is not valid for S3`},
		{"bucket too short", func(o *Options) { o.Bucket = "ab" }, "3 to 63 characters"},
		{"bucket ip", func(o *Options) { o.Bucket = "192.168.1.1" }, "IP address"},
		{"bucket dots", func(o *Options) { o.Bucket = "a..b" }, "adjacent dots"},
		{"bad quantity", func(o *Options) { o.VeleroRequests = map[string]string{"cpu": "lots"} }, `velero cpu "lots" is not a quantity`},
		{"no region", func(o *Options) { o.Region = "" }, "pass --region"},
		{"file-system backup on 1.2", func(o *Options) { o.OADPVersion = "1.2"; o.FSBackup = true }, "--fs-backup needs OADP 1.3 or later"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := opts("1.4", SnapshotsCSI)
			tc.mutate(&o)
			err := ValidateOptions(o, "us-east-2")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestSecretAndSubscription(t *testing.T) {
	o := opts("1.4", SnapshotsCSI)
	o.InstallOperator, o.SubscriptionRoleARN, o.WriteSecret = true, true, false
	objs := Build(o)
	var kinds []string
	for _, obj := range objs {
		kinds = append(kinds, obj.GetKind())
	}
	if got := strings.Join(kinds, ","); got != "Namespace,OperatorGroup,Subscription,CloudStorage,DataProtectionApplication" {
		t.Errorf("objects %s", got)
	}
	sub := objs[2].Object["spec"].(map[string]any)
	if sub["name"] != "redhat-oadp-operator" || sub["source"] != "redhat-operators" || sub["sourceNamespace"] != "openshift-marketplace" || sub["channel"] != "stable-1.4" {
		t.Errorf("subscription spec %v", sub)
	}
	// Manual approval on STS unless asked otherwise; startingCSV only when known.
	if _, found := sub["startingCSV"]; sub["installPlanApproval"] != "Manual" || found {
		t.Errorf("default approval %v, startingCSV %v; want Manual and none", sub["installPlanApproval"], sub["startingCSV"])
	}
	o.Approval, o.StartingCSV = "Automatic", "oadp-operator.v1.4.5"
	if sub := Subscription(o.WithDefaults()).Object["spec"].(map[string]any); sub["installPlanApproval"] != "Automatic" || sub["startingCSV"] != "oadp-operator.v1.4.5" {
		t.Errorf("subscription spec %v, want Automatic from oadp-operator.v1.4.5", sub)
	}
	env := sub["config"].(map[string]any)["env"].([]any)[0].(map[string]any)
	if env["name"] != "ROLEARN" || env["value"] != o.RoleARN {
		t.Errorf("ROLEARN env %v", env)
	}
	want := "[default]\nrole_arn = " + o.RoleARN + "\nweb_identity_token_file = /var/run/secrets/openshift/serviceaccount/token\nregion = us-east-2\nsts_regional_endpoints = regional\n"
	if got := Secret(o.WithDefaults()).Object["stringData"].(map[string]any)["credentials"]; got != want {
		t.Errorf("credentials:\n%s\nwant:\n%s", got, want)
	}
}

func TestDefaults(t *testing.T) {
	for os, want := range map[string]string{"4.12.3": "1.3", "4.14.0": "1.4", "4.18.9": "1.4", "4.19.1": "1.5", "4.20.0": "1.5", "": "1.4"} {
		if got := DefaultOADPVersion(os); got != want {
			t.Errorf("DefaultOADPVersion(%q) = %s, want %s", os, got, want)
		}
	}
	for v, want := range map[string]string{"1.3": "stable-1.3", "1.4": "stable-1.4", "1.5": "stable"} {
		if got := DefaultChannel(v); got != want {
			t.Errorf("DefaultChannel(%s) = %s, want %s", v, got, want)
		}
	}
}

// judge runs the engine on dpa in place of setup's, beside setup's secret and CloudStorage.
func judge(dpa *unstructured.Unstructured, version string) dparules.Verdict {
	ns := SetupNamespace(opts(version, SnapshotsCSI))
	ns.DPA = dpa
	return dparules.Judge(context.Background(), ns, version, nil)
}

func hasRule(v dparules.Verdict, rule string) bool {
	if v.First != nil && v.First.Rule == rule {
		return true
	}
	for _, f := range v.Later {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func loc(s map[string]any) map[string]any {
	return s["backupLocations"].([]any)[0].(map[string]any)["bucket"].(map[string]any)
}
func velero(s map[string]any) map[string]any {
	return s["configuration"].(map[string]any)["velero"].(map[string]any)
}
func vslConfig(s map[string]any) map[string]any {
	return s["snapshotLocations"].([]any)[0].(map[string]any)["velero"].(map[string]any)["config"].(map[string]any)
}

func mustYAML(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
