package dparules

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Stage is where in the operator's reconcile a rule sits.
type Stage string

const (
	// Validation is ValidateDataProtectionCR, the first step of every reconcile.
	Validation Stage = "validation"
	// Reconcile is a later step (locations, registry secrets, node agent).
	Reconcile Stage = "reconcile"
	// Admission is the API server's CRD schema; the engine knows only the
	// differences between versions that matter to what the plugin writes.
	Admission Stage = "admission"
)

// Finding is one rule a DPA breaks.
type Finding struct {
	// Rule is the rule's id in the rules document ("R12", "C01").
	Rule  string `json:"rule"`
	Stage Stage  `json:"stage"`
	// Path is the field the rule is about, "" for the whole object.
	Path string `json:"path,omitempty"`
	// Message is the operator's Reconciled condition message, verbatim.
	Message string `json:"message"`
	// Cause and Fix are the plugin's words beside it.
	Cause string `json:"cause,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

// Error puts the operator's words first, then ours.
func (f Finding) Error() string {
	s := f.Message
	if f.Path != "" {
		s = f.Path + ": " + s
	}
	if f.Cause != "" {
		s += " (" + f.Cause + ")"
	}
	return s
}

// Warning is something the operator accepts that still deserves a word.
type Warning struct {
	Rule    string `json:"rule"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Source is where the statement comes from.
	Source string `json:"source,omitempty"`
}

// Verdict is the engine's judgement of one DPA.
type Verdict struct {
	// Version is the rule set used ("1.5").
	Version string `json:"version"`
	// First is the rule the operator stops at: its message is what the DPA's
	// Reconciled=False condition says. Nil when the operator reconciles it.
	First *Finding `json:"first,omitempty"`
	// Later are rules after the first that fail as well; the operator
	// reports them only once the first is fixed.
	Later    []Finding `json:"later,omitempty"`
	Warnings []Warning `json:"warnings,omitempty"`
}

// Accepted reports whether the operator reconciles the DPA.
func (v Verdict) Accepted() bool { return v.First == nil }

// Err is the rejection as an error: the operator's message, our cause and
// fix, and the later rules marked as such; nil when accepted.
func (v Verdict) Err() error {
	if v.First == nil {
		return nil
	}
	return verdictError{v}
}

type verdictError struct{ v Verdict }

func (e verdictError) Error() string {
	f := e.v.First
	var b strings.Builder
	fmt.Fprintf(&b, "OADP %s would not reconcile it: %s (rule %s", e.v.Version, f.Message, f.Rule)
	if f.Path != "" {
		b.WriteString(", " + f.Path)
	}
	b.WriteString(")")
	if f.Cause != "" {
		b.WriteString(": " + f.Cause)
	}
	if f.Fix != "" {
		b.WriteString("; fix: " + f.Fix)
	}
	for _, l := range e.v.Later {
		fmt.Fprintf(&b, "; later, once that is fixed: %s (rule %s)", l.Message, l.Rule)
	}
	return b.String()
}

// Judge runs the operator's rules of version (see Normalize) on ns.
func Judge(ctx context.Context, ns Namespace, version string, regions BucketRegions) Verdict {
	minor, _ := Normalize(version)
	if regions == nil {
		regions = NoNetwork{}
	}
	j := &judge{ctx: ctx, ns: ns, v: minor, regions: regions}
	j.run()
	out := Verdict{Version: minor, Warnings: j.warnings}
	if len(j.found) > 0 {
		first := j.found[0]
		out.First = &first
		out.Later = j.found[1:]
	}
	return out
}

type judge struct {
	ctx      context.Context
	ns       Namespace
	v        string
	regions  BucketRegions
	found    []Finding
	warnings []Warning

	spec     map[string]any
	velero   map[string]any
	noSecret bool
}

func (j *judge) at(min string) bool { return versions.CompareMinor(j.v, min) >= 0 }

func (j *judge) fail(rule string, stage Stage, path, msg string) {
	cause, fix := advice(rule, j.v)
	j.found = append(j.found, Finding{Rule: rule, Stage: stage, Path: path, Message: msg, Cause: cause, Fix: fix})
}

