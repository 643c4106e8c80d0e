package manifests

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// SupportedOADPVersions are the operator minor versions the plugin knows the
// rules of. 1.6's DPA is shaped as 1.5's (its release notes add only what the
// plugin never writes, such as uploaderType restic being refused).
var SupportedOADPVersions = []string{"1.2", "1.3", "1.4", "1.5", "1.6"}

// RuleError is a DPA rule the OADP operator enforces at reconcile time (it has
// no admission webhook: a broken DPA is accepted by the API server and then
// never reconciles). Checking them client-side turns a silent stuck DPA into
// an error before anything is sent.
type RuleError struct {
	Rule    string // short identifier, e.g. "no-datamover"
	Path    string // field path
	Message string // what the operator says, or would
}

func (e RuleError) Error() string {
	return fmt.Sprintf("%s: %s (rule %s)", e.Path, e.Message, e.Rule)
}

// ValidateDPA checks a DataProtectionApplication against the rules of the
// OADP minor version, and against what works on STS.
func ValidateDPA(dpa *unstructured.Unstructured, oadp string) []RuleError {
	var errs []RuleError
	add := func(rule, path, format string, a ...any) {
		errs = append(errs, RuleError{Rule: rule, Path: path, Message: fmt.Sprintf(format, a...)})
	}
	spec, _, _ := unstructured.NestedMap(dpa.Object, "spec")
	ge13 := versions.CompareMinor(oadp, "1.3") >= 0

	if _, found, _ := unstructured.NestedFieldNoCopy(spec, "features", "dataMover"); found && ge13 {
		add("no-datamover", "spec.features.dataMover",
			"OADP %s rejects the dataMover object: \"Delete vsm from spec.configuration.velero.defaultPlugins and dataMover object from spec.features\"", oadp)
	}
	config, hasConfig, _ := unstructured.NestedMap(spec, "configuration")
	if !hasConfig {
		add("configuration-required", "spec.configuration", "is required")
	}
	velero, hasVelero, _ := unstructured.NestedMap(config, "velero")
	if hasConfig && !hasVelero {
		add("velero-required", "spec.configuration.velero", "is required by the operator")
	}
	_, hasRestic, _ := unstructured.NestedMap(config, "restic")
	nodeAgent, hasNodeAgent, _ := unstructured.NestedMap(config, "nodeAgent")
	switch {
	case versions.CompareMinor(oadp, "1.5") >= 0 && hasRestic:
		add("no-restic", "spec.configuration.restic", "OADP %s rejects it: \"Delete restic object from spec.configuration, use spec.configuration.nodeAgent instead\"", oadp)
	case ge13 && hasRestic && hasNodeAgent:
		add("restic-xor-nodeagent", "spec.configuration", "OADP %s rejects restic and nodeAgent together", oadp)
	case !ge13 && hasNodeAgent:
		add("no-nodeagent", "spec.configuration.nodeAgent", "OADP %s has no nodeAgent; use configuration.restic", oadp)
	}
	if hasNodeAgent {
		ut, _, _ := unstructured.NestedString(nodeAgent, "uploaderType")
		if ut == "" {
			add("uploader-type-required", "spec.configuration.nodeAgent.uploaderType", "is required (kopia or restic)")
		}
		if on, _, _ := unstructured.NestedBool(nodeAgent, "enable"); on && ut == "restic" {
			add("no-restic-on-sts", "spec.configuration.nodeAgent", "Restic is not supported on AWS STS; use uploaderType kopia or keep the node agent off")
		}
	}

	plugins, _, _ := unstructured.NestedStringSlice(velero, "defaultPlugins")
	if ge13 && slices.Contains(plugins, "vsm") {
		add("no-vsm", "spec.configuration.velero.defaultPlugins", "OADP %s rejects the vsm plugin", oadp)
	}
	if slices.Contains(plugins, "aws") && slices.Contains(plugins, "legacy-aws") {
		add("aws-xor-legacy-aws", "spec.configuration.velero.defaultPlugins", "aws and legacy-aws cannot both be set")
	}
	if versions.CompareMinor(oadp, "1.4") < 0 && slices.Contains(plugins, "legacy-aws") {
		add("no-legacy-aws", "spec.configuration.velero.defaultPlugins", "legacy-aws exists from OADP 1.4")
	}

	backupImages := true
	if v, found, _ := unstructured.NestedBool(spec, "backupImages"); found {
		backupImages = v
	}
	noDefault, _, _ := unstructured.NestedBool(velero, "noDefaultBackupLocation")
	locations, _, _ := unstructured.NestedSlice(spec, "backupLocations")
	if noDefault {
		if len(locations) > 0 {
			add("no-default-means-no-locations", "spec.backupLocations", "must be empty when noDefaultBackupLocation is true")
		}
		if backupImages {
			add("no-default-means-no-images", "spec.backupImages", "must be false when noDefaultBackupLocation is true")
		}
	} else if len(locations) == 0 {
		add("location-required", "spec.backupLocations", "at least one backup location is required (or set noDefaultBackupLocation)")
	}
	defaults := 0
	for i, l := range locations {
		loc, _ := l.(map[string]any)
		path := fmt.Sprintf("spec.backupLocations[%d]", i)
		bucket, hasBucket, _ := unstructured.NestedMap(loc, "bucket")
		vel, hasVel, _ := unstructured.NestedMap(loc, "velero")
		name, _, _ := unstructured.NestedString(loc, "name")
		var isDefault bool
		switch {
		case hasBucket && hasVel:
			add("bucket-xor-velero", path, "must choose one of bucket or velero")
			continue
		case hasBucket:
			isDefault, _, _ = unstructured.NestedBool(bucket, "default")
			if n, _, _ := unstructured.NestedString(bucket, "cloudStorageRef", "name"); n == "" {
				add("cloudstorage-ref", path+".bucket.cloudStorageRef.name", "is required")
			}
			credName, _, _ := unstructured.NestedString(bucket, "credential", "name")
			credKey, _, _ := unstructured.NestedString(bucket, "credential", "key")
			if credName == "" || credKey == "" {
				add("credential-required", path+".bucket.credential", "must provide a valid credential secret (name and key); on STS use {name: cloud-credentials, key: credentials}")
			}
			if prefix, _, _ := unstructured.NestedString(bucket, "prefix"); prefix == "" && backupImages {
				add("prefix-required", path+".bucket.prefix", "BackupLocation must have cloud storage prefix when backupImages is not set to false")
			}
			if r, _, _ := unstructured.NestedString(bucket, "config", "region"); r == "" {
				add("region-required", path+".bucket.config.region", "set the region explicitly on STS (the bucket's region cannot be discovered without credentials)")
			}
		case hasVel:
			isDefault, _, _ = unstructured.NestedBool(vel, "default")
			provider, _, _ := unstructured.NestedString(vel, "provider")
			if !slices.Contains([]string{"aws", "velero.io/aws", "azure", "gcp"}, provider) {
				add("provider", path+".velero.provider", "invalid provider %q", provider)
			}
			if provider == "aws" || provider == "velero.io/aws" {
				if b, _, _ := unstructured.NestedString(vel, "objectStorage", "bucket"); b == "" {
					add("bucket-required", path+".velero.objectStorage.bucket", "is required")
				}
				if p, _, _ := unstructured.NestedString(vel, "objectStorage", "prefix"); p == "" && backupImages {
					add("prefix-required", path+".velero.objectStorage.prefix", "BackupLocation must have cloud storage prefix when backupImages is not set to false")
				}
				if r, _, _ := unstructured.NestedString(vel, "config", "region"); r == "" {
					add("region-required", path+".velero.config.region", "is required on STS and with s3ForcePathStyle")
				}
			}
		default:
			add("bucket-xor-velero", path, "must set one of bucket or velero")
			continue
		}
		if isDefault {
			defaults++
		}
		if name == "default" && !isDefault {
			add("default-name", path+".name", "a location named default must be the default location")
		}
	}
	if !noDefault && len(locations) > 0 && defaults != 1 {
		add("one-default", "spec.backupLocations", "exactly one location must have default: true (found %d)", defaults)
	}

	snaps, _, _ := unstructured.NestedSlice(spec, "snapshotLocations")
	for i, s := range snaps {
		sl, _ := s.(map[string]any)
		path := fmt.Sprintf("spec.snapshotLocations[%d].velero", i)
		vel, found, _ := unstructured.NestedMap(sl, "velero")
		if !found {
			add("vsl-velero-required", path, "is required")
			continue
		}
		if p, _, _ := unstructured.NestedString(vel, "provider"); p == "aws" {
			cfg, _, _ := unstructured.NestedStringMap(vel, "config")
			if cfg["region"] == "" {
				add("vsl-region-required", path+".config.region", "is required for provider aws")
			}
			for k := range cfg {
				if !slices.Contains([]string{"region", "profile", "credentialsFile", "enableSharedConfig"}, k) {
					add("vsl-config-keys", path+".config."+k, "is not allowed for provider aws (only region, profile, credentialsFile, enableSharedConfig)")
				}
			}
			if !slices.Contains(plugins, "aws") && !slices.Contains(plugins, "legacy-aws") {
				add("vsl-needs-aws-plugin", "spec.configuration.velero.defaultPlugins", "must include aws when a snapshot location uses provider aws")
			}
		}
	}
	return errs
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidateBucketName applies S3's general-purpose bucket naming rules.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket name %q is not valid for S3: %s; choose another with --bucket", name, why)
	}
	switch {
	case len(name) < 3 || len(name) > 63:
		return bad("it must be 3 to 63 characters long")
	case !bucketName.MatchString(name):
		return bad("use only lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit")
	case strings.Contains(name, ".."):
		return bad("it must not contain two adjacent dots")
	case net.ParseIP(name) != nil:
		return bad("it must not look like an IP address")
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-"):
		return bad("that prefix is reserved")
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3"):
		return bad("that suffix is reserved")
	}
	return nil
}

