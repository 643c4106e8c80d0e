package dparules

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var vslConfigKeys = map[string][]string{
	"aws":   {"region", "profile", "credentialsFile", "enableSharedConfig"},
	"gcp":   {"project", "snapshotLocation"},
	"azure": {"apiTimeout", "incremental", "subscriptionId", "resourceGroup"},
}

// snapshotLocations is ValidateVolumeSnapshotLocations: provider, region,
// config keys, the plugin, the credential and its secret, per location.
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
