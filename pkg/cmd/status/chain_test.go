package status_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/faults"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

var (
	dpaName  = rig.InfraName + "-dpa"
	bslName  = manifests.BSLName(dpaName)
	bucket   = rig.InfraName + "-oadp"
	roleName = iam.DefaultRoleName(rig.InfraName)
	roleARN  = "arn:aws:iam::" + rig.AWSAccount + ":role/" + roleName
)

// setUpChain runs setup in ns and plays what the cluster does after it: OLM's
// Succeeded CSV, the operator's Reconciled condition and bucket, Velero's
// Available location, the velero service account, one finished backup and
// restore.
func setUpChain(t *testing.T, r *rig.Rig, ns string) {
	t.Helper()
	ctx := context.Background()
	if res := clitest.Run(t, "setup", "--yes", "--wait=false", "--cloudstorage", "-n", ns); res.Code != 0 {
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
	setReconciled(t, r, ns, "True", "Complete", "Reconcile complete")
	setBSL(t, r, ns, "Available", "")
	createBucket(t, r, rig.Region)
	if _, err := r.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "velero"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, kind := range []string{"Backup", "Restore"} {
		o := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "velero.io/v1", "kind": kind,
			"metadata": map[string]any{"name": "hello-world", "namespace": ns},
			"spec":     map[string]any{},
		}}
		if kind == "Restore" {
			o.Object["spec"] = map[string]any{"backupName": "hello-world"}
		}
		mustApply(t, r, o)
		o.Object["status"] = map[string]any{"phase": "Completed",
			"startTimestamp": now.Add(-time.Minute).Format(time.RFC3339), "completionTimestamp": now.Format(time.RFC3339)}
		mustApplyStatus(t, r, o)
	}
}

func mustApply(t *testing.T, r *rig.Rig, o *unstructured.Unstructured) {
	t.Helper()
	if err := r.Apply(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func mustApplyStatus(t *testing.T, r *rig.Rig, o *unstructured.Unstructured) {
	t.Helper()
	if err := r.ApplyStatus(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func setReconciled(t *testing.T, r *rig.Rig, ns, status, reason, msg string) {
	t.Helper()
	mustApplyStatus(t, r, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "oadp.openshift.io/v1alpha1", "kind": "DataProtectionApplication",
		"metadata": map[string]any{"name": dpaName, "namespace": ns},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Reconciled", "status": status, "reason": reason, "message": msg,
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}},
	}})
}

// setBSL is the location the operator makes from the DPA, with Velero's status.
func setBSL(t *testing.T, r *rig.Rig, ns, phase, msg string) {
	t.Helper()
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": bslName, "namespace": ns},
		"spec": map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": bucket, "prefix": "velero"}, "default": true,
			"credential": map[string]any{"name": manifests.SecretName, "key": manifests.SecretKey},
			"config":     map[string]any{"region": rig.Region, "enableSharedConfig": "true"}},
	}}
	mustApply(t, r, bsl)
	bsl.Object["status"] = map[string]any{"phase": phase, "message": msg, "lastValidationTime": time.Now().UTC().Format(time.RFC3339)}
	mustApplyStatus(t, r, bsl)
}

// createBucket makes the CloudStorage's bucket in region, as the operator would.
func createBucket(t *testing.T, r *rig.Rig, region string) {
	t.Helper()
	cfg := r.AWSConfig()
	cfg.Region = region
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := c.CreateBucket(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// onlyFailed asserts that check name, and no other, failed, with cause and fix.
func onlyFailed(t *testing.T, rep report, name, wantCause, wantFix string, also ...string) {
	t.Helper()
	result, cause, fix := check(t, rep, name)
	if result != "failed" || !strings.Contains(cause, wantCause) || !strings.Contains(fix, wantFix) {
		t.Errorf("check %q = %s\n cause %q\n fix   %q\nwant failed with cause %q and fix %q", name, result, cause, fix, wantCause, wantFix)
	}
	for _, c := range rep.Checks {
		if c.Result == "failed" && c.Name != name && !slices.Contains(also, c.Name) {
			t.Errorf("check %q failed too (%s); only %q is broken", c.Name, c.Cause, name)
		}
	}
}

// After setup, with the operator and Velero played, every link holds.
func TestStatusAfterSetupEveryCheckOK(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ns := "status-ok"
	setUpChain(t, r, ns)

	rep, res := statusJSON(t, "-n", ns, "--assume-role")
	if res.Code != 0 || !rep.Ready {
		t.Fatalf("exit %d, ready %v; want 0 and ready", res.Code, rep.Ready)
	}
	// The secret flow leaves the Subscription's ROLEARN unused.
	notApplicable := []string{"subscription ROLEARN"}
	want := []string{"platform", "oidc issuer", "credentials mode", "aws identity", "oidc provider",
		"iam role", "trust issuer", "trust subjects", "trust audience", "policy attached", "policy actions", "role tags", "shared issuer",
		"credentials secret", "operator", "dpa reconciled", "dpa rules",
		"storage location " + bslName, "volume snapshots", "bucket " + bucket, "recent backups", "recent restores", "assume role"}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		switch {
		case slices.Contains(notApplicable, c.Name):
			if c.Result != "skipped" {
				t.Errorf("check %q = %s, want skipped", c.Name, c.Result)
			}
		case c.Result != "ok":
			t.Errorf("check %q = %s: %s (cause %q)", c.Name, c.Result, c.Name, c.Cause)
		}
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no check %q in %v", w, names)
		}
	}

	human := clitest.Run(t, "status", "-n", ns)
	for _, w := range []string{"IAM role and policy", "ok       trust subjects: system:serviceaccount:" + ns + ":openshift-adp-controller-manager",
		"ok       bucket " + bucket + ": in " + rig.Region, "Recent backups:", "hello-world", "Ready: back up with"} {
		if !strings.Contains(human.Stdout, w) {
			t.Errorf("human output lacks %q", w)
		}
	}
}

