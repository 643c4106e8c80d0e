package dparules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

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
		bsl = cmp.Or(bsl, fmt.Sprintf("%s-%d", j.ns.DPA.GetName(), i+1))
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
