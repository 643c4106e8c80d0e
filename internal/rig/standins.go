package rig

// CredentialsRequestCRD is a STAND-IN for the CredentialsRequest CRD the
// Cloud Credential Operator installs: its module is not on the Go module
// proxy and ../shared/crds has no copy, so the rig has no real one. The
// plugin only asks whether the API is served and reads or deletes the
// operator's request (spec.providerSpec.stsIAMRoleARN); it keeps every field
// and validates none.
var CredentialsRequestCRD = obj(map[string]any{
	"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
	"metadata": map[string]any{"name": "credentialsrequests.cloudcredential.openshift.io"},
	"spec": map[string]any{
		"group": "cloudcredential.openshift.io", "scope": "Namespaced",
		"names": map[string]any{"kind": "CredentialsRequest", "listKind": "CredentialsRequestList", "plural": "credentialsrequests", "singular": "credentialsrequest"},
		"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
	},
})
