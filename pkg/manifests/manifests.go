// Package manifests builds every Kubernetes object `setup` creates, as pure
// functions of the cluster's facts and the user's options. Nothing here talks to
// a server: `setup --dry-run=client -o yaml` prints exactly what `setup` applies.
package manifests

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Names and paths fixed by OADP and OpenShift.
const (
	SecretName       = "cloud-credentials"
	SecretKey        = "credentials"
	WebIdentityToken = "/var/run/secrets/openshift/serviceaccount/token"
	// CredentialsFile is where Velero materialises the BSL credential secret;
	// the VSL points its credentialsFile there.
	CredentialsFileFormat = "/tmp/credentials/%s/" + SecretName + "-" + SecretKey
	PackageName           = "redhat-oadp-operator"
	DefaultCatalogSource  = "redhat-operators"
	// CommunityPackageName and CommunityCatalogSource are OADP on OKD: the
	// upstream bundle's package (oadp-operator bundle/metadata/annotations.yaml)
	// in the community catalog, since OKD has no redhat-operators catalog.
	CommunityPackageName   = "oadp-operator"
	CommunityCatalogSource = "community-operators"
	DefaultCatalogNS       = "openshift-marketplace"
	DefaultPrefix          = "velero"
	// AccessReadOnly is a backup location's accessMode on a cluster that
	// restores from another cluster's location.
	AccessReadOnly = "ReadOnly"
	// ManagedByLabel marks every object the plugin creates, so cleanup and
	// status can find them.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "kubectl-oadp_sts"
	// CloudStorageDeleteAnnotation makes the operator delete the bucket (and
	// release its finalizer) when the CloudStorage is deleted.
	CloudStorageDeleteAnnotation = "oadp.openshift.io/cloudstorage-delete"
	CloudStorageFinalizer        = "oadp.openshift.io/bucket-protection"
	// CredentialsRequestNamespace and CredentialsRequestName are the
	// CredentialsRequest the operator makes at start-up in the ROLEARN flow
	// (hard-coded in its main.go).
	CredentialsRequestNamespace = "openshift-cloud-credential-operator"
	CredentialsRequestName      = "oadp-aws-credentials-request"
)

// Snapshot modes.
const (
	SnapshotsCSI    = "csi"
	SnapshotsNative = "native"
)

// Options are everything the builders need.
type Options struct {
	Namespace   string
	ClusterName string
	ClusterID   string
	Region      string
	RoleARN     string
	// OADPVersion is the operator's minor version: "1.2" to "1.6".
	OADPVersion string

	Bucket string
	// BucketLocation names the bucket in the DPA's velero.objectStorage:
	// setup made (or adopted) it, and no CloudStorage is written. False is
	// the chapter's CloudStorage path, where the operator makes the bucket.
	BucketLocation bool
	// KMSKeyARN is the bucket's SSE-KMS key, passed to Velero as kmsKeyId.
	KMSKeyARN string
	// ReadOnly makes the velero location accessMode ReadOnly: the bucket
	// and prefix are another cluster's (setup --from-cluster), whose backups
	// this one syncs and restores but never writes, deletes or expires.
	ReadOnly         bool
	CloudStorageName string
	DPAName          string
	Prefix           string
	Snapshots        string
	BackupImages     bool
	// SnapshotRegion is the VSL's region in native mode; it must be the cluster's.
	SnapshotRegion string
	// FSBackup runs the node agent with Kopia, for file-system backup of the
	// volumes no snapshot covers (OADP 1.3+; Restic is unsupported on STS).
	FSBackup bool
	// DataMover runs the node agent with Kopia for OADP's built-in Data
	// Mover, which moves CSI snapshots' data to the bucket (OADP 1.3+, CSI
	// plugin required); backups ask for it with snapshotMoveData.
	DataMover bool

	VeleroRequests     map[string]string // cpu, memory
	VeleroLimits       map[string]string
	VeleroNodeSelector map[string]string

	// InstallOperator adds the OperatorGroup and Subscription.
	InstallOperator bool
	// Package is the OLM package: redhat-oadp-operator, or oadp-operator on OKD.
	Package                string
	Channel                string
	CatalogSource          string
	CatalogSourceNamespace string
	// SubscriptionRoleARN puts ROLEARN in the Subscription: the Cloud
	// Credential Operator then writes the secret (OpenShift 4.14+).
	SubscriptionRoleARN bool
	// SubscriptionEnv is more of the operator's env in the Subscription (an
	// ACM hub's proxy, pkg/acm), after ROLEARN.
	SubscriptionEnv map[string]string
	// WriteSecret makes the plugin write the credentials secret itself.
	WriteSecret bool
	// Approval is the Subscription's installPlanApproval: Manual (the
	// default) or Automatic. With Manual, OLM installs no version, upgrades
	// included, until its InstallPlan is approved.
	Approval string
	// StartingCSV is the CSV of OADPVersion the Subscription starts at, ""
	// when the catalog could not be read.
	StartingCSV string

	Tags map[string]string

	// NamespaceAnnotations go on the namespace: the record of the names
	// setup chose (pkg/record), so later commands find them without flags.
	NamespaceAnnotations map[string]string
}

