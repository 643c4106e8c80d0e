// Package dparules judges a DataProtectionApplication the way the OADP
// operator does: the same rules, in the same order, with the operator's own
// condition messages. It is pure: the caller reads the DPA's namespace (the
// other DPAs, the secrets and CloudStorages it references) and passes it in;
// the only outside call, the operator's live bucket-region look-up, goes
// through an injected BucketRegions.
//
// The rules are written from ../shared/docs/oadp-operator-rules.md (a reading
// of the operator's source per branch) and checked against the real
// operator's verdicts in ../shared/oracle/oadp-dpa-cases.json by this
// package's conformance test.
package dparules

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Versions are the OADP minor versions the engine knows. 1.4 and 1.5 follow
// the operator's source; 1.6 is 1.5 plus its release notes' additions; 1.2
// and 1.3 are best effort from the documentation.
var Versions = []string{"1.2", "1.3", "1.4", "1.5", "1.6"}

// Namespace is what the operator sees when it reconciles one DPA.
type Namespace struct {
	// DPA is the object judged.
	DPA *unstructured.Unstructured
	// Others are the other DataProtectionApplications of the DPA's
	// namespace (1.5 fails every DPA of a namespace that has two).
	Others []*unstructured.Unstructured
	// Secrets are the secrets of the namespace by name (their data); a name
	// missing from the map is a secret that does not exist.
	Secrets map[string]map[string][]byte
	// CloudStorages are the namespace's CloudStorages by name.
	CloudStorages map[string]*unstructured.Unstructured
	// NonAdminElsewhere are the other namespaces whose DPA enables the
	// non-admin controller and where its Deployment exists (1.5's
	// one-controller-per-cluster rule).
	NonAdminElsewhere []string
	// BSLs are the BackupStorageLocations of the namespace, read for the
	// non-admin sync-period rule; nil when unknown.
	BSLs []*unstructured.Unstructured
}

// BucketRegions finds a bucket's region without credentials, as the
// operator's anonymous GetBucketRegion call does.
type BucketRegions interface {
	BucketRegion(ctx context.Context, bucket string) (string, error)
}

// NoNetwork is a BucketRegions that can discover nothing: with it, every AWS
// location without a region is judged as the operator judges it when its
// look-up fails.
type NoNetwork struct{}

// BucketRegion implements BucketRegions.
func (NoNetwork) BucketRegion(context.Context, string) (string, error) {
	return "", errNoNetwork
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errNoNetwork = constErr("bucket-region discovery is off")

// Normalize maps an operator version ("1.4.3", "v1.5.0") to the rule set the
// engine judges it by, and says whether the engine knows that minor.
func Normalize(version string) (minor string, known bool) {
	m := cmp.Or(versions.Minor(version), strings.TrimPrefix(version, "v"))
	for _, v := range Versions {
		if v == m {
			return m, true
		}
	}
	if versions.CompareMinor(m, Versions[0]) < 0 {
		return Versions[0], false
	}
	return Versions[len(Versions)-1], false
}

// SecretNames are the secrets the operator reads when it reconciles dpa:
// the ones its locations name, or their providers' defaults. A caller
// fetches these to fill Namespace.Secrets.
func SecretNames(dpa *unstructured.Unstructured) []string {
	var names []string
	addName := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	spec, _, _ := unstructured.NestedMap(dpa.Object, "spec")
	for _, l := range sliceAt(spec, "backupLocations") {
		loc := asMap(l)
		if vel, ok := loc["velero"].(map[string]any); ok {
			config, _ := vel["config"].(map[string]any)
			n, _, _ := secretNameAndKey(config, vel["credential"], strAt(vel, "provider"))
			addName(n)
		}
		if bkt, ok := loc["bucket"].(map[string]any); ok {
			addName(strAt(bkt, "credential", "name"))
		}
	}
	for _, s := range sliceAt(spec, "snapshotLocations") {
		if vel, ok := asMap(s)["velero"].(map[string]any); ok {
			n, _, _ := secretNameAndKey(nil, vel["credential"], strAt(vel, "provider"))
			addName(n)
		}
	}
	plugins, _, _ := unstructured.NestedStringSlice(spec, "configuration", "velero", "defaultPlugins")
	for _, p := range plugins {
		addName(pluginSecrets[p])
	}
	sort.Strings(names)
	return names
}