// ValidateOptions checks the options before anything is built or sent.
// clusterRegion is the cluster's region, "" when unknown.
func ValidateOptions(o Options, clusterRegion string) error {
	o = o.WithDefaults()
	var errs []string
	if !slices.Contains(SupportedOADPVersions, o.OADPVersion) {
		errs = append(errs, fmt.Sprintf("unknown OADP version %q: use --oadp-version with one of %s", o.OADPVersion, strings.Join(SupportedOADPVersions, ", ")))
	}
	if o.Snapshots != SnapshotsCSI && o.Snapshots != SnapshotsNative {
		errs = append(errs, fmt.Sprintf("unknown snapshot mode %q: use --snapshots=csi or --snapshots=native", o.Snapshots))
	}
	if o.Snapshots == SnapshotsNative && clusterRegion != "" && o.SnapshotRegion != clusterRegion {
		errs = append(errs, fmt.Sprintf("--snapshot-region %q differs from the cluster's region %q: EBS snapshots live in the volumes' region, and cross-region restore is not supported on STS", o.SnapshotRegion, clusterRegion))
	}
	if o.FSBackup && o.OADPVersion == "1.2" {
		errs = append(errs, "--fs-backup needs OADP 1.3 or later: OADP 1.2 backs up file systems only with Restic, which is not supported on AWS STS")
	}
	if o.Region == "" {
		errs = append(errs, "no AWS region: the cluster reports none; pass --region")
	}
	if err := ValidateBucketName(o.Bucket); err != nil {
		errs = append(errs, err.Error())
	}
	for flag, name := range map[string]string{"--dpa-name": o.DPAName, "--cloudstorage-name": o.CloudStorageName, "-n": o.Namespace} {
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("%s %q is not a valid name: %s", flag, name, strings.Join(msgs, "; ")))
		}
	}
	for _, res := range []map[string]string{o.VeleroRequests, o.VeleroLimits} {
		for k, v := range res {
			if _, err := resource.ParseQuantity(v); err != nil {
				errs = append(errs, fmt.Sprintf("velero %s %q is not a quantity (examples: 500m, 1, 256Mi)", k, v))
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	if rules := ValidateDPA(DPA(o), o.OADPVersion); len(rules) > 0 {
		return fmt.Errorf("the DataProtectionApplication would be rejected by OADP %s: %v", o.OADPVersion, rules[0])
	}
	return nil
}
