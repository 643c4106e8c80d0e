package cleanup

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// readCredentialsRequest reads the operator's CredentialsRequest: nil when
// there is none, or no Cloud Credential Operator API to hold one.
func readCredentialsRequest(ctx context.Context, c Clients) (*unstructured.Unstructured, error) {
	cr, err := c.Kube.Resource(gvr.CredentialsReq).Namespace(manifests.CredentialsRequestNamespace).Get(ctx, manifests.CredentialsRequestName, metav1.GetOptions{})
	switch {
	case kube.IsTypeMissing(err), apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, kube.Explain(err, gvr.CredentialsReq, manifests.CredentialsRequestName)
	}
	return cr, nil
}

// planCredentialsRequest plans the removal of the CredentialsRequest the
// operator made in the ROLEARN flow, when it names our role (or --force):
// left behind, a later install with another role would find it still
// pointing at this one (OADP-5362). It goes with the operator: kept with
// --keep-operator. The API is absent on clusters without the Cloud
// Credential Operator.
func (p *Plan) planCredentialsRequest(cr *unstructured.Unstructured, o Options) {
	if cr == nil {
		return
	}
	what := "credentialsrequest " + manifests.CredentialsRequestNamespace + "/" + manifests.CredentialsRequestName
	role := kube.Str(cr.Object, "spec", "providerSpec", "stsIAMRoleARN")
	switch {
	case o.KeepOperator:
		p.add(Keep, what, "--keep-operator")
	case namesRole(role, o.RoleName) || o.Force:
		p.credentialsRequest = true
		p.add(Delete, what, "the operator's request for role "+orNone(role))
	default:
		p.add(Skip, what, "it names role "+orNone(role)+", not "+o.RoleName+"; --force deletes it")
	}
}

// namesRole says whether a role ARN is of the role called name, at any path.
func namesRole(arn, name string) bool {
	_, res, ok := strings.Cut(arn, ":role/")
	return ok && name != "" && res[strings.LastIndex(res, "/")+1:] == name
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