func (j *judge) run() {
	j.spec, _, _ = unstructured.NestedMap(j.ns.DPA.Object, "spec")
	if j.at("1.5") && len(j.ns.Others) > 0 {
		j.fail("R01", Validation, "", "only one DPA CR can exist per OADP installation namespace")
	}
	config, _, _ := unstructured.NestedMap(j.spec, "configuration")
	velero, hasVelero, _ := unstructured.NestedMap(config, "velero")
	if config == nil || !hasVelero || velero == nil {
		j.fail("R02", Validation, "spec.configuration.velero", "DPA CR Velero configuration cannot be nil")
		return
	}
	j.velero = velero
	flags, _, _ := unstructured.NestedStringSlice(velero, "featureFlags")
	j.noSecret = slices.Contains(flags, "no-secret")
	_, hasRestic := config["restic"]
	_, hasNodeAgent := config["nodeAgent"]
	if j.at("1.3") && !j.at("1.5") && hasRestic && hasNodeAgent {
		j.fail("R03", Validation, "spec.configuration", "DPA CR cannot have restic (deprecated in OADP 1.3) as well as nodeAgent options at the same time")
	}

	noDefault := boolAt(velero, "noDefaultBackupLocation")
	locations := sliceAt(j.spec, "backupLocations")
	if noDefault {
		if len(locations) != 0 {
			j.fail("R04", Validation, "spec.backupLocations", "DPA CR Velero configuration cannot have backup locations if noDefaultBackupLocation is set")
		} else if j.backupImages() {
			j.fail("R05", Validation, "spec.backupImages", "backupImages needs to be set to false when noDefaultBackupLocation is set")
		}
	} else if len(locations) == 0 {
		j.fail("R06", Validation, "spec.backupLocations", "no backupstoragelocations configured, ensure a backupstoragelocation has been configured or use the noDefaultBackupLocation flag")
	}
	j.backupLocations(locations, noDefault)
	j.snapshotLocations()
	if j.at("1.5") {
		j.nodeAgentAffinity(config)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(j.spec, "features", "dataMover"); found && j.at("1.3") {
		j.fail("R34", Validation, "spec.features.dataMover", j.dataMoverMessage())
	}
	plugins, _, _ := unstructured.NestedStringSlice(velero, "defaultPlugins")
	if !j.at("1.4") && slices.Contains(plugins, "legacy-aws") {
		// Before 1.4 the CRD's enum has no legacy-aws: the API server refuses it.
		j.fail("A-legacy-aws", Admission, "spec.configuration.velero.defaultPlugins", `Unsupported value: "legacy-aws"`)
	}
	if !j.at("1.3") && hasNodeAgent {
		j.warnings = append(j.warnings, Warning{Rule: "W-nodeagent", Path: "spec.configuration.nodeAgent",
			Message: "OADP 1.2 has no nodeAgent (its CRD drops the field); its file-system backup is configuration.restic, which Red Hat does not support on AWS STS",
			Source:  "OADP 1.2 CRD; openshift-docs PR #67857"})
	}
	if j.at("1.3") && !j.at("1.5") && slices.Contains(plugins, "vsm") {
		j.fail("R35", Validation, "spec.configuration.velero.defaultPlugins", j.dataMoverMessage())
	}
	if j.at("1.5") && hasRestic {
		j.fail("R36", Validation, "spec.configuration.restic", "Delete restic object from spec.configuration, use spec.configuration.nodeAgent instead")
	}
	uploader, _, _ := unstructured.NestedString(config, "nodeAgent", "uploaderType")
	if j.at("1.6") && uploader == "restic" {
		j.fail("R36b", Validation, "spec.configuration.nodeAgent.uploaderType", "restic is no longer supported in spec.configuration.nodeAgent.uploaderType, use kopia instead")
	}
	if ot, found, _ := unstructured.NestedString(j.spec, "unsupportedOverrides", "operator-type"); found && ot != "mtc" {
		j.fail("R37", Validation, "spec.unsupportedOverrides.operator-type", "only mtc operator type override is supported")
	}
	j.plugins(plugins, noDefault)
	if j.at("1.5") {
		j.nonAdmin()
	}
	j.restic(config, hasRestic, uploader)

	j.reconcileLocations(locations)
	j.registrySecrets(locations)
	j.sharedConfigMap()
}

func (j *judge) dataMoverMessage() string {
	if j.at("1.5") {
		return "Delete vsm from spec.configuration.velero.defaultPlugins and dataMover object from spec.features. Use Velero Built-in Data Mover instead"
	}
	return "Delete vsm from spec.configuration.velero.defaultPlugins and dataMover object from spec.features, they are not used in OADP 1.3"
}

// backupImages is the DPA's BackupImages(): unset counts as true.
func (j *judge) backupImages() bool {
	if v, found, _ := unstructured.NestedBool(j.spec, "backupImages"); found {
		return v
	}
	return true
}

func (j *judge) backupLocations(locations []any, noDefault bool) {
	defaults := 0
	for i, l := range locations {
		loc, _ := l.(map[string]any)
		path := fmt.Sprintf("spec.backupLocations[%d]", i)
		vel, hasVel := loc["velero"].(map[string]any)
		bkt, hasBkt := loc["bucket"].(map[string]any)
		name, _ := loc["name"].(string)
		switch {
		case !hasVel && !hasBkt:
			j.fail("R07", Validation, path, "BackupLocation must have velero or bucket configuration")
			continue
		case hasVel && hasBkt:
			j.fail("R08", Validation, path, "cannot have both backupstoragelocations and bucket provided for a single StorageLocation")
			continue
		}
		// Counted up front so that a failure listed for one location does
		// not also report the later default-location rules wrongly.
		isDefault := boolAt(vel, "default") || boolAt(bkt, "default")
		if isDefault {
			defaults++
		}
		if j.backupImages() {
			if hasVel {
				if _, has := vel["objectStorage"]; has && strAt(vel, "objectStorage", "prefix") == "" {
					j.fail("R09", Validation, path+".velero.objectStorage.prefix", "BackupLocation must have velero prefix when backupImages is not set to false")
					continue
				}
			} else if strAt(bkt, "prefix") == "" {
				j.fail("R10", Validation, path+".bucket.prefix", "BackupLocation must have cloud storage prefix when backupImages is not set to false")
				continue
			}
		}
		if !j.secretData(path, loc, vel, bkt) {
			continue
		}
		if hasVel {
			if !isDefault && name == "default" {
				j.fail("R16", Validation, path+".name", "Storage location named 'default' must be set as default")
				continue
			}
			provider := strAt(vel, "provider")
			switch provider {
			case "":
				j.fail("R17", Validation, path+".velero.provider", "no provider specified for one of the backupstoragelocations configured")
			case "aws", "velero.io/aws":
				j.awsLocation(path, vel)
			case "azure", "velero.io/azure":
				j.cloudLocation(path, vel, "Azure")
			case "gcp", "velero.io/gcp":
				j.cloudLocation(path, vel, "GCP")
			default:
				j.fail("R18", Validation, path+".velero.provider", "invalid provider")
			}
			continue
		}
		if !isDefault && name == "default" {
			j.fail("R16", Validation, path+".name", "Storage location named 'default' must be set as default")
		}
	}
	if defaults > 1 {
		j.fail("R24", Validation, "spec.backupLocations", "Only one Storage Location be set as default")
	}
	if defaults == 0 && !noDefault && len(locations) > 0 {
		j.fail("R25", Validation, "spec.backupLocations", "no default backupstoragelocations configured, ensure that one backupstoragelocation has been configured as the default location")
	}
}

// secretData is ensureSecretDataExists: the location's credential is named,
// its secret exists with data under the key, and (1.5) an AWS secret holds
// the profile. It reports whether the location passed.
func (j *judge) secretData(path string, loc, vel, bkt map[string]any) bool {
	n := len(j.found)
	if vel != nil {
		if j.noSecret {
			return true
		}
		if cred, ok := vel["credential"].(map[string]any); ok {
			name, key := strAt(cred, "name"), strAt(cred, "key")
			locName, _ := loc["name"].(string)
			switch {
			case key == "" && j.at("1.5"):
				j.fail("R11", Validation, path+".velero.credential.key", "secret key specified for location cannot be empty")
			case key == "":
				j.fail("R11", Validation, path+".velero.credential.key", fmt.Sprintf("Secret key specified in BackupLocation %s cannot be empty", locName))
			case name == "" && j.at("1.5"):
				j.fail("R11", Validation, path+".velero.credential.name", "secret name specified for location cannot be empty")
			case name == "":
				j.fail("R11", Validation, path+".velero.credential.name", fmt.Sprintf("Secret name specified in BackupLocation %s cannot be empty", locName))
			}
			if len(j.found) > n {
				return false
			}
		}
		provider := strAt(vel, "provider")
		config, _ := vel["config"].(map[string]any)
		name, key, fromFile := secretNameAndKey(config, vel["credential"], provider)
		if !j.secretHolds(path+".velero.credential", name, key, !fromFile) {
			return false
		}
		if j.at("1.5") && j.backupImages() && strings.Contains(provider, "aws") {
			profile := strOr(strAt(vel, "config", "profile"), "default")
			if err := parseAWS(j.ns.Secrets[name][key], profile, true); err != "" {
				j.fail("R15", Validation, path+".velero.credential", fmt.Sprintf("error parsing AWS secret %s: %s", name, err))
				return false
			}
		}
		return true
	}
	cred, hasCred := bkt["credential"].(map[string]any)
	name, key := strAt(cred, "name"), strAt(cred, "key")
	if j.at("1.5") {
		if j.noSecret {
			return true
		}
		switch {
		case !hasCred:
			j.fail("R13", Validation, path+".bucket.credential", "must provide a valid credential secret")
		case name == "":
			j.fail("R13", Validation, path+".bucket.credential.name", "must provide a valid credential secret name")
		case key == "":
			j.fail("R13", Validation, path+".bucket.credential.key", "must provide a valid credential secret key")
		}
		if len(j.found) > n {
			return false
		}
		if ref := strAt(bkt, "cloudStorageRef", "name"); ref != "" {
			if _, ok := j.ns.CloudStorages[ref]; !ok {
				j.fail("R14", Validation, path+".bucket.cloudStorageRef.name", cloudStorageNotFound(ref))
				return false
			}
		}
		if !j.secretHolds(path+".bucket.credential", name, key, true) {
			return false
		}
		if j.backupImages() {
			profile := strOr(strAt(bkt, "config", "profile"), "default")
			if err := parseAWS(j.ns.Secrets[name][key], profile, true); err != "" {
				j.fail("R15", Validation, path+".bucket.credential", fmt.Sprintf("error parsing AWS secret %s: %s", name, err))
				return false
			}
		}
		return true
	}
	// 1.4 asks for a named credential even with no-secret.
	switch {
	case !hasCred:
		j.fail("R13", Validation, path+".bucket.credential", "must provide a valid credential secret")
	case name == "":
		j.fail("R13", Validation, path+".bucket.credential.name", "must provide a valid credential secret name")
	case j.noSecret:
		return true
	case key == "":
		j.fail("R11", Validation, path+".bucket.credential.key", "Secret key specified in CloudStorage cannot be empty")
	}
	if len(j.found) > n {
		return false
	}
	return j.secretHolds(path+".bucket.credential", name, key, true)
}

// secretHolds checks that the secret exists and, when content is asked
// for, holds data under key.
func (j *judge) secretHolds(path, name, key string, content bool) bool {
	data, ok := j.ns.Secrets[name]
	if !ok {
		j.fail("R12", Validation, path, secretNotFound(name))
		return false
	}
	if content && len(data[key]) == 0 {
		j.fail("R12", Validation, path, j.missingData(name, key))
		return false
	}
	return true
}

func (j *judge) missingData(name, key string) string {
	if j.at("1.5") {
		return fmt.Sprintf("secret name %s is missing data for key %s", name, key)
	}
	return fmt.Sprintf("Secret name %s is missing data for key %s", name, key)
}

func (j *judge) awsLocation(path string, vel map[string]any) {
	os, _ := vel["objectStorage"].(map[string]any)
	switch {
	case os == nil:
		j.fail("R19", Validation, path+".velero.objectStorage", "object storage configuration for AWS backupstoragelocation cannot be nil")
		return
	case strAt(os, "bucket") == "":
		j.fail("R19", Validation, path+".velero.objectStorage.bucket", "bucket name for AWS backupstoragelocation cannot be empty")
		return
	}
	if strAt(vel, "config", "region") == "" {
		discoverable := false
		if strAt(vel, "config", "s3ForcePathStyle") != "true" {
			r, err := j.regions.BucketRegion(j.ctx, strAt(os, "bucket"))
			discoverable = err == nil && r != ""
		}
		if !discoverable {
			j.fail("R21", Validation, path+".velero.config.region", "region for AWS backupstoragelocation not automatically discoverable. Please set the region in the backupstoragelocation config")
			return
		}
	}
	if j.backupImages() && strAt(os, "prefix") == "" {
		j.fail("R20", Validation, path+".velero.objectStorage.prefix", "prefix for AWS backupstoragelocation object storage cannot be empty. It is required for backing up images")
	}
}

func (j *judge) cloudLocation(path string, vel map[string]any, cloud string) {
	os, _ := vel["objectStorage"].(map[string]any)
	switch {
	case os == nil:
		j.fail("R19", Validation, path+".velero.objectStorage", "object storage configuration for "+cloud+" backupstoragelocation cannot be nil")
		return
	case strAt(os, "bucket") == "":
		j.fail("R19", Validation, path+".velero.objectStorage.bucket", "bucket name for "+cloud+" backupstoragelocation cannot be empty")
		return
	}
	if cloud == "Azure" {
		for _, k := range []string{"resourceGroup", "storageAccount"} {
			if strAt(vel, "config", k) == "" {
				j.fail("R22", Validation, path+".velero.config."+k, k+" for Azure backupstoragelocation config cannot be empty")
				return
			}
		}
	}
	if j.backupImages() && strAt(os, "prefix") == "" {
		j.fail("R20", Validation, path+".velero.objectStorage.prefix", "prefix for "+cloud+" backupstoragelocation object storage cannot be empty. It is required for backing up images")
	}
}

var vslConfigKeys = map[string][]string{
	"aws":   {"region", "profile", "credentialsFile", "enableSharedConfig"},
	"gcp":   {"project", "snapshotLocation"},
	"azure": {"apiTimeout", "incremental", "subscriptionId", "resourceGroup"},
}

func (j *judge) snapshotLocations() {
	plugins, _, _ := unstructured.NestedStringSlice(j.velero, "defaultPlugins")
	for i, s := range sliceAt(j.spec, "snapshotLocations") {
		sl, _ := s.(map[string]any)
		path := fmt.Sprintf("spec.snapshotLocations[%d].velero", i)
		vel, ok := sl["velero"].(map[string]any)
		if !ok {
			j.fail("R26", Validation, path, "snapshotLocation velero configuration cannot be nil")
			continue
		}
		provider := strAt(vel, "provider")
		allowed, known := vslConfigKeys[provider]
		if !known {
			j.fail("R27", Validation, path+".provider", fmt.Sprintf("DPA %s.provider %s is invalid: only aws, gcp and azure are supported", path, provider))
			continue
		}
		config, _ := vel["config"].(map[string]any)
		if provider == "aws" && strAt(config, "region") == "" {
			j.fail("R28", Validation, path+".config.region", fmt.Sprintf("region for aws VSL in DPA %s.config is not configured, please ensure a region is configured", path))
			continue
		}
		keys := make([]string, 0, len(config))
		for k := range config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		bad := false
		for _, k := range keys {
			if !slices.Contains(allowed, k) {
				j.fail("R29", Validation, path+".config."+k, fmt.Sprintf("DPA %s.config key %s is not a valid %s config key", path, k, provider))
				bad = true
				break
			}
		}
		if bad {
			continue
		}
		hasPlugin := slices.Contains(plugins, provider) || (provider == "aws" && slices.Contains(plugins, "legacy-aws"))
		if !hasPlugin {
			j.fail("R30", Validation, "spec.configuration.velero.defaultPlugins", fmt.Sprintf("to use VSL for %s specified in DPA spec.snapshotLocations[%d], %s plugin must be present in spec.configuration.velero.defaultPlugins", provider, i, provider))
			continue
		}
		if j.noSecret {
			continue
		}
		if cred, ok := vel["credential"].(map[string]any); ok {
			switch {
			case strAt(cred, "key") == "":
				j.fail("R31", Validation, path+".credential.key", "Secret key specified in SnapshotLocation cannot be empty")
				continue
			case strAt(cred, "name") == "":
				j.fail("R31", Validation, path+".credential.name", "Secret name specified in SnapshotLocation cannot be empty")
				continue
			}
		}
		if strAt(config, "credentialsFile") == "" {
			name, key, _ := secretNameAndKey(nil, vel["credential"], provider)
			j.secretHolds(path+".credential", name, key, true)
		}
	}
}

func (j *judge) nodeAgentAffinity(config map[string]any) {
	na, _ := config["nodeAgent"].(map[string]any)
	pc, hasPC := na["podConfig"].(map[string]any)
	la, hasLA := na["loadAffinity"].([]any)
	if !hasPC || !hasLA {
		return
	}
	const p = "when spec.configuration.nodeAgent.PodConfig is set, "
	path := "spec.configuration.nodeAgent.loadAffinity"
	if len(la) > 1 {
		j.fail("R33", Validation, path, p+"spec.configuration.nodeAgent.LoadAffinityConfig must contain no more than one entry")
		return
	}
	if len(la) == 0 {
		return
	}
	sel, _, _ := unstructured.NestedMap(asMap(la[0]), "nodeSelector")
	ml, hasML := sel["matchLabels"].(map[string]any)
	if !hasML {
		j.fail("R33", Validation, path, p+"spec.configuration.nodeAgent.LoadAffinityConfig must define matchLabels")
		return
	}
	if _, has := sel["matchExpressions"]; has {
		j.fail("R33", Validation, path, p+"spec.configuration.nodeAgent.LoadAffinityConfig must not define matchExpressions")
		return
	}
	ns, _ := pc["nodeSelector"].(map[string]any)
	for k, v := range ns {
		if w, ok := ml[k]; !ok || w != v {
			j.fail("R33", Validation, path, p+"all labels from the spec.configuration.nodeAgent.PodConfig must be present in spec.configuration.nodeAgent.LoadAffinityConfig")
			return
		}
	}
}

// pluginSecrets are the cloud plugins' default secret names.
var pluginSecrets = map[string]string{
	"aws":        "cloud-credentials",
	"legacy-aws": "cloud-credentials",
	"gcp":        "cloud-credentials-gcp",
	"azure":      "cloud-credentials-azure",
}

// plugins is ValidateVeleroPlugins: every location of a cloud plugin that
// needs default credentials has an existing secret; vsm (1.5) and aws with
// legacy-aws are refused.
func (j *judge) plugins(plugins []string, noDefault bool) {
	needs := map[string]bool{}
	for _, l := range sliceAt(j.spec, "backupLocations") {
		if vel, ok := asMap(l)["velero"].(map[string]any); ok {
			p := strings.TrimPrefix(strAt(vel, "provider"), "velero.io/")
			if _, has := vel["credential"]; !has {
				needs[p] = true
			}
		}
	}
	for _, s := range sliceAt(j.spec, "snapshotLocations") {
		if vel, ok := asMap(s)["velero"].(map[string]any); ok {
			p := strings.TrimPrefix(strAt(vel, "provider"), "velero.io/")
			if _, has := vel["credential"]; !has || !j.at("1.5") {
				needs[p] = true
			}
		}
	}
	for _, plugin := range plugins {
		if plugin == "vsm" && j.at("1.5") {
			j.fail("R35", Validation, "spec.configuration.velero.defaultPlugins", j.dataMoverMessage())
			return
		}
		def, cloud := pluginSecrets[plugin]
		if !cloud || !needs[strings.TrimPrefix(plugin, "legacy-")] || noDefault || j.noSecret {
			continue
		}
		var names []string
		for _, key := range []string{"backupLocations", "snapshotLocations"} {
			for _, l := range sliceAt(j.spec, key) {
				vel, ok := asMap(l)["velero"].(map[string]any)
				if !ok || strings.TrimPrefix(strAt(vel, "provider"), "velero.io/") != plugin {
					continue
				}
				name := def
				if cred, ok := vel["credential"].(map[string]any); ok {
					name = strAt(cred, "name")
				}
				if !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
		for _, name := range names {
			if _, ok := j.ns.Secrets[name]; !ok {
				j.fail("R38", Validation, "spec.configuration.velero.defaultPlugins", secretNotFound(name))
				return
			}
		}
	}
	if slices.Contains(plugins, "aws") && slices.Contains(plugins, "legacy-aws") {
		j.fail("R39", Validation, "spec.configuration.velero.defaultPlugins", "aws and legacy-aws can not be both specified in DPA spec.configuration.velero.defaultPlugins")
	}
}

func nonAdminEnabled(dpa *unstructured.Unstructured) bool {
	on, _, _ := unstructured.NestedBool(dpa.Object, "spec", "nonAdmin", "enable")
	return on
}

func (j *judge) nonAdmin() {
	if !nonAdminEnabled(j.ns.DPA) {
		return
	}
	na, _, _ := unstructured.NestedMap(j.spec, "nonAdmin")
	if len(j.ns.NonAdminElsewhere) > 0 {
		j.fail("R40", Validation, "spec.nonAdmin.enable", fmt.Sprintf("only a single instance of Non-Admin Controller can be installed across the entire cluster. Non-Admin controller is already configured and installed in %s namespace", j.ns.NonAdminElsewhere[0]))
		return
	}
	gc, sync := 24*time.Hour, 2*time.Minute
	if d, set := duration(na, "garbageCollectionPeriod"); set {
		if d < 0 {
			j.fail("R40", Validation, "spec.nonAdmin.garbageCollectionPeriod", "DPA spec.nonAdmin.garbageCollectionPeriod can not be negative")
			return
		}
		gc = d
	}
	if d, set := duration(na, "backupSyncPeriod"); set {
		if d < 0 {
			j.fail("R40", Validation, "spec.nonAdmin.backupSyncPeriod", "DPA spec.nonAdmin.backupSyncPeriod can not be negative")
			return
		}
		sync = d
	}
	if gc <= sync {
		j.fail("R40", Validation, "spec.nonAdmin.backupSyncPeriod", fmt.Sprintf("DPA spec.nonAdmin.backupSyncPeriod (%v) can not be greater or equal spec.nonAdmin.garbageCollectionPeriod (%v)", sync, gc))
		return
	}
	if msg := j.defaultBSLSync(sync); msg != "" {
		j.fail("R40", Validation, "spec.nonAdmin.backupSyncPeriod", msg)
		return
	}
	const nonEnforceable = "DPA %s is non-enforceable by admins"
	forbidden := func(spec string, fields ...string) bool {
		m, ok := na[spec].(map[string]any)
		if !ok {
			return false
		}
		msgSpec := strings.Replace(spec, "enforce", "enforced", 1)
		for _, f := range fields {
			v, has := m[f]
			if !has || v == nil || v == "" {
				continue
			}
			p := "spec.nonAdmin." + msgSpec + "." + f
			switch f {
			case "includeClusterResources":
				if v == true {
					j.fail("R40", Validation, p, fmt.Sprintf(nonEnforceable+" as true, must be set to false if enforced by admins", p))
					return true
				}
				continue
			case "includedClusterScopedResources":
				if l, _ := v.([]any); len(l) > 0 {
					j.fail("R40", Validation, p, fmt.Sprintf(nonEnforceable+" and must remain empty", p))
					return true
				}
				continue
			}
			j.fail("R40", Validation, p, fmt.Sprintf(nonEnforceable, p))
			return true
		}
		return false
	}
	if forbidden("enforceBackupSpec", "storageLocation", "volumeSnapshotLocations", "includedNamespaces", "excludedNamespaces", "includeClusterResources", "includedClusterScopedResources") ||
		forbidden("enforceRestoreSpec", "scheduleName", "includedNamespaces", "excludedNamespaces", "namespaceMapping") {
		return
	}
	if d, set := duration(asMap(na["enforceBSLSpec"]), "backupSyncPeriod"); set && d >= sync {
		j.fail("R40", Validation, "spec.nonAdmin.enforceBSLSpec.backupSyncPeriod", fmt.Sprintf("DPA spec.nonAdmin.enforcedBSLSpec.backupSyncPeriod (%v) can not be greater or equal DPA spec.nonAdmin.backupSyncPeriod (%v)", d, sync))
	}
}

// defaultBSLSync compares the namespace's default location's sync period
// with the non-admin one; a location the operator made is read from the
// DPA's spec, as the operator does.
func (j *judge) defaultBSLSync(sync time.Duration) string {
	var def *unstructured.Unstructured
	for _, b := range j.ns.BSLs {
		if on, _, _ := unstructured.NestedBool(b.Object, "spec", "default"); on {
			def = b
			break
		}
	}
	if def == nil {
		return ""
	}
	period, set := duration(asMap(asMap(def.Object)["spec"]), "backupSyncPeriod")
	if def.GetLabels()["app.kubernetes.io/managed-by"] == "oadp-operator" {
		period, set = 0, false
		for _, l := range sliceAt(j.spec, "backupLocations") {
			if vel, ok := asMap(l)["velero"].(map[string]any); ok && boolAt(vel, "default") {
				period, set = duration(vel, "backupSyncPeriod")
				break
			}
		}
	}
	const msg = "default BSL spec.backupSyncPeriod (%v) can not be greater or equal spec.nonAdmin.backupSyncPeriod (%v)"
	if set {
		if sync <= period {
			return fmt.Sprintf(msg, period, sync)
		}
		return ""
	}
	if d, set := duration(asMap(j.velero["args"]), "backup-sync-period"); set {
		if sync <= d {
			return fmt.Sprintf(msg, d, sync)
		}
		return ""
	}
	if sync <= time.Minute {
		return fmt.Sprintf(msg, time.Minute, sync)
	}
	return ""
}

// restic warns about what OADP accepts but Red Hat does not support on STS,
// and repeats the deprecation events the operator emits.
func (j *judge) restic(config map[string]any, hasRestic bool, uploader string) {
	const src = "OADP documentation, OADP-5702 (openshift-docs PR #96679): Restic is not supported on AWS STS; Kopia file-system backup is"
	enabled, _, _ := unstructured.NestedBool(config, "nodeAgent", "enable")
	if uploader == "restic" && !j.at("1.6") {
		msg := "the node agent's uploader is Restic"
		if j.at("1.5") {
			msg += "; the operator emits a DeprecationResticFileSystemBackup warning event"
		}
		if enabled {
			msg += "; Red Hat does not support Restic on AWS STS: use uploaderType kopia"
		}
		j.warnings = append(j.warnings, Warning{Rule: "W-restic", Path: "spec.configuration.nodeAgent.uploaderType", Message: msg, Source: src})
	}
	if hasRestic && !j.at("1.5") {
		msg := "spec.configuration.restic is Restic file-system backup, which Red Hat does not support on AWS STS"
		if j.at("1.3") {
			msg += "; the operator emits a DeprecationResticConfig warning event"
		}
		j.warnings = append(j.warnings, Warning{Rule: "W-restic", Path: "spec.configuration.restic", Message: msg, Source: src})
	}
}

// reconcileLocations is ReconcileBackupStorageLocations: the secret each
// location names is labelled (so it must exist, whatever no-secret skipped),
// and a bucket location's CloudStorage is read again.
func (j *judge) reconcileLocations(locations []any) {
	for _, l := range locations {
		loc := asMap(l)
		vel, hasVel := loc["velero"].(map[string]any)
		bkt, hasBkt := loc["bucket"].(map[string]any)
		var secret string
		switch {
		case hasVel && hasBkt, !hasVel && !hasBkt:
			continue
		case hasBkt:
			secret = strAt(bkt, "credential", "name")
		default:
			config, _ := vel["config"].(map[string]any)
			secret, _, _ = secretNameAndKey(config, vel["credential"], strAt(vel, "provider"))
		}
		if _, ok := j.ns.Secrets[secret]; !ok && !j.reported(secretNotFound(secret)) {
			j.fail("C00", Reconcile, "", secretNotFound(secret))
			return
		}
		// The real 1.4 manager reconciles a bucket location whose
		// CloudStorage is missing (the rules document's reading says it
		// fails; the observed run says otherwise, and the run wins).
		if hasBkt && j.at("1.5") {
			ref := strAt(bkt, "cloudStorageRef", "name")
			if _, ok := j.ns.CloudStorages[ref]; !ok && !j.reported(cloudStorageNotFound(ref)) {
				j.fail("C02", Reconcile, "", cloudStorageNotFound(ref))
				return
			}
		}
	}
}

func (j *judge) reported(msg string) bool {
	return slices.ContainsFunc(j.found, func(f Finding) bool { return f.Message == msg })
}

// registrySecrets is ReconcileRegistrySecrets: with backupImages, every
// velero-type location (the operator labels only those) gets a registry
// secret built from its credential.
func (j *judge) registrySecrets(locations []any) {
	if !j.backupImages() {
		return
	}
	for i, l := range locations {
		loc := asMap(l)
		vel, ok := loc["velero"].(map[string]any)
		if !ok || loc["bucket"] != nil {
			continue
		}
		provider := strAt(vel, "provider")
		bsl, _ := loc["name"].(string)
		if bsl == "" {
			bsl = fmt.Sprintf("%s-%d", j.ns.DPA.GetName(), i+1)
		}
		config, _ := vel["config"].(map[string]any)
		name, key, _ := secretNameAndKey(config, vel["credential"], provider)
		data := j.ns.Secrets[name][key]
		switch provider {
		case "aws":
			if err := parseAWS(data, strOr(strAt(vel, "config", "profile"), "default"), j.at("1.5")); err != "" {
				j.fail("C01", Reconcile, fmt.Sprintf("spec.backupLocations[%d].velero.credential", i), err)
				return
			}
		case "azure":
			if !azureCredentials(data) {
				j.fail("C01", Reconcile, fmt.Sprintf("spec.backupLocations[%d].velero.credential", i), "error finding service principal parameters for the supplied Azure credential")
				return
			}
		}
		secret := "oadp-" + bsl + "-" + provider + "-registry-secret"
		if msgs := validation.IsDNS1123Subdomain(secret); len(msgs) > 0 {
			err := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, secret, field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), secret, strings.Join(msgs, ","))})
			j.fail("C01", Reconcile, fmt.Sprintf("spec.backupLocations[%d].velero.provider", i), err.Error())
			return
		}
	}
}

