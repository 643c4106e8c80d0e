package setup_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

func nsObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// credentialsRequestCRD stands in for the Cloud Credential Operator's API
// (not in the openshift/api module the rig loads): setup only asks whether it
// is served.
func credentialsRequestCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "credentialsrequests.cloudcredential.openshift.io"},
		"spec": map[string]any{
			"group": "cloudcredential.openshift.io", "scope": "Namespaced",
			"names": map[string]any{"kind": "CredentialsRequest", "plural": "credentialsrequests", "singular": "credentialsrequest", "listKind": "CredentialsRequestList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
}

func waitCRD(t *testing.T, r *rig.Rig) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := r.Dynamic.Resource(gvr.CredentialsReq).Namespace("default").List(context.Background(), metav1.ListOptions{}); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("credentialsrequests API not served")
}
