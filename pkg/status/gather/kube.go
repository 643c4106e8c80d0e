package gather

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// listed is one list's items.
type listed = []unstructured.Unstructured

// listIn lists a resource in the namespace; an API the cluster does not
// serve is an empty list.
func listIn(ctx context.Context, c dynamic.Interface, ns string, r schema.GroupVersionResource) (listed, error) {
	l, err := c.Resource(r).Namespace(ns).List(ctx, metav1.ListOptions{})
	switch {
	case kube.IsTypeMissing(err):
		return nil, nil
	case err != nil:
		return nil, kube.Explain(err, r, "")
	}
	return l.Items, nil
}

// secretRead is the cloud-credentials secret, nil when there is none.
type secretRead struct{ secret *corev1.Secret }

// readCredentials reads the secret setup writes.
func readCredentials(ctx context.Context, c kubernetes.Interface, ns string) (secretRead, error) {
	s, err := c.CoreV1().Secrets(ns).Get(ctx, manifests.SecretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return secretRead{}, nil
	case err != nil:
		return secretRead{}, kube.Explain(err, gvr.Secret, manifests.SecretName)
	}
	return secretRead{secret: s}, nil
}

// dpaSecretsRead is the data of the secrets the DPAs name, by name; a name
// missing is a secret that does not exist. nil when no DPA names one.
type dpaSecretsRead struct{ data map[string]map[string][]byte }

// readSecrets reads the named secrets, so the rule engine judges the DPAs on
// the cluster's real state. The first that cannot be read stops it: the
// rules are then not judged.
func readSecrets(ctx context.Context, c kubernetes.Interface, ns string, names []string) (dpaSecretsRead, error) {
	if len(names) == 0 {
		return dpaSecretsRead{}, nil
	}
	out := dpaSecretsRead{data: map[string]map[string][]byte{}}
	for _, n := range names {
		s, err := c.CoreV1().Secrets(ns).Get(ctx, n, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return out, kube.Explain(err, gvr.Secret, n)
		default:
			out.data[n] = s.Data
		}
	}
	return out, nil
}

// tokenRead is a token of Velero's service account and its claims.
type tokenRead struct {
	token           string
	issuer, subject string
	audience        []string
}

// assumeRole is the chain's AssumeRole as far as the token goes; the role
// and STS's answer are added by the AWS reads.
func (t tokenRead) assumeRole(err error) *status.AssumeRole {
	return &status.AssumeRole{TokenErr: err, Issuer: t.issuer, Subject: t.subject, Audience: t.audience}
}

// requestToken asks for a token of Velero's service account, as the API
// server projects it into Velero's pod.
func requestToken(ctx context.Context, c kubernetes.Interface, ns string) (tokenRead, error) {
	expiry := int64(600) // the API server's minimum
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, iam.VeleroServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{awsfacts.OpenShiftAudience}, ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return tokenRead{}, fmt.Errorf("no service account %s in %s", iam.VeleroServiceAccount, ns)
	case err != nil:
		return tokenRead{}, kube.Explain(err, schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts/token"}, iam.VeleroServiceAccount)
	}
	t := tokenRead{token: tr.Status.Token}
	t.issuer, t.subject, t.audience = claims(t.token)
	return t, nil
}

// readCredentialsRequest reads the CredentialsRequest the operator makes in
// the ROLEARN flow; nil when absent or when the API is not served.
func readCredentialsRequest(ctx context.Context, c dynamic.Interface) (*unstructured.Unstructured, error) {
	cr, err := c.Resource(gvr.CredentialsReq).Namespace(manifests.CredentialsRequestNamespace).Get(ctx, manifests.CredentialsRequestName, metav1.GetOptions{})
	switch {
	case kube.IsTypeMissing(err), apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, kube.Explain(err, gvr.CredentialsReq, manifests.CredentialsRequestName)
	}
	return cr, nil
}