// sharedConfigMap: on 1.4 every DPA of a namespace writes the same
// node-agent ConfigMap; the one created first owns it and the others fail.
func (j *judge) sharedConfigMap() {
	if j.at("1.5") || !j.at("1.4") {
		return
	}
	me := j.ns.DPA
	for _, o := range j.ns.Others {
		mine, theirs := me.GetCreationTimestamp(), o.GetCreationTimestamp()
		older := theirs.Before(&mine) || (theirs.Equal(&mine) && o.GetName() < me.GetName())
		if older {
			j.fail("C03", Reconcile, "", fmt.Sprintf("Object %s/fs-restore-action-config is already owned by another DataProtectionApplication controller %s", me.GetNamespace(), o.GetName()))
			return
		}
	}
}

func secretNotFound(name string) string { return fmt.Sprintf("Secret %q not found", name) }

func cloudStorageNotFound(name string) string {
	return fmt.Sprintf("CloudStorage.oadp.openshift.io %q not found", name)
}

// secretNameAndKey is the operator's getSecretNameAndKey: the plugin's
// default secret, else the credential, else config.credentialsFile
// ("name/key"), which also turns the content check off.
func secretNameAndKey(config map[string]any, credential any, provider string) (name, key string, fromFile bool) {
	if def, ok := pluginSecrets[provider]; ok {
		name, key = def, "cloud"
	}
	if cred, ok := credential.(map[string]any); ok {
		name, key = strAt(cred, "name"), strAt(cred, "key")
	}
	if cf := strAt(config, "credentialsFile"); cf != "" {
		if n, k, ok := strings.Cut(cf, "/"); ok {
			return n, k, true
		}
	}
	return name, key, false
}

