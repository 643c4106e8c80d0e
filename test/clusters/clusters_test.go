// Package clusters runs the plugin on the shapes of real clusters: each
// fixture of ../shared/oracle/clusters and of this package's
// testdata/clusters (objects of a real kind of cluster, from public sources,
// with "# EXPECT key: value" lines; the repository's own say in their header
// which oracle fixtures they were made from) is loaded into the
// rig's real kube-apiserver in place of the seeded cluster, its issuer is
// registered in moto in its own partition, and every EXPECT line is asserted
// through the built binary: `status -o json` and `setup --dry-run=client`.
// The fixtures are a sample of a larger set, so the keys are interpreted by
// rule and an unknown key fails.
package clusters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }

// report is the part of `status -o json` the fixtures speak of.
type report struct {
	Ready   bool `json:"ready"`
	Cluster struct {
		Name   string `json:"name"`
		Region string `json:"region"`
	} `json:"cluster"`
	AWS *struct {
		Partition          string `json:"partition"`
		OIDCProviderARN    string `json:"oidcProviderARN"`
		OIDCProviderExists bool   `json:"oidcProviderExists"`
	} `json:"aws"`
	Checks []check `json:"checks"`
}

type check struct {
	Area, Name, Message, Cause, Fix string
	Result                          string
}

func (r *report) check(name string) *check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// run is one run of the binary.
type run struct {
	code           int
	stdout, stderr string
	aws            []rig.AWSRequest
}

// fixtureRun runs the plugin against the rig with an AWS configuration that
// names no region, as on a machine whose ~/.aws/config has none, recording
// every AWS request it makes.
func fixtureRun(t *testing.T, r *rig.Rig, bin string, args ...string) run {
	t.Helper()
	ctx := context.Background()
	stop, err := r.RecordAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range r.Env() {
		if k != "AWS_REGION" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	res := run{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(runErr, &ee):
		res.code = ee.ExitCode()
	case runErr != nil:
		t.Fatalf("run %v: %v", args, runErr)
	}
	if res.aws, err = stop(); err != nil {
		t.Fatal(err)
	}
	return res
}

func status(t *testing.T, r *rig.Rig, bin string) (*report, run) {
	t.Helper()
	res := fixtureRun(t, r, bin, "status", "-o", "json")
	var rep report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("status -o json (exit %d): %v\nstdout: %s\nstderr: %s", res.code, err, res.stdout, res.stderr)
	}
	want := 0
	if !rep.Ready {
		want = 2
	}
	if res.code != want {
		t.Errorf("status exits %d with ready=%v, want %d (README's exit codes)", res.code, rep.Ready, want)
	}
	return &rep, res
}

