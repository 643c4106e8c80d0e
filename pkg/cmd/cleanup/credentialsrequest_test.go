package cleanup_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// The operator's CredentialsRequest (the ROLEARN flow) goes with the
// operator when it names our role, and is left, with the reason, when it
// names another. The CRD is the rig's STAND-IN (rig.CredentialsRequestCRD):
// no real one is available here.
func TestCleanupRemovesTheCredentialsRequestOfOurRole(t *testing.T) {
	r := rig.Get(t)
	r.Fresh(t)
	r.UseEnv(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if err := r.InstallCRDs(context.Background(), rig.DefaultOADPCRDs); err != nil {
			t.Error(err)
		}
	})
	if err := r.ApplyCRDObjects(ctx, rig.CredentialsRequestCRD); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.DeleteObject(context.Background(), rig.CredentialsRequestCRD) })
	if err := r.Apply(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": manifests.CredentialsRequestNamespace}}}); err != nil {
		t.Fatal(err)
	}
	what := "credentialsrequest " + manifests.CredentialsRequestNamespace + "/" + manifests.CredentialsRequestName
	request := func(roleARN string) {
		t.Helper()
		cr := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cloudcredential.openshift.io/v1", "kind": "CredentialsRequest",
			"metadata": map[string]any{"name": manifests.CredentialsRequestName, "namespace": manifests.CredentialsRequestNamespace},
			"spec": map[string]any{"secretRef": map[string]any{"name": manifests.SecretName, "namespace": ns},
				"serviceAccountNames": []any{"openshift-adp-controller-manager"},
				"providerSpec": map[string]any{"apiVersion": "cloudcredential.openshift.io/v1", "kind": "AWSProviderSpec",
					"statementEntries": []any{map[string]any{"effect": "Allow", "action": []any{"s3:*"}, "resource": "arn:aws:s3:*:*:*"}},
					"stsIAMRoleARN":    roleARN}},
		}}
		if err := r.Apply(ctx, cr); err != nil {
			t.Fatal(err)
		}
	}
	present := func() bool {
		_, err := r.Dynamic.Resource(gvr.CredentialsReq).Namespace(manifests.CredentialsRequestNamespace).Get(ctx, manifests.CredentialsRequestName, metav1.GetOptions{})
		return err == nil
	}

	other := iam.RoleARN("aws", rig.AWSAccount, "/", "someone-elses-role")
	install(t, r, 10)
	request(other)
	res := clitest.Run(t, "cleanup", "--yes", "--timeout", "10s")
	if !strings.Contains(res.Stderr, "skip    "+what+" (it names role "+other+", not "+roleName+"; --force deletes it)") || !present() {
		t.Errorf("exit %d, request present %v; want it skipped with the reason:\n%s", res.Code, present(), res.Stderr)
	}

	// The first run removed the operator's CRDs with the rest.
	if err := r.InstallCRDs(ctx, rig.DefaultOADPCRDs); err != nil {
		t.Fatal(err)
	}
	install(t, r, 10)
	request(iam.RoleARN("aws", rig.AWSAccount, "/", roleName))
	res = clitest.Run(t, "cleanup", "--yes", "--timeout", "10s")
	if res.Code != 0 || !strings.Contains(res.Stderr, "deleted "+what) || present() {
		t.Errorf("exit %d, request present %v; want it deleted:\n%s", res.Code, present(), res.Stderr)
	}
}
