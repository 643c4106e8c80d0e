package dparules

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
