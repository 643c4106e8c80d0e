package setup_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/acm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// printedSubscription is the Subscription in setup's -o yaml stream.
func printedSubscription(t *testing.T, out string) map[string]any {
	t.Helper()
	for _, doc := range strings.Split(out, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("setup -o yaml: %v\n%s", err, doc)
		}
		if m["kind"] == "Subscription" {
			spec, _ := m["spec"].(map[string]any)
			return spec
		}
	}
	t.Fatalf("no Subscription in:\n%s", out)
	return nil
}

// On an ACM hub with cluster-backup on STS, setup -n
// open-cluster-management-backup takes the Subscription's channel, source
// and env from the ConfigMap ACM's chart leaves there (its keys as the chart
// writes them), a flag winning over it; without the ConfigMap it says so and
// uses its defaults. OLM is the rig's STAND-IN (rig.StandInOLM): it serves
// the PackageManifest setup picks the startingCSV from, and installs the
// operator's CRDs once setup approves the plan. status in that namespace
// then checks the chain there.
//
//nolint:funlen // one hub: absent, present, a flag over it, the install, then status, each on what the step before left
func TestSetupOnACMHub(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := acm.BackupNamespace
	if _, err := r.Kube.CoreV1().Namespaces().Create(ctx, nsObject(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	files := deleteOADPCRDs(t, r)

	// Without the ConfigMap: one line on where it normally comes from, and
	// the defaults.
	res := clitest.Run(t, "setup", "--dry-run=client", "-o", "yaml", "-n", ns)
	if res.Code != 0 || !strings.Contains(res.Stderr, acm.AbsentLine(ns)) {
		t.Fatalf("exit %d; want 0 and %q:\n%s", res.Code, acm.AbsentLine(ns), res.Stderr)
	}
	if spec := printedSubscription(t, res.Stdout); spec["config"] != nil || spec["source"] != manifests.DefaultCatalogSource {
		t.Errorf("without the ConfigMap the Subscription is not setup's default: %v", spec)
	}

	proxy := "http://user:hunter2@proxy.example.com:3128"
	_, err := r.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: acm.HintName},
		Data: map[string]string{"channel": "stable-1.4", "name": manifests.PackageName, "source": "redhat-operators",
			"sourceNamespace": "openshift-marketplace", "olmVersion": "v0", "env_HTTP_PROXY": proxy, "env_HTTPS_PROXY": proxy, "env_NO_PROXY": ".cluster.local"}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	where := ns + "/" + acm.HintName

	// A flag wins over the ConfigMap, and setup says over what.
	res = clitest.Run(t, "setup", "--dry-run=client", "-o", "yaml", "-n", ns, "--channel", "stable", "--oadp-version", "1.5")
	if res.Code != 0 || !strings.Contains(res.Stderr, "--channel stable (the configmap says stable-1.4)") {
		t.Errorf("exit %d; want 0 and --channel over the ConfigMap:\n%s", res.Code, res.Stderr)
	}
	if spec := printedSubscription(t, res.Stdout); spec["channel"] != "stable" || spec["source"] != "redhat-operators" {
		t.Errorf("--channel stable with the ConfigMap: %v", spec)
	}

	const v145 = "oadp-operator.v1.4.5"
	standIn := &rig.StandInOLM{Rig: r, Namespace: ns, Package: manifests.PackageName, CRDFiles: files,
		Channels: map[string][]string{"stable-1.4": {"oadp-operator.v1.4.4", v145}, "stable": {"oadp-operator.v1.5.3"}}}
	if err := standIn.Start(ctx, t.Errorf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := standIn.Remove(context.Background()); err != nil {
			t.Error(err)
		}
	})
	res = clitest.Run(t, "setup", "--yes", "--wait=false", "--timeout", "30s", "-n", ns)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	for _, want := range []string{
		"from configmap " + where + " (left by ACM's cluster-backup chart): channel stable-1.4",
		"env HTTPS_PROXY, HTTP_PROXY, NO_PROXY",
		"oadp version 1.4: the version of channel stable-1.4 in configmap " + where,
		"starting CSV " + v145,
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if strings.Contains(res.Stderr+res.Stdout, "hunter2") {
		t.Errorf("setup printed the proxy's password:\n%s", res.Stderr)
	}
	sub, err := r.Dynamic.Resource(gvr.Subscription).Namespace(ns).Get(ctx, manifests.PackageName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	channel, _, _ := unstructured.NestedString(sub.Object, "spec", "channel")
	start, _, _ := unstructured.NestedString(sub.Object, "spec", "startingCSV")
	env, _, _ := unstructured.NestedSlice(sub.Object, "spec", "config", "env")
	gotEnv := map[string]any{}
	for _, e := range env {
		m, _ := e.(map[string]any)
		gotEnv[m["name"].(string)] = m["value"]
	}
	if channel != "stable-1.4" || start != v145 || gotEnv["HTTP_PROXY"] != proxy || gotEnv["NO_PROXY"] != ".cluster.local" {
		t.Errorf("subscription channel %q startingCSV %q env %v; want the ConfigMap's", channel, start, gotEnv)
	}
	if _, err := r.Dynamic.Resource(gvr.DPA).Namespace(ns).Get(ctx, dpaName, metav1.GetOptions{}); err != nil {
		t.Errorf("no DPA in %s: %v", ns, err)
	}

	// The stand-in OLM installs the CSV a moment after the Subscription
	// (--wait=false did not wait for it): status's operator check needs it.
	succeeded := func(o *unstructured.Unstructured) (bool, error) {
		phase, _, _ := unstructured.NestedString(o.Object, "status", "phase")
		return phase == "Succeeded", nil
	}
	if _, err := wait.For(ctx, r.Dynamic.Resource(gvr.CSV).Namespace(ns), v145, succeeded, wait.Options{What: "the stand-in OLM's CSV", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}

	// status in the hub's namespace finds setup's role and objects there,
	// and checks the trust for that namespace's service accounts.
	st := clitest.Run(t, "status", "-o", "json", "-n", ns)
	var rep struct {
		Namespace string
		Checks    []struct{ Name, Result, Message, Cause string }
	}
	if err := json.Unmarshal([]byte(st.Stdout), &rep); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, st.Stderr)
	}
	results := map[string]string{}
	for _, c := range rep.Checks {
		results[c.Name] = c.Result + ": " + c.Message + " " + c.Cause
	}
	for name, want := range map[string]string{
		"iam role":       "ok: arn:aws:iam::" + rig.AWSAccount + ":role/" + rig.InfraName + "-openshift-oadp-aws-cloud-credentials",
		"trust subjects": "ok: system:serviceaccount:" + ns + ":openshift-adp-controller-manager",
		"operator":       "ok",
	} {
		if !strings.HasPrefix(results[name], want) {
			t.Errorf("status check %q: %q; want it to start %q", name, results[name], want)
		}
	}
	if rep.Namespace != ns {
		t.Errorf("status checked namespace %q, want %s", rep.Namespace, ns)
	}

	// Once OADP is installed, a rerun makes no Subscription choice.
	res = clitest.Run(t, "setup", "--yes", "--wait=false", "-n", ns)
	if res.Code != 0 || !strings.Contains(res.Stderr, "configmap "+where+" not used: OADP is installed already") {
		t.Errorf("rerun: exit %d:\n%s", res.Code, res.Stderr)
	}
}

// A client dry run with every fact given reads nothing, the hint included,
// and says so when the Subscription it prints would have taken the hint's
// channel.
func TestSetupOnACMHubOffline(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	facts := []string{"setup", "--dry-run=client", "-n", acm.BackupNamespace, "--cluster-name", "hub", "--cluster-id", "id-1", "--openshift-version", "4.16.8",
		"--oidc-issuer", "https://oidc.example.com/hub", "--account-id", "210987654321", "--region", "us-east-2", "--oadp-version", "1.4", "--credentials=secret"}
	res := clitest.Run(t, append(facts, "--install-operator=true")...)
	if res.Code != 0 || !strings.Contains(res.Stderr, "configmap "+acm.BackupNamespace+"/"+acm.HintName+" not read") {
		t.Errorf("exit %d; want 0 and the hint not read:\n%s", res.Code, res.Stderr)
	}
	res = clitest.Run(t, append(facts, "--install-operator=false")...)
	if res.Code != 0 || strings.Contains(res.Stderr, acm.HintName) {
		t.Errorf("exit %d; without a Subscription the hint is not mentioned:\n%s", res.Code, res.Stderr)
	}
}
