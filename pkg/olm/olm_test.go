package olm

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestCSVVersion(t *testing.T) {
	for in, want := range map[string]string{
		"oadp-operator.v1.5.2": "1.5.2", "oadp-operator.v1.6.0-rc.1": "1.6.0-rc.1",
		"oadp-operator": "", "oadp-operator.vnext": "", "": "",
	} {
		if got := CSVVersion(in); got != want {
			t.Errorf("CSVVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTargetMatches(t *testing.T) {
	byMinor := Target{Minor: "1.5"}
	byName := Target{CSV: "oadp-operator.v1.5.2", Minor: "1.5"}
	for _, c := range []struct {
		t    Target
		csv  string
		want bool
	}{
		{byMinor, "oadp-operator.v1.5.3", true},
		{byMinor, "oadp-operator.v1.6.0", false},
		{byMinor, "oadp-operator.v1.15.0", false},
		{byName, "oadp-operator.v1.5.2", true},
		{byName, "oadp-operator.v1.5.3", false}, // the catalog named one CSV: only that one
	} {
		if got := c.t.Matches(c.csv); got != c.want {
			t.Errorf("%v matches %s = %v, want %v", c.t, c.csv, got, c.want)
		}
	}
}

func packageManifest(channels ...any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "redhat-oadp-operator"},
		"status":   map[string]any{"channels": channels},
	}}
}

func TestStartingCSV(t *testing.T) {
	stable := map[string]any{"name": "stable", "currentCSV": "oadp-operator.v1.6.1", "entries": []any{
		map[string]any{"name": "oadp-operator.v1.6.1", "version": "1.6.1"},
		map[string]any{"name": "oadp-operator.v1.6.0", "version": "1.6.0"},
		map[string]any{"name": "oadp-operator.v1.5.10", "version": "1.5.10"},
		map[string]any{"name": "oadp-operator.v1.5.9", "version": "1.5.9"},
	}}
	headOnly := map[string]any{"name": "stable-1.4", "currentCSV": "oadp-operator.v1.4.5"}
	pm := packageManifest(stable, headOnly)
	for _, c := range []struct {
		channel, minor, want, err string
	}{
		{"stable", "1.6", "oadp-operator.v1.6.1", ""},
		{"stable", "1.5", "oadp-operator.v1.5.10", ""}, // numeric, not string, order
		{"stable-1.4", "1.4", "oadp-operator.v1.4.5", ""},
		{"stable", "1.4", "", `channel "stable" of package redhat-oadp-operator carries no OADP 1.4 (it has 1.5.9, 1.5.10, 1.6.0, 1.6.1)`},
		{"stable-1.3", "1.3", "", `package redhat-oadp-operator has no channel "stable-1.3" (it has stable, stable-1.4)`},
	} {
		got, err := StartingCSV(pm, c.channel, c.minor)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %s: error %v, want %q", c.channel, c.minor, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s %s: %q, %v; want %q", c.channel, c.minor, got, err, c.want)
		}
	}
}

func TestPlanPendingAndVersion(t *testing.T) {
	ip := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "install-abcde"},
		"spec":     map[string]any{"approval": "Manual", "approved": false, "clusterServiceVersionNames": []any{"oadp-operator.v1.6.0"}},
		"status":   map[string]any{"phase": "RequiresApproval"},
	}}
	p := PlanOf(ip)
	if !p.Pending() || p.Version() != "1.6.0" || !p.Installs(Target{Minor: "1.6"}) || p.Installs(Target{Minor: "1.5"}) {
		t.Errorf("plan %+v: want pending, 1.6.0, installing 1.6 only", p)
	}
	ip.Object["spec"].(map[string]any)["approved"] = true
	if PlanOf(ip).Pending() {
		t.Errorf("an approved plan is not pending")
	}
}