// parseAWS finds the profile in an AWS shared-credentials file. With sts
// (1.5 on) a web-identity profile passes; 1.4 knows only access keys. It
// returns the operator's message, "" when the profile passes.
func parseAWS(data []byte, profile string, sts bool) string {
	var inProfile, found bool
	fields := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			inProfile = strings.ReplaceAll(line, " ", "") == "["+profile+"]"
			found = found || inProfile
			continue
		}
		if k, v, ok := strings.Cut(line, "="); inProfile && ok && strings.TrimSpace(v) != "" {
			fields[strings.TrimSpace(k)] = true
		}
	}
	switch {
	case !found:
		return "error finding AWS Profile for the supplied AWS credential"
	case sts && (fields["role_arn"] || fields["web_identity_token_file"] || fields["sts_regional_endpoints"]):
		return ""
	case sts && !fields["aws_access_key_id"] && !fields["aws_secret_access_key"]:
		return "no credentials or STS fields found in profile " + profile
	case !fields["aws_access_key_id"]:
		return "error finding access key id for the supplied AWS credential"
	case !fields["aws_secret_access_key"]:
		return "error finding secret access key for the supplied AWS credential"
	}
	return ""
}

// azureCredentials reports whether an Azure credentials file has a storage
// account key or a service principal.
func azureCredentials(data []byte) bool {
	vals := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if vals["AZURE_STORAGE_ACCOUNT_ACCESS_KEY"] != "" {
		return true
	}
	for _, k := range []string{"AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_RESOURCE_GROUP"} {
		if vals[k] == "" {
			return false
		}
	}
	return true
}
