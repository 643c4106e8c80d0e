// Package gvr names every API resource the plugin reads or writes. OpenShift,
// OLM, OADP and Velero objects are handled as unstructured data: their Go
// modules are either unreachable or far heavier than the few fields we touch.
package gvr

import "k8s.io/apimachinery/pkg/runtime/schema"

var (
	ClusterVersion  = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusterversions"}
	Infrastructure  = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "infrastructures"}
	Authentication  = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "authentications"}
	CloudCredential = schema.GroupVersionResource{Group: "operator.openshift.io", Version: "v1", Resource: "cloudcredentials"}

	CRD = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

	Subscription   = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}
	CSV            = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "clusterserviceversions"}
	OperatorGroup  = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1", Resource: "operatorgroups"}
	CredentialsReq = schema.GroupVersionResource{Group: "cloudcredential.openshift.io", Version: "v1", Resource: "credentialsrequests"}

	DPA          = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "dataprotectionapplications"}
	CloudStorage = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "cloudstorages"}

	Backup              = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "backups"}
	Restore             = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "restores"}
	BSL                 = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "backupstoragelocations"}
	VSL                 = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "volumesnapshotlocations"}
	DeleteBackupRequest = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "deletebackuprequests"}
)

// OADPCRDName is the CRD whose presence means the OADP operator is installed.
const OADPCRDName = "dataprotectionapplications.oadp.openshift.io"