// WithDefaults fills the names derived from the cluster name.
func (o Options) WithDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "openshift-adp"
	}
	if o.Bucket == "" && o.ClusterName != "" {
		o.Bucket = names.Bucket(o.ClusterName)
	}
	if o.CloudStorageName == "" && !o.BucketLocation {
		o.CloudStorageName = o.Bucket
	}
	if o.DPAName == "" && o.ClusterName != "" {
		o.DPAName = names.DPA(o.ClusterName)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Snapshots == "" {
		o.Snapshots = SnapshotsCSI
	}
	if o.SnapshotRegion == "" {
		o.SnapshotRegion = o.Region
	}
	if o.Package == "" {
		o.Package = PackageName
	}
	if o.CatalogSource == "" {
		o.CatalogSource = DefaultCatalogSource
		if o.Package == CommunityPackageName {
			o.CatalogSource = CommunityCatalogSource
		}
	}
	if o.CatalogSourceNamespace == "" {
		o.CatalogSourceNamespace = DefaultCatalogNS
	}
	if o.Channel == "" {
		o.Channel = DefaultChannel(o.OADPVersion)
	}
	if o.Approval == "" {
		o.Approval = "Manual"
	}
	return o
}

// BSLName is the BackupStorageLocation the operator generates for the DPA's
// first location.
func BSLName(dpa string) string { return dpa + "-1" }

// DefaultChannel is the OLM channel of an OADP minor version: stable-1.x up to
// 1.4, "stable" again from 1.5.
func DefaultChannel(oadp string) string {
	if oadp == "" || versions.CompareMinor(oadp, "1.5") >= 0 {
		return "stable"
	}
	return "stable-" + oadp
}

// DefaultOADPVersion picks the OADP minor version Red Hat supports on an
// OpenShift version (versions.DefaultOADP has the matrix).
func DefaultOADPVersion(openshift string) string { return versions.DefaultOADP(openshift) }

// Build returns every object in the order it must be applied.
func Build(o Options) []*unstructured.Unstructured {
	o = o.WithDefaults()
	objs := []*unstructured.Unstructured{Namespace(o)}
	if o.InstallOperator {
		objs = append(objs, OperatorGroup(o), Subscription(o))
	}
	if o.WriteSecret {
		objs = append(objs, Secret(o))
	}
	if !o.BucketLocation {
		objs = append(objs, CloudStorage(o))
	}
	return append(objs, DPA(o))
}

func labels() map[string]any { return map[string]any{ManagedByLabel: ManagedByValue} }

