package dparules

import (
	"fmt"
	"strings"
)

// backupLocations is ValidateBackupStorageLocations: each location in
// turn (velero or bucket, the prefix, its secret, the default name, the
// provider's own checks), then the default-location counts.
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
	if vel != nil {
		return j.veleroSecretData(path, loc, vel)
	}
	return j.bucketSecretData(path, bkt)
}

// veleroSecretData is secretData for a location with a velero block.
func (j *judge) veleroSecretData(path string, loc, vel map[string]any) bool {
	n := len(j.found)
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

// bucketSecretData is secretData for a location with a bucket block (a
// CloudStorage); 1.5 and 1.4 ask in different orders.
func (j *judge) bucketSecretData(path string, bkt map[string]any) bool {
	n := len(j.found)
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