// Storage that does not fit the DPA's snapshot mode is a warning with the
// fix: backups still run, only those volumes go without snapshots.
func TestStatusWarnsWhenSnapshotsDoNotFit(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "status-vsc"
	setUpChain(t, r, ns)
	vscs := r.Dynamic.Resource(gvr.VolumeSnapshotClass)
	// Fresh seeds it again when the test ends.
	if err := vscs.Delete(ctx, "csi-aws-vsc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, res := statusJSON(t, "-n", ns)
	if res.Code != 0 || !rep.Ready {
		t.Errorf("exit %d, ready %v; a warning must not fail status", res.Code, rep.Ready)
	}
	result, cause, fix := check(t, rep, "volume snapshots")
	if result != "warning" || !strings.Contains(cause, "no VolumeSnapshotClass for CSI driver ebs.csi.aws.com") ||
		!strings.Contains(fix, "labelled velero.io/csi-volumesnapshot-class=true") {
		t.Errorf("volume snapshots = %s\n cause %q\n fix %q", result, cause, fix)
	}
	for _, c := range rep.Checks {
		if c.Result == "failed" {
			t.Errorf("check %q failed (%s); only the snapshot class is missing", c.Name, c.Cause)
		}
	}
}

// Each breakage fails its own check, with its fix, and nothing else.
//
//nolint:funlen // the table of breakages is the test: one case a breakage, on one rig
func TestStatusDetectsEachBreakage(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	ctx := context.Background()
	trust := func(ns string, edit func(d *iam.Document)) {
		d := iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, ns)
		edit(&d)
		if _, err := r.IAM().UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName), PolicyDocument: aws.String(d.JSON())}); err != nil {
			t.Fatal(err)
		}
	}
	secret := func(ns string, data map[string][]byte) {
		s, err := r.Kube.CoreV1().Secrets(ns).Get(ctx, manifests.SecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Data = data
		if _, err := r.Kube.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	policyARN := iam.PolicyARN("aws", rig.AWSAccount, iam.DefaultPolicyName)
	cases := []struct {
		name, check, cause, fix string
		breakIt                 func(ns string)
		// alsoFailed are the other checks the breakage rightly fails.
		alsoFailed []string
	}{
		{name: "trust subject changed", check: "trust subjects", cause: "missing system:serviceaccount:status-break-a:velero; unexpected system:serviceaccount:status-break-a:velero-old",
			fix: "aws iam update-assume-role-policy --role-name " + roleName,
			breakIt: func(ns string) {
				trust(ns, func(d *iam.Document) {
					d.Statement[0].Condition["StringEquals"][rig.IssuerHost+":sub"] = []string{
						"system:serviceaccount:" + ns + ":openshift-adp-controller-manager", "system:serviceaccount:" + ns + ":velero-old"}
				})
			}},
		{name: "trust issuer changed", check: "trust issuer", cause: "the role trusts arn:aws:iam::" + rig.AWSAccount + ":oidc-provider/old-oidc.example.com/cluster, not this cluster's OIDC provider",
			fix: "kubectl oadp-sts setup --yes -n status-break-b",
			breakIt: func(ns string) {
				trust(ns, func(d *iam.Document) {
					*d = iam.TrustPolicy("aws", rig.AWSAccount, "https://old-oidc.example.com/cluster", ns)
				})
			}},
		{name: "aud sts.amazonaws.com", check: "trust audience", cause: "requires aud sts.amazonaws.com, but OpenShift's tokens carry aud \"openshift\"",
			fix: "remove the aud condition",
			breakIt: func(ns string) {
				trust(ns, func(d *iam.Document) {
					d.Statement[0].Condition["StringEquals"][rig.IssuerHost+":aud"] = []string{"sts.amazonaws.com"}
				})
			}},
		{name: "OIDC provider deleted", check: "oidc provider", cause: "No OpenIDConnect provider found", fix: "ccoctl aws create-identity-provider",
			breakIt: func(string) {
				if _, err := r.IAM().DeleteOpenIDConnectProvider(ctx, deleteProvider()); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "policy detached", check: "policy attached", cause: "policy OadpVer1 is not attached to role " + roleName,
			fix: "aws iam attach-role-policy --role-name " + roleName + " --policy-arn " + policyARN,
			breakIt: func(string) {
				if _, err := r.IAM().DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: aws.String(roleName), PolicyArn: aws.String(policyARN)}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "action removed from the policy", check: "policy actions", cause: "does not allow s3:PutObject", fix: "default version again",
			breakIt: func(string) {
				d := iam.PermissionsPolicy()
				d.Statement[0].Action = slices.DeleteFunc(slices.Clone(iam.PermissionActions), func(a string) bool { return a == "s3:PutObject" })
				if _, err := r.IAM().CreatePolicyVersion(ctx, &awsiam.CreatePolicyVersionInput{PolicyArn: aws.String(policyARN), PolicyDocument: aws.String(d.JSON()), SetAsDefault: true}); err != nil {
					t.Fatal(err)
				}
			}},
		// The operator rejects the DPA too: its location's secret lacks the key
		// (oracle case oadp-1.5-derived-038, rule R12).
		{name: "secret key renamed", check: "credentials secret", cause: `has no key "credentials" (it has cloud)`, fix: `rename the key to "credentials"`,
			breakIt: func(ns string) {
				secret(ns, map[string][]byte{"cloud": []byte(manifests.CredentialsFile(roleARN, rig.Region))})
			}, alsoFailed: []string{"dpa rules"}},
		{name: "secret role ARN wrong", check: "credentials secret", cause: "its role_arn is arn:aws:iam::" + rig.AWSAccount + ":role/someone-else, but the role is " + roleARN,
			fix: "kubectl oadp-sts setup --yes -n status-break-h' to rewrite the secret",
			breakIt: func(ns string) {
				secret(ns, map[string][]byte{manifests.SecretKey: []byte(manifests.CredentialsFile("arn:aws:iam::"+rig.AWSAccount+":role/someone-else", rig.Region))})
			}},
		{name: "DPA Reconciled False", check: "dpa reconciled", cause: "the OADP operator rejected it: Delete vsm from spec.configuration.velero.defaultPlugins",
			fix: "to rewrite the plugin's DPA",
			breakIt: func(ns string) {
				setReconciled(t, r, ns, "False", "Error", "Delete vsm from spec.configuration.velero.defaultPlugins and dataMover object from spec.features")
			}},
		{name: "BSL Unavailable", check: "storage location " + bslName, cause: "Velero: rpc error: InvalidIdentityToken: No OpenIDConnect provider found in your account (likely: IAM has no OIDC provider",
			fix: "fix the failed checks above",
			breakIt: func(ns string) {
				setBSL(t, r, ns, "Unavailable", "rpc error: InvalidIdentityToken: No OpenIDConnect provider found in your account")
			}},
		{name: "bucket in another region", check: "bucket " + bucket, cause: "bucket " + bucket + " is in eu-west-1 and the cluster in " + rig.Region,
			fix: "use a bucket in " + rig.Region,
			breakIt: func(string) {
				if _, err := r.S3().DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
					t.Fatal(err)
				}
				createBucket(t, r, "eu-west-1")
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.Fresh(t)
			ns := "status-break-" + string(rune('a'+i))
			setUpChain(t, r, ns)
			tc.breakIt(ns)
			rep, res := statusJSON(t, "-n", ns)
			if res.Code != exitcode.NotReady || rep.Ready {
				t.Errorf("exit %d, ready %v; want %d and not ready", res.Code, rep.Ready, exitcode.NotReady)
			}
			onlyFailed(t, rep, tc.check, tc.cause, tc.fix, tc.alsoFailed...)
			human := clitest.Run(t, "status", "-n", ns)
			if !strings.Contains(human.Stdout, "failed   "+tc.check) || !strings.Contains(human.Stdout, "fix:   ") || !strings.Contains(human.Stdout, tc.fix) {
				t.Errorf("human output does not show the failed check with its fix")
			}
		})
	}
}

// status reads only; --assume-role adds exactly one create, the TokenRequest.
func TestStatusMakesNoMutatingCall(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "status-readonly"
	setUpChain(t, r, ns)

	for _, args := range [][]string{{"status", "-n", ns}, {"status", "-n", ns, "-o", "yaml"}, {"status", "-n", ns, "--assume-role"}} {
		stopKube := r.RecordKube("kubectl-oadp_sts/")
		stopAWS, err := r.RecordAWS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res := clitest.Run(t, args...)
		kreqs, kerr := stopKube()
		areqs, aerr := stopAWS()
		if kerr != nil || aerr != nil {
			t.Fatal(kerr, aerr)
		}
		if res.Code != 0 {
			t.Errorf("%v: exit %d", args, res.Code)
		}
		assume := slices.Contains(args, "--assume-role")
		creates := 0
		for _, q := range kreqs {
			if !q.Mutating() {
				continue
			}
			if assume && q.Verb == "create" && q.Resource == "serviceaccounts" && q.Name == "velero" && q.Namespace == ns {
				creates++
				continue
			}
			t.Errorf("%v sent %s %s %s/%s", args, q.Verb, q.Resource, q.Namespace, q.Name)
		}
		if assume && creates != 1 {
			t.Errorf("--assume-role made %d TokenRequests, want 1", creates)
		}
		if len(kreqs) == 0 || len(areqs) == 0 {
			t.Errorf("%v: recorded %d kube and %d AWS requests; the recorders saw nothing", args, len(kreqs), len(areqs))
		}
		var actions []string
		for _, q := range areqs {
			actions = append(actions, q.Action)
			if q.Mutating() {
				t.Errorf("%v sent %s (%s %s) to AWS", args, q.Action, q.Method, q.Path)
			}
		}
		if assume != slices.Contains(actions, "AssumeRoleWithWebIdentity") {
			t.Errorf("%v: AWS actions %v", args, actions)
		}
	}
}

// --assume-role: the API server's token for velero, given to STS.
func TestStatusAssumeRole(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	ns := "status-assume"
	setUpChain(t, r, ns)

	rep, res := statusJSON(t, "-n", ns, "--assume-role")
	result, cause, _ := check(t, rep, "assume role")
	msg := message(rep, "assume role")
	if res.Code != 0 || result != "ok" || !strings.Contains(msg, "sub system:serviceaccount:"+ns+":velero, aud openshift") || !strings.Contains(msg, "assumed arn:aws:sts::"+rig.AWSAccount+":assumed-role/"+roleName) {
		t.Errorf("exit %d, assume role = %s %q (cause %q)", res.Code, result, msg, cause)
	}

	// IAM still propagating the role's trust policy: STS (the faults proxy,
	// with STS's own AccessDenied, parsed by the real SDK) refuses the role
	// for a while after the trust policy changed. The role was created
	// seconds ago (its CreateDate is moto's), so status says it may still be
	// propagating, beside the refusal.
	p := faults.Front(t, r.AWSEndpoint, faults.Options{})
	p.RefuseNewRoles(time.Minute)
	cfg := r.AWSConfig()
	cfg.BaseEndpoint = aws.String(p.URL)
	same := iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, ns)
	if _, err := awsiam.NewFromConfig(cfg).UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName), PolicyDocument: aws.String(same.JSON())}); err != nil {
		t.Fatal(err)
	}
	rep, res = statusJSON(t, "-n", ns, "--assume-role")
	if result, cause, _ := check(t, rep, "assume role"); res.Code != 2 || result != "failed" || !strings.Contains(cause, "AccessDenied") ||
		!strings.Contains(cause, "IAM may still be propagating") || !strings.Contains(cause, "the role was created") {
		t.Errorf("assume role while STS refuses a new role: exit %d, %s %q", res.Code, result, cause)
	}
	if p.Stats().Refused == 0 {
		t.Error("the proxy refused nothing: the check above proves nothing")
	}
	p.RefuseNewRoles(0)

	// A trust policy for other subjects: moto answers anyway, AWS would not,
	// and status says so.
	d := iam.TrustPolicy("aws", rig.AWSAccount, rig.Issuer, "elsewhere")
	if _, err := r.IAM().UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName), PolicyDocument: aws.String(d.JSON())}); err != nil {
		t.Fatal(err)
	}
	rep, _ = statusJSON(t, "-n", ns, "--assume-role")
	if result, cause, _ := check(t, rep, "assume role"); result != "warning" || !strings.Contains(cause, "the token's sub system:serviceaccount:"+ns+":velero is not a trusted subject") {
		t.Errorf("assume role with foreign subjects = %s %q", result, cause)
	}

	// No velero service account: no token.
	if err := r.Kube.CoreV1().ServiceAccounts(ns).Delete(ctx, "velero", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, _ = statusJSON(t, "-n", ns, "--assume-role")
	if result, cause, fix := check(t, rep, "assume role"); result != "failed" || !strings.Contains(cause, "no service account velero in "+ns) || !strings.Contains(fix, "creates the velero service account") {
		t.Errorf("assume role without the service account = %s %q %q", result, cause, fix)
	}
}

func message(rep report, name string) string {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Message
		}
	}
	return ""
}
