// Package olm decides what setup asks of OLM and what status reports of it:
// which CSV a Subscription starts at, which InstallPlan is the one of the
// version setup installs (the only one it approves with Manual approval), and
// which InstallPlans wait for an approval. Manual approval is the point on
// STS: a new operator version can need IAM actions the role lacks, so an
// upgrade waits for a person (openshift/console PR #12774's STS design).
//
// The objects are OLM v0's (operator-framework/api v1alpha1 types, read as
// unstructured): InstallPlan spec.approval, spec.approved,
// spec.clusterServiceVersionNames, status.phase; Subscription
// status.installPlanRef and status.installedCSV; the package server's
// PackageManifest status.channels[].entries.
package olm

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Values of Subscription spec.installPlanApproval and InstallPlan spec.approval.
const (
	Manual    = "Manual"
	Automatic = "Automatic"
)

// PhaseRequiresApproval is an InstallPlan that waits for spec.approved.
const PhaseRequiresApproval = "RequiresApproval"

// NormalizeApproval accepts the flag's value in any case and returns OLM's
// spelling; ok is false for anything else.
func NormalizeApproval(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "manual":
		return Manual, true
	case "automatic":
		return Automatic, true
	}
	return "", false
}

// CSVVersion is the version in a CSV's name: "oadp-operator.v1.5.2" gives
// "1.5.2", "" when the name carries none.
func CSVVersion(csv string) string {
	i := strings.LastIndex(csv, ".v")
	if i < 0 || versions.Minor(csv[i+2:]) == "" {
		return ""
	}
	return csv[i+2:]
}

// Target is the CSV setup installs: by name when the catalog told it (the
// Subscription's startingCSV), else any CSV of the OADP minor version.
type Target struct {
	Namespace, Subscription string
	CSV                     string
	Minor                   string
}

// Matches says whether a CSV is the target's.
func (t Target) Matches(csv string) bool {
	if t.CSV != "" {
		return csv == t.CSV
	}
	v := CSVVersion(csv)
	return v != "" && versions.Minor(v) == t.Minor
}

func (t Target) String() string {
	if t.CSV != "" {
		return t.CSV
	}
	return "OADP " + t.Minor
}

// Plan is what status and setup read of an InstallPlan.
type Plan struct {
	Name     string   `json:"name"`
	CSVs     []string `json:"clusterServiceVersionNames"`
	Approval string   `json:"approval"`
	Approved bool     `json:"approved"`
	Phase    string   `json:"phase"`
}

// PlanOf reads an InstallPlan.
func PlanOf(o *unstructured.Unstructured) Plan {
	p := Plan{Name: o.GetName()}
	p.CSVs, _, _ = unstructured.NestedStringSlice(o.Object, "spec", "clusterServiceVersionNames")
	p.Approval, _, _ = unstructured.NestedString(o.Object, "spec", "approval")
	p.Approved, _, _ = unstructured.NestedBool(o.Object, "spec", "approved")
	p.Phase, _, _ = unstructured.NestedString(o.Object, "status", "phase")
	return p
}

// Pending is a plan that waits for an approval.
func (p Plan) Pending() bool { return !p.Approved && p.Phase == PhaseRequiresApproval }

// Installs says whether the plan installs the target's CSV.
func (p Plan) Installs(t Target) bool { return slices.ContainsFunc(p.CSVs, t.Matches) }

// Version is the OADP version the plan would install: the version of its
// first CSV that names one.
func (p Plan) Version() string {
	for _, c := range p.CSVs {
		if v := CSVVersion(c); v != "" {
			return v
		}
	}
	return ""
}

// StartingCSV picks, from a PackageManifest, the newest CSV of channel whose
// version is of the OADP minor version. It fails with the versions the
// channel does carry, so the user can choose another --oadp-version or
// --channel.
func StartingCSV(pm *unstructured.Unstructured, channel, minor string) (string, error) {
	channels, _, _ := unstructured.NestedSlice(pm.Object, "status", "channels")
	var carried []string
	for _, c := range channels {
		cm, _ := c.(map[string]any)
		if cm["name"] != channel {
			continue
		}
		best, bestV := "", ""
		entries, _, _ := unstructured.NestedSlice(cm, "entries")
		if len(entries) == 0 { // older package servers: only the head
			if head, _ := cm["currentCSV"].(string); head != "" {
				entries = []any{map[string]any{"name": head}}
			}
		}
		for _, e := range entries {
			em, _ := e.(map[string]any)
			name, _ := em["name"].(string)
			v, _ := em["version"].(string)
			if v == "" {
				v = CSVVersion(name)
			}
			if v == "" {
				continue
			}
			carried = append(carried, v)
			if versions.Minor(v) == minor && (bestV == "" || versions.Compare(v, bestV) > 0) {
				best, bestV = name, v
			}
		}
		if best != "" {
			return best, nil
		}
		slices.SortFunc(carried, versions.Compare)
		return "", fmt.Errorf("channel %q of package %s carries no OADP %s (it has %s): pass --oadp-version with one of those, or --channel",
			channel, pm.GetName(), minor, orNone(strings.Join(carried, ", ")))
	}
	var names []string
	for _, c := range channels {
		if cm, _ := c.(map[string]any); cm["name"] != nil {
			names = append(names, fmt.Sprint(cm["name"]))
		}
	}
	return "", fmt.Errorf("package %s has no channel %q (it has %s): pass --channel with one of those", pm.GetName(), channel, orNone(strings.Join(names, ", ")))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