// objects decodes setup's -o yaml stream.
func objects(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split(stream, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("setup -o yaml: %v\n%s", err, doc)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func kind(objs []map[string]any, k string) *unstructured.Unstructured {
	for _, o := range objs {
		if o["kind"] == k {
			return &unstructured.Unstructured{Object: o}
		}
	}
	return nil
}

// roleARNOf is the role setup hands OADP: the secret's role_arn, else ROLEARN.
func roleARNOf(objs []map[string]any) string {
	if s := kind(objs, "Secret"); s != nil {
		creds, _, _ := unstructured.NestedString(s.Object, "stringData", "credentials")
		if m := regexp.MustCompile(`role_arn = (\S+)`).FindStringSubmatch(creds); m != nil {
			return m[1]
		}
	}
	return subscriptionRoleARN(kind(objs, "Subscription"))
}

func subscriptionRoleARN(sub *unstructured.Unstructured) string {
	if sub == nil {
		return ""
	}
	env, _, _ := unstructured.NestedSlice(sub.Object, "spec", "config", "env")
	for _, e := range env {
		if m, _ := e.(map[string]any); m["name"] == "ROLEARN" {
			return m["value"].(string)
		}
	}
	return ""
}

// shape is what the test itself reads of a fixture's objects, not the plugin.
type shape struct {
	platform, region, issuer string
	okd                      bool
}

func shapeOf(fx *rig.ClusterFixture) shape {
	var s shape
	if infra := fx.Object("Infrastructure"); infra != nil {
		s.platform, _, _ = unstructured.NestedString(infra.Object, "status", "platformStatus", "type")
		s.region, _, _ = unstructured.NestedString(infra.Object, "status", "platformStatus", "aws", "region")
	}
	if cv := fx.Object("ClusterVersion"); cv != nil {
		v, _, _ := unstructured.NestedString(cv.Object, "status", "desired", "version")
		s.okd = strings.Contains(v, "okd")
	}
	if auth := fx.Object("Authentication"); auth != nil {
		s.issuer, _, _ = unstructured.NestedString(auth.Object, "spec", "serviceAccountIssuer")
	}
	return s
}

// credentialsRequestCRD is the rig's STAND-IN for the Cloud Credential
// Operator's CRD (see rig.CredentialsRequestCRD): setup only asks whether
// the API is served, and the standardized-flow fixture's CredentialsRequest
// needs a home.
var credentialsRequestCRD = rig.CredentialsRequestCRD

func TestClusterFixtures(t *testing.T) {
	r := rig.Get(t)
	oracle, err := rig.OracleDir()
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	fixtures, err := rig.ClusterFixtures(oracle)
	if err != nil {
		t.Fatal(err)
	}
	if len(fixtures) == 0 {
		t.Fatalf("no cluster fixtures in %s/clusters", oracle)
	}
	// The repository's own fixtures: shapes the oracle's sample lacks (ROSA
	// HCP on 4.22, OpenShift 5.0), made from its 4.19+ fixtures.
	own, err := rig.ClusterFixtures("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(own) == 0 {
		t.Fatalf("no cluster fixtures in testdata/clusters")
	}
	fixtures = append(fixtures, own...)
	ctx := context.Background()
	// The stand-in CRD serves every fixture: the plugin then sees the
	// credentials API a cluster with a Cloud Credential Operator serves, and
	// must still choose the secret where the cluster's shape says to.
	if err := r.ApplyCRDObjects(ctx, credentialsRequestCRD); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.DeleteObject(ctx, credentialsRequestCRD) })
	fixtures = append(fixtures, derived(t, fixtures)...)
	bin := clitest.Binary(t)
	for _, fx := range fixtures {
		t.Run(fx.Name, func(t *testing.T) { checkFixture(t, r, bin, fx) })
	}
}

