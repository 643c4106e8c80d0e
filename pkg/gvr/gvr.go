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

	InstallPlan = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "installplans"}
	// PackageManifest is the package server's view of a catalog's package
	// (an aggregated API, not a CRD): its channels and their CSVs.
	PackageManifest = schema.GroupVersionResource{Group: "packages.operators.coreos.com", Version: "v1", Resource: "packagemanifests"}

	Secret       = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	Event        = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	Namespace    = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	PVC          = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	StorageClass = schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}
	// VolumeSnapshotClass is the CSI snapshot API's, which CSI snapshots need.
	VolumeSnapshotClass = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
	DPA                 = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "dataprotectionapplications"}
	CloudStorage        = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "cloudstorages"}
	// DataProtectionTest is OADP 1.5's in-cluster check of a storage location.
	DataProtectionTest = schema.GroupVersionResource{Group: "oadp.openshift.io", Version: "v1alpha1", Resource: "dataprotectiontests"}
	Pod                = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	ConfigMap          = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

	Backup              = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "backups"}
	Restore             = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "restores"}
	BSL                 = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "backupstoragelocations"}
	VSL                 = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "volumesnapshotlocations"}
	DeleteBackupRequest = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "deletebackuprequests"}
	Schedule            = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "schedules"}
	DownloadRequest     = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "downloadrequests"}
	PodVolumeBackup     = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "podvolumebackups"}
	PodVolumeRestore    = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "podvolumerestores"}
	DataUpload          = schema.GroupVersionResource{Group: "velero.io", Version: "v2alpha1", Resource: "datauploads"}
	DataDownload        = schema.GroupVersionResource{Group: "velero.io", Version: "v2alpha1", Resource: "datadownloads"}
)

// OADPCRDName is the CRD whose presence means the OADP operator is installed.
const OADPCRDName = "dataprotectionapplications.oadp.openshift.io"

// kinds maps the kinds the plugin applies to their resources, so applying
// needs no discovery round trip.
var kinds = map[schema.GroupKind]struct {
	r          schema.GroupVersionResource
	namespaced bool
}{
	{Kind: "Namespace"}: {Namespace, false},
	{Kind: "Secret"}:    {Secret, true},
	{Group: "operators.coreos.com", Kind: "OperatorGroup"}:          {OperatorGroup, true},
	{Group: "operators.coreos.com", Kind: "Subscription"}:           {Subscription, true},
	{Group: "oadp.openshift.io", Kind: "CloudStorage"}:              {CloudStorage, true},
	{Group: "oadp.openshift.io", Kind: "DataProtectionApplication"}: {DPA, true},
	{Group: "velero.io", Kind: "Backup"}:                            {Backup, true},
	{Group: "velero.io", Kind: "Restore"}:                           {Restore, true},
	{Group: "velero.io", Kind: "DeleteBackupRequest"}:               {DeleteBackupRequest, true},
	{Group: "velero.io", Kind: "Schedule"}:                          {Schedule, true},
}

// ForKind returns the resource of a kind the plugin writes.
func ForKind(gk schema.GroupKind) (r schema.GroupVersionResource, namespaced, ok bool) {
	k, ok := kinds[gk]
	return k.r, k.namespaced, ok
}