func object(apiVersion, kind, ns, name string) map[string]any {
	md := map[string]any{"name": name, "labels": labels()}
	if ns != "" {
		md["namespace"] = ns
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
}

// Namespace is the OADP namespace. OpenShift's cluster-monitoring label lets
// the platform Prometheus scrape Velero's metrics, as the operator's docs advise.
func Namespace(o Options) *unstructured.Unstructured {
	m := object("v1", "Namespace", "", o.Namespace)
	m["metadata"].(map[string]any)["labels"].(map[string]any)["openshift.io/cluster-monitoring"] = "true"
	if len(o.NamespaceAnnotations) > 0 {
		m["metadata"].(map[string]any)["annotations"] = stringMap(o.NamespaceAnnotations)
	}
	return &unstructured.Unstructured{Object: m}
}

// CredentialsFile is the web-identity profile OADP's pods use.
func CredentialsFile(roleARN, region string) string {
	return fmt.Sprintf("[default]\nrole_arn = %s\nweb_identity_token_file = %s\nregion = %s\nsts_regional_endpoints = regional\n",
		roleARN, WebIdentityToken, region)
}

// Secret is cloud-credentials with the profile under key "credentials".
func Secret(o Options) *unstructured.Unstructured {
	m := object("v1", "Secret", o.Namespace, SecretName)
	m["type"] = "Opaque"
	m["stringData"] = map[string]any{SecretKey: CredentialsFile(o.RoleARN, o.Region)}
	return &unstructured.Unstructured{Object: m}
}

// OperatorGroup targets the OADP namespace alone (OADP supports OwnNamespace only).
func OperatorGroup(o Options) *unstructured.Unstructured {
	m := object("operators.coreos.com/v1", "OperatorGroup", o.Namespace, o.Namespace)
	m["spec"] = map[string]any{"targetNamespaces": []any{o.Namespace}}
	return &unstructured.Unstructured{Object: m}
}

// Subscription installs the OADP package; with SubscriptionRoleARN the
// operator gets ROLEARN and the Cloud Credential Operator writes the secret.
func Subscription(o Options) *unstructured.Unstructured {
	pkg := o.Package
	if pkg == "" {
		pkg = PackageName
	}
	m := object("operators.coreos.com/v1alpha1", "Subscription", o.Namespace, pkg)
	spec := map[string]any{
		"name":                pkg,
		"source":              o.CatalogSource,
		"sourceNamespace":     o.CatalogSourceNamespace,
		"channel":             o.Channel,
		"installPlanApproval": cmp.Or(o.Approval, "Manual"),
	}
	if o.StartingCSV != "" {
		spec["startingCSV"] = o.StartingCSV
	}
	var env []any
	if o.SubscriptionRoleARN {
		env = append(env, map[string]any{"name": "ROLEARN", "value": o.RoleARN})
	}
	for _, k := range slices.Sorted(maps.Keys(o.SubscriptionEnv)) {
		env = append(env, map[string]any{"name": k, "value": o.SubscriptionEnv[k]})
	}
	if len(env) > 0 {
		spec["config"] = map[string]any{"env": env}
	}
	m["spec"] = spec
	return &unstructured.Unstructured{Object: m}
}

// CloudStorage asks the operator to create the bucket. enableSharedConfig lets
// it read the web-identity profile.
func CloudStorage(o Options) *unstructured.Unstructured {
	m := object("oadp.openshift.io/v1alpha1", "CloudStorage", o.Namespace, o.CloudStorageName)
	spec := map[string]any{
		"name":               o.Bucket,
		"provider":           "aws",
		"region":             o.Region,
		"enableSharedConfig": true,
		"creationSecret":     map[string]any{"name": SecretName, "key": SecretKey},
	}
	if tags := o.bucketTags(); len(tags) > 0 {
		spec["tags"] = tags
	}
	m["spec"] = spec
	return &unstructured.Unstructured{Object: m}
}

func (o Options) bucketTags() map[string]any {
	tags := map[string]any{}
	for k, v := range o.Tags {
		tags[k] = v
	}
	return tags
}

// DPA is the DataProtectionApplication for the OADP version, without the
// fields that version rejects (see Validate).
func DPA(o Options) *unstructured.Unstructured {
	m := object("oadp.openshift.io/v1alpha1", "DataProtectionApplication", o.Namespace, o.DPAName)
	plugins := []any{"openshift", "aws"}
	if o.Snapshots == SnapshotsCSI {
		plugins = append(plugins, "csi")
	}
	velero := map[string]any{"defaultPlugins": plugins}
	if pc := o.podConfig(); pc != nil {
		velero["podConfig"] = pc
	}
	config := map[string]any{"velero": velero}
	// File-system backup on STS is Kopia's or nothing: Restic is unsupported.
	// OADP 1.2 names the agent restic (so it stays off there), 1.3+ nodeAgent
	// (1.5 rejects restic).
	if o.OADPVersion == "1.2" {
		config["restic"] = map[string]any{"enable": false}
	} else {
		config["nodeAgent"] = map[string]any{"enable": o.NodeAgent(), "uploaderType": "kopia"}
	}
	spec := map[string]any{
		"backupImages":    o.BackupImages,
		"backupLocations": []any{o.backupLocation()},
		"configuration":   config,
	}
	if o.Snapshots == SnapshotsNative {
		spec["snapshotLocations"] = []any{map[string]any{"velero": map[string]any{
			"provider": "aws",
			"config": map[string]any{
				"region":             o.SnapshotRegion,
				"profile":            "default",
				"enableSharedConfig": "true",
				"credentialsFile":    fmt.Sprintf(CredentialsFileFormat, o.Namespace),
			},
		}}}
	}
	m["spec"] = spec
	return &unstructured.Unstructured{Object: m}
}

// NodeAgent says whether the DPA runs the node agent: for file-system backup,
// for the Data Mover, or both (one daemonset serves both).
func (o Options) NodeAgent() bool { return o.FSBackup || o.DataMover }

// backupLocation is the DPA's one location: the CloudStorage's, or with
// BucketLocation a velero location naming the bucket, its region and the
// profile of the web-identity credential.
func (o Options) backupLocation() map[string]any {
	credential := map[string]any{"name": SecretName, "key": SecretKey}
	if o.BucketLocation {
		objectStorage := map[string]any{"bucket": o.Bucket}
		if o.Prefix != "" {
			objectStorage["prefix"] = o.Prefix
		}
		config := map[string]any{"region": o.Region, "profile": "default"}
		if o.KMSKeyARN != "" {
			config["kmsKeyId"] = o.KMSKeyARN
		}
		loc := map[string]any{
			"provider":      "aws",
			"default":       true,
			"objectStorage": objectStorage,
			"config":        config,
			"credential":    credential,
		}
		if o.ReadOnly {
			loc["accessMode"] = AccessReadOnly
		}
		return map[string]any{"velero": loc}
	}
	bucket := map[string]any{
		"cloudStorageRef": map[string]any{"name": o.CloudStorageName},
		"credential":      credential,
		"default":         true,
		"config":          map[string]any{"region": o.Region},
	}
	if o.Prefix != "" {
		bucket["prefix"] = o.Prefix
	}
	return map[string]any{"bucket": bucket}
}

// FSBackupEnabled reports whether a DPA runs the node agent for file-system
// backup. OADP 1.2's Restic does not count: STS does not support it.
func FSBackupEnabled(dpa *unstructured.Unstructured) bool {
	on, _, _ := unstructured.NestedBool(dpa.Object, "spec", "configuration", "nodeAgent", "enable")
	return on
}

// SnapshotMode reads back which --snapshots mode a DPA is in: csi when the
// csi plugin is enabled, native when it has a snapshot location, "" when it
// takes no volume snapshots.
func SnapshotMode(dpa *unstructured.Unstructured) string {
	plugins, _, _ := unstructured.NestedStringSlice(dpa.Object, "spec", "configuration", "velero", "defaultPlugins")
	locations, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "snapshotLocations")
	switch {
	case slices.Contains(plugins, "csi"):
		return SnapshotsCSI
	case len(locations) > 0:
		return SnapshotsNative
	}
	return ""
}

func (o Options) podConfig() map[string]any {
	pc := map[string]any{}
	ra := map[string]any{}
	if len(o.VeleroRequests) > 0 {
		ra["requests"] = stringMap(o.VeleroRequests)
	}
	if len(o.VeleroLimits) > 0 {
		ra["limits"] = stringMap(o.VeleroLimits)
	}
	if len(ra) > 0 {
		pc["resourceAllocations"] = ra
	}
	if len(o.VeleroNodeSelector) > 0 {
		pc["nodeSelector"] = stringMap(o.VeleroNodeSelector)
	}
	if len(pc) == 0 {
		return nil
	}
	return pc
}

func stringMap(in map[string]string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// SortedKeys returns m's keys in order, for stable output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
