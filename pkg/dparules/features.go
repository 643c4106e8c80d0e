package dparules

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

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