// derived are shapes the issue names that the oracle's sample lacks, made
// from a fixture by one change each, with the EXPECT lines the rules give:
// a 4.14 hosted control plane has no CloudCredential (no Cloud Credential
// Operator before HyperShift 4.15), a self-managed cluster whose
// infrastructure name leaves no room in a 64-character role name, and a
// cluster in China.
func derived(t *testing.T, fixtures []*rig.ClusterFixture) []*rig.ClusterFixture {
	t.Helper()
	byName := map[string]*rig.ClusterFixture{}
	for _, fx := range fixtures {
		byName[fx.Name] = fx
	}
	hcp, ccoctl := byName["rosa-hcp"], byName["ocp-aws-sts-ccoctl"]
	if hcp == nil || ccoctl == nil {
		t.Fatalf("the derived shapes need rosa-hcp and ocp-aws-sts-ccoctl")
	}
	var out []*rig.ClusterFixture

	noCC := &rig.ClusterFixture{Name: "derived-rosa-hcp-4.14-no-cloudcredential"}
	for _, o := range hcp.Objects {
		switch o.GetKind() {
		case "CloudCredential":
			continue
		case "ClusterVersion":
			o = o.DeepCopy()
			must(t, unstructured.SetNestedField(o.Object, "4.14.12", "status", "desired", "version"))
			must(t, unstructured.SetNestedSlice(o.Object, []any{map[string]any{"state": "Completed", "version": "4.14.12"}}, "status", "history"))
		}
		noCC.Objects = append(noCC.Objects, o)
	}
	noCC.Expect = []rig.Expectation{{Key: "ready", Value: "true"}, {Key: "credentials", Value: "secret"},
		{Key: "roleName", Value: "my-hcp-openshift-oadp-aws-cloud-credentials"}, {Key: "oadpVersion", Value: "1.4"}}
	out = append(out, noCC)

	long := &rig.ClusterFixture{Name: "derived-ccoctl-long-infrastructure-name"}
	for _, o := range ccoctl.Objects {
		if o.GetKind() == "Infrastructure" {
			o = o.DeepCopy()
			must(t, unstructured.SetNestedField(o.Object, "a-very-long-cluster-name-for-testing-x7k2p", "status", "infrastructureName"))
		}
		long.Objects = append(long.Objects, o)
	}
	long.Expect = []rig.Expectation{{Key: "ready", Value: "true"}, {Key: "region", Value: "us-east-2"}}
	out = append(out, long)

	// China: the GovCloud fixture moved to cn-northwest-1, where ccoctl's
	// S3 issuer ends in amazonaws.com.cn and ARNs are in partition aws-cn.
	gov := byName["ocp-aws-govcloud-sts"]
	if gov == nil {
		t.Fatalf("the China shape needs ocp-aws-govcloud-sts")
	}
	cn := &rig.ClusterFixture{Name: "derived-china-cn-northwest-1"}
	for _, o := range gov.Objects {
		switch o.GetKind() {
		case "Infrastructure":
			o = o.DeepCopy()
			must(t, unstructured.SetNestedField(o.Object, "cn-northwest-1", "status", "platformStatus", "aws", "region"))
		case "Authentication":
			o = o.DeepCopy()
			must(t, unstructured.SetNestedField(o.Object, "https://govclu-oidc.s3.cn-northwest-1.amazonaws.com.cn", "spec", "serviceAccountIssuer"))
		}
		cn.Objects = append(cn.Objects, o)
	}
	cn.Expect = []rig.Expectation{{Key: "ready", Value: "true"}, {Key: "partition", Value: "aws-cn"}, {Key: "awsClientRegionWhenUnset", Value: "cn-northwest-1"},
		{Key: "oidcProviderARN", Value: "arn:aws-cn:iam::123456789012:oidc-provider/govclu-oidc.s3.cn-northwest-1.amazonaws.com.cn"}}
	return append(out, cn)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

//nolint:funlen // one fixture loaded once into the API server, then each EXPECT key asserted on it in turn
func checkFixture(t *testing.T, r *rig.Rig, bin string, fx *rig.ClusterFixture) {
	ctx := context.Background()
	r.Fresh(t)
	if err := r.ReplaceCluster(ctx, fx.Objects); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.RestoreSeed(ctx); err != nil {
			t.Errorf("restore the seeded cluster: %v", err)
		}
	})
	sh := shapeOf(fx)
	// moto names the provider: an ARN the plugin did not make up.
	var providerARN string
	if sh.platform == "AWS" && sh.issuer != "" {
		arn, err := r.CreateOIDCProviderIn(ctx, sh.region, sh.issuer)
		if err != nil {
			t.Fatal(err)
		}
		providerARN = arn
	}

	rep, st := status(t, r, bin)
	setup := fixtureRun(t, r, bin, "setup", "--dry-run=client", "-o", "yaml")

	// Rules every fixture obeys, whatever its EXPECT lines.
	refused := setup.code != 0
	if refused && (setup.code != 1 || !strings.Contains(setup.stderr, "not an AWS STS cluster")) {
		t.Errorf("setup --dry-run=client with no flags exits %d without saying why the cluster is not an AWS STS cluster:\n%s", setup.code, setup.stderr)
	}
	if strings.Contains(setup.stderr, "IAM allows") || strings.Contains(setup.stderr, "is not a valid name") || strings.Contains(setup.stderr, "bucket name") {
		t.Errorf("setup refused a default name:\n%s", setup.stderr)
	}
	if !refused {
		objs := objects(t, setup.stdout)
		role := roleARNOf(objs)
		if name := role[strings.LastIndex(role, "/")+1:]; len(name) > 64 || name == "" {
			t.Errorf("default role %q is not a valid IAM role name", role)
		}
		// The role lives in the caller's partition, as moto told status.
		if rep.AWS != nil && !strings.HasPrefix(role, "arn:"+rep.AWS.Partition+":iam::") {
			t.Errorf("role %s is not in the caller's partition %s", role, rep.AWS.Partition)
		}
		// The default is the bucket setup makes, named in the DPA's velero
		// location; no CloudStorage (that is --cloudstorage's path).
		var b string
		if dpa := kind(objs, "DataProtectionApplication"); dpa == nil {
			t.Errorf("setup printed no DataProtectionApplication:\n%s", setup.stdout)
		} else if locs, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "backupLocations"); len(locs) == 1 {
			b, _, _ = unstructured.NestedString(locs[0].(map[string]any), "velero", "objectStorage", "bucket")
		}
		if kind(objs, "CloudStorage") != nil {
			t.Errorf("a default setup printed a CloudStorage:\n%s", setup.stdout)
		}
		if len(b) > 63 || !regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`).MatchString(b) {
			t.Errorf("default bucket %q is not a valid S3 bucket name", b)
		}
	}
	// OKD (read here from its version string) has no redhat-operators
	// catalog: the operator comes from the community package.
	if !refused {
		res := fixtureRun(t, r, bin, "setup", "--dry-run=client", "-o", "yaml", "--install-operator=true")
		pkg, source := "redhat-oadp-operator", "redhat-operators"
		if sh.okd {
			pkg, source = "oadp-operator", "community-operators"
		}
		if sub := kind(objects(t, res.stdout), "Subscription"); sub == nil {
			t.Errorf("no Subscription with --install-operator=true:\n%s", res.stderr)
		} else if n, _, _ := unstructured.NestedString(sub.Object, "spec", "name"); n != pkg || sub.GetName() != pkg {
			t.Errorf("subscription %s to package %s, want %s", sub.GetName(), n, pkg)
		} else if src, _, _ := unstructured.NestedString(sub.Object, "spec", "source"); src != source {
			t.Errorf("package %s from catalog %s, want %s", n, src, source)
		}
	}
	for _, res := range []run{st, setup} {
		for _, a := range res.aws {
			switch {
			case sh.platform != "AWS":
				t.Errorf("an AWS call (%s) on a %s cluster", a.Action, sh.platform)
			case a.Region != sh.region:
				t.Errorf("%s signed for %s, but the AWS config names no region and the cluster is in %s", a.Action, a.Region, sh.region)
			}
		}
	}

	for _, e := range fx.Expect {
		switch e.Key {
		case "ready":
			expectReady(t, rep, setup, e.Value)
		case "region":
			if rep.Cluster.Region != e.Value {
				t.Errorf("region %q, want %q", rep.Cluster.Region, e.Value)
			}
		case "partition":
			if rep.AWS == nil || rep.AWS.Partition != e.Value {
				t.Errorf("partition %+v, want %q", rep.AWS, e.Value)
			}
		case "oidcProviderARN":
			expectProvider(t, r, bin, rep, sh, providerARN, e.Value)
		case "roleName":
			// "(or an explicit request for --cluster-name)": the fixture
			// allows asking, but the plugin never fails a default name, so
			// the name itself is required.
			want, _, _ := strings.Cut(e.Value, " (or")
			if refused {
				t.Errorf("setup refused, want role %s:\n%s", want, setup.stderr)
			} else if role := roleARNOf(objects(t, setup.stdout)); !strings.HasSuffix(role, ":role/"+want) {
				t.Errorf("setup hands OADP role %q, want role name %s", role, want)
			}
			if c := rep.check("iam role"); c == nil || !strings.Contains(c.Message, want) {
				t.Errorf("status checks role %+v, want %s", c, want)
			}
		case "oadpVersion":
			expectOADPVersion(t, r, bin, setup, e.Value)
		case "dpaAccepted":
			expectDPAAccepted(t, setup, fx, e.Value)
		case "fsBackupUploader":
			expectFSBackupUploader(t, r, bin, fx, e.Value)
		case "credentials":
			expectCredentials(t, r, bin, e.Value)
		case "secretCheckAfterSetup":
			expectSecretAfterSetup(t, r, bin, fx, e.Value)
		case "reason":
			expectReason(t, rep, setup, e.Value)
		case "awsClientRegionWhenUnset":
			if len(st.aws) == 0 {
				t.Errorf("status made no AWS call to witness its region")
			}
			for _, a := range append(st.aws, setup.aws...) {
				if a.Region != e.Value {
					t.Errorf("%s signed for %q, want %s", a.Action, a.Region, e.Value)
				}
			}
		default:
			t.Errorf("unknown EXPECT key %q (value %q): teach this test what it means", e.Key, e.Value)
		}
	}
}

func expectReady(t *testing.T, rep *report, setup run, v string) {
	t.Helper()
	switch {
	case v == "true" || v == "false":
		if want := v == "true"; rep.Ready != want {
			t.Errorf("ready %v, want %v; failed: %+v", rep.Ready, want, failed(rep))
		}
		if want := v == "true"; (setup.code == 0) != want {
			t.Errorf("setup --dry-run=client exits %d on a cluster that is ready=%s:\n%s", setup.code, v, setup.stderr)
		}
	case strings.HasPrefix(v, "needs-decision"):
		// "not silently ready with mismatched names": either not ready, or
		// ready with a check that says what was decided. The names are
		// asserted by the oidcProviderARN line.
		if rep.Ready {
			said := false
			for _, c := range rep.Checks {
				said = said || c.Result == "warning" && (c.Area == "cluster" || c.Area == "aws")
			}
			if !said {
				t.Errorf("ready with no warning on the cluster or AWS: silently ready")
			}
		}
	default:
		t.Errorf("unknown ready value %q", v)
	}
}

func failed(rep *report) []check {
	var out []check
	for _, c := range rep.Checks {
		if c.Result == "failed" {
			out = append(out, c)
		}
	}
	return out
}

func expectProvider(t *testing.T, r *rig.Rig, bin string, rep *report, sh shape, motoARN, v string) {
	t.Helper()
	if rep.AWS == nil {
		t.Fatalf("status reports no AWS facts")
	}
	switch {
	case strings.HasPrefix(v, "arn:"):
		if rep.AWS.OIDCProviderARN != v || motoARN != v || !rep.AWS.OIDCProviderExists {
			t.Errorf("provider %q (exists %v), moto made %q; want %q", rep.AWS.OIDCProviderARN, rep.AWS.OIDCProviderExists, motoARN, v)
		}
	case v == "consistent with the hint it prints":
		// Without the provider it looks up, status prints a hint; the
		// provider the hint creates, as moto names it, must be the one status
		// looks up, and once it exists status must find it.
		ctx := context.Background()
		missing := rep
		if c := rep.check("oidc provider"); c == nil || c.Result != "failed" {
			if err := r.DeleteOIDCProviderIn(ctx, sh.region, rep.AWS.OIDCProviderARN); err != nil {
				t.Fatal(err)
			}
			missing, _ = status(t, r, bin)
		}
		c := missing.check("oidc provider")
		if c == nil || c.Result != "failed" {
			t.Fatalf("no failed oidc provider check without the provider: %+v", c)
		}
		m := regexp.MustCompile(`--url (\S+)`).FindStringSubmatch(c.Fix)
		if m == nil {
			t.Fatalf("the oidc provider fix names no --url: %s", c.Fix)
		}
		hinted, err := r.CreateOIDCProviderIn(ctx, sh.region, m[1])
		if err != nil {
			t.Fatal(err)
		}
		if hinted != missing.AWS.OIDCProviderARN || !strings.Contains(c.Message, hinted) {
			t.Errorf("status checks %q (%s), but its hint --url %s creates %q", missing.AWS.OIDCProviderARN, c.Message, m[1], hinted)
		}
		found, _ := status(t, r, bin)
		if fc := found.check("oidc provider"); fc == nil || fc.Result != "ok" || found.AWS.OIDCProviderARN != hinted {
			t.Errorf("after creating the hinted provider %s, status says %+v", hinted, fc)
		}
	default:
		t.Errorf("unknown oidcProviderARN value %q", v)
	}
}

// expectOADPVersion: setup says which version it writes the DPA for, and the
// Subscription it would make follows the version's channel rule (stable-1.x
// up to 1.4, stable from 1.5).
func expectOADPVersion(t *testing.T, r *rig.Rig, bin string, setup run, v string) {
	t.Helper()
	if !strings.Contains(setup.stderr, "oadp version "+v+":") {
		t.Errorf("setup does not say it writes for OADP %s:\n%s", v, setup.stderr)
	}
	res := fixtureRun(t, r, bin, "setup", "--dry-run=client", "-o", "yaml", "--install-operator=true")
	sub := kind(objects(t, res.stdout), "Subscription")
	if sub == nil {
		t.Fatalf("no Subscription with --install-operator=true:\n%s", res.stderr)
	}
	channel, _, _ := unstructured.NestedString(sub.Object, "spec", "channel")
	want := "stable-" + v
	if v >= "1.5" { // one-digit minors: a string comparison is enough here
		want = "stable"
	}
	if channel != want {
		t.Errorf("OADP %s on channel %q, want %q", v, channel, want)
	}
	schemaCheck(t, r, v, objects(t, res.stdout))
}

// schemaCheck has the API server validate setup's CloudStorage (when it
// writes one) and DPA
// (dry run, strict field validation) against the OADP CRDs of version v. 1.6
// ships no CRD fixture: its DPA is shaped as 1.5's, so the 1.5 CRDs serve as
// its schema here. 1.2 has no fixture either and is not checked.
func schemaCheck(t *testing.T, r *rig.Rig, v string, objs []map[string]any) {
	t.Helper()
	dir := map[string]string{"1.3": "oadp-1.3", "1.4": "oadp-1.4", "1.5": "oadp-1.5", "1.6": "oadp-1.5"}[v]
	if dir == "" {
		t.Logf("OADP %s: no CRD fixture, the DPA's schema is not checked", v)
		return
	}
	ctx := context.Background()
	files, err := rig.OADPCRDFiles(dir)
	must(t, err)
	must(t, r.ApplyCRDFiles(ctx, files...))
	t.Cleanup(func() {
		back, err := rig.OADPCRDFiles(rig.DefaultOADPCRDs)
		if err == nil {
			err = r.ApplyCRDFiles(ctx, back...)
		}
		if err != nil {
			t.Errorf("restore the %s CRDs: %v", rig.DefaultOADPCRDs, err)
		}
	})
	ns := kind(objs, "Namespace")
	if ns == nil {
		t.Fatalf("setup printed no Namespace")
	}
	must(t, r.ApplyObject(ctx, ns))
	for _, k := range []string{"CloudStorage", "DataProtectionApplication"} {
		o := kind(objs, k)
		if o == nil && k == "CloudStorage" {
			continue // the default: the bucket setup makes, no CloudStorage
		}
		if o == nil {
			t.Errorf("setup printed no %s", k)
			continue
		}
		res := gvr.DPA
		if k == "CloudStorage" {
			res = gvr.CloudStorage
		}
		if _, err := r.Dynamic.Resource(res).Namespace(o.GetNamespace()).Create(ctx, o,
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
			t.Errorf("the API server refuses setup's %s for OADP %s (%s CRDs): %v", k, v, dir, err)
		}
	}
}

// expectCredentials: with the operator to install (the rig serves OADP's
// CRDs, which setup reads as installed, so --install-operator=true stands in
// for a cluster without OADP), who writes the secret.
func expectCredentials(t *testing.T, r *rig.Rig, bin, v string) {
	t.Helper()
	res := fixtureRun(t, r, bin, "setup", "--dry-run=client", "-o", "yaml", "--install-operator=true")
	if res.code != 0 {
		t.Fatalf("setup --install-operator=true exits %d:\n%s", res.code, res.stderr)
	}
	objs := objects(t, res.stdout)
	rolearn, secret := subscriptionRoleARN(kind(objs, "Subscription")), kind(objs, "Secret")
	switch v {
	case "subscription":
		if rolearn == "" || secret != nil {
			t.Errorf("ROLEARN %q, secret written %v; want ROLEARN and no secret", rolearn, secret != nil)
		}
	case "secret":
		if rolearn != "" || secret == nil {
			t.Errorf("ROLEARN %q, secret written %v; want the plugin's secret and no ROLEARN", rolearn, secret != nil)
		}
	default:
		t.Errorf("unknown credentials value %q", v)
	}
}

// expectSecretAfterSetup loads what the flow leaves in the cluster (the
// fixture's flow-objects: Subscription with ROLEARN, the CCO's secret, ...)
// and reads status's verdict on the secret.
func expectSecretAfterSetup(t *testing.T, r *rig.Rig, bin string, fx *rig.ClusterFixture, v string) {
	t.Helper()
	if fx.Flow == nil {
		t.Fatalf("secretCheckAfterSetup without a flow-objects file")
	}
	ctx := context.Background()
	for _, ns := range namespacesOf(fx.Flow) {
		if err := r.ApplyObject(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range fx.Flow {
		if err := r.ApplyObject(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.DeleteObject(ctx, o) })
	}
	rep, _ := status(t, r, bin)
	c := rep.check("credentials secret")
	if c == nil || c.Result != v {
		t.Errorf("credentials secret after the flow: %+v, want %s", c, v)
	}
}

func namespacesOf(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	seen := map[string]bool{}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}})
		}
	}
	return out
}

// expectReason: each "; "-separated clause names a failed check, and setup's
// refusal says the same.
func expectReason(t *testing.T, rep *report, setup run, v string) {
	t.Helper()
	if rep.Ready {
		t.Errorf("ready, but the fixture says not: %s", v)
	}
	for _, clause := range strings.Split(v, ";") {
		clause = strings.TrimSpace(clause)
		var name, words string
		switch {
		case strings.HasPrefix(clause, "platform "):
			name, words = "platform", strings.TrimPrefix(clause, "platform ")
		case clause == "no serviceAccountIssuer":
			name, words = "oidc issuer", "serviceAccountIssuer"
		case strings.HasPrefix(clause, "credentialsMode "):
			// "credentialsMode default (\"\")" or "credentialsMode Mint".
			name, words = "credentials mode", strings.TrimPrefix(clause, "credentialsMode ")
		default:
			t.Errorf("unknown reason clause %q: teach this test what it means", clause)
			continue
		}
		c := rep.check(name)
		if c == nil || c.Result != "failed" || !strings.Contains(c.Message+" "+c.Cause, words) {
			t.Errorf("reason %q: check %s is %+v, want failed naming %q", clause, name, c, words)
		}
		if !strings.Contains(setup.stderr, words) {
			t.Errorf("reason %q: setup's refusal does not name %q:\n%s", clause, words, setup.stderr)
		}
	}
}

// fixtureOADPVersion is the fixture's own oadpVersion line: the version a
// DPA is judged for.
func fixtureOADPVersion(t *testing.T, fx *rig.ClusterFixture) string {
	t.Helper()
	for _, e := range fx.Expect {
		if e.Key == "oadpVersion" {
			return e.Value
		}
	}
	t.Fatalf("%s: dpaAccepted and fsBackupUploader need an oadpVersion line", fx.Name)
	return ""
}

// judge is the engine's verdict on the DPA of setup's -o yaml, in the
// namespace setup leaves: its CloudStorage (with --cloudstorage; by default
// the DPA's velero location names the bucket setup makes), and the
// credentials secret it writes or, in the ROLEARN flow, the Cloud Credential
// Operator's (the same web-identity profile, docs/oadp-api-facts.md §2.3).
func judge(t *testing.T, objs []map[string]any, version string) dparules.Verdict {
	t.Helper()
	dpa, cs := kind(objs, "DataProtectionApplication"), kind(objs, "CloudStorage")
	if dpa == nil {
		t.Fatalf("setup printed no DPA")
	}
	ns := dparules.Namespace{DPA: dpa}
	var region string
	if cs != nil {
		region, _, _ = unstructured.NestedString(cs.Object, "spec", "region")
		ns.CloudStorages = map[string]*unstructured.Unstructured{cs.GetName(): cs}
	} else {
		locs, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "backupLocations")
		for _, l := range locs {
			if r, _, _ := unstructured.NestedString(l.(map[string]any), "velero", "config", "region"); r != "" {
				region = r
			}
		}
		if region == "" {
			t.Fatalf("setup's DPA has neither a CloudStorage nor a velero location with a region")
		}
	}
	ns.Secrets = map[string]map[string][]byte{manifests.SecretName: {manifests.SecretKey: []byte(manifests.CredentialsFile(roleARNOf(objs), region))}}
	return dparules.Judge(context.Background(), ns, version, nil)
}

// expectDPAAccepted: the DPA setup writes for the fixture's version is one
// the operator's rules accept (and the API server's schema: schemaCheck).
func expectDPAAccepted(t *testing.T, setup run, fx *rig.ClusterFixture, v string) {
	t.Helper()
	if v != "true" {
		t.Fatalf("unknown dpaAccepted value %q", v)
	}
	if setup.code != 0 {
		t.Fatalf("setup --dry-run=client exits %d:\n%s", setup.code, setup.stderr)
	}
	version := fixtureOADPVersion(t, fx)
	if vd := judge(t, objects(t, setup.stdout), version); !vd.Accepted() {
		t.Errorf("the engine rejects setup's DPA for OADP %s: %v", version, vd.Err())
	}
}

// expectFSBackupUploader: with --fs-backup, and with --data-mover (the
// node agent of the built-in Data Mover), for the fixture's version, the
// node agent runs with the named uploader, the word restic appears nowhere
// in what setup writes (OADP 1.6 refuses it), and the engine and the API
// server accept the DPA.
func expectFSBackupUploader(t *testing.T, r *rig.Rig, bin string, fx *rig.ClusterFixture, v string) {
	t.Helper()
	version := fixtureOADPVersion(t, fx)
	for _, flag := range []string{"--fs-backup", "--data-mover"} {
		res := fixtureRun(t, r, bin, "setup", "--dry-run=client", "-o", "yaml", "--oadp-version", version, flag)
		if res.code != 0 {
			t.Fatalf("setup --oadp-version %s %s exits %d:\n%s", version, flag, res.code, res.stderr)
		}
		if strings.Contains(strings.ToLower(res.stdout), "restic") {
			t.Errorf("setup --oadp-version %s %s writes restic:\n%s", version, flag, res.stdout)
		}
		objs := objects(t, res.stdout)
		dpa := kind(objs, "DataProtectionApplication")
		if dpa == nil {
			t.Fatalf("setup printed no DPA")
		}
		on, _, _ := unstructured.NestedBool(dpa.Object, "spec", "configuration", "nodeAgent", "enable")
		uploader, _, _ := unstructured.NestedString(dpa.Object, "spec", "configuration", "nodeAgent", "uploaderType")
		if !on || uploader != v {
			t.Errorf("%s: node agent enable=%v uploaderType %q, want enabled with %s", flag, on, uploader, v)
		}
		if vd := judge(t, objs, version); !vd.Accepted() {
			t.Errorf("the engine rejects setup's %s DPA for OADP %s: %v", flag, version, vd.Err())
		}
		schemaCheck(t, r, version, objs)
	}
}
