package versions

import "testing"

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b      string
		all, minr int
	}{
		{"1.4.2", "1.10", -1, -1}, {"v1.5.0-rc.1", "1.5", 0, 0}, {"4.16.8", "4.16", 1, 0},
		{"4.19", "4.14", 1, 1}, {"", "1.3", -1, -1}, {"1.3", "1.3.0", 0, 0},
		{"4", "3.9", 1, 1}, {"banana", "0.1", -1, -1}, {"4.15.0-0.okd-2024-03-10-010116", "4.15", 0, 0},
	} {
		if got := Compare(c.a, c.b); got != c.all {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.all)
		}
		if got := CompareMinor(c.a, c.b); got != c.minr {
			t.Errorf("CompareMinor(%q, %q) = %d, want %d", c.a, c.b, got, c.minr)
		}
	}
	if Minor("1.4.2") != "1.4" || Minor("4") != "" {
		t.Errorf("Minor: %q %q", Minor("1.4.2"), Minor("4"))
	}
}

// The default OADP version per OpenShift version, as Red Hat's support matrix
// has it; the OKD version strings are real ones.
func TestDefaultOADP(t *testing.T) {
	for v, want := range map[string]string{
		"4.10.3": "1.2", "4.11.59": "1.2", "4.12.0": "1.3", "4.13.40": "1.3", "4.14.1": "1.4", "4.16.33": "1.4",
		"4.18.9": "1.4", "4.19.0": "1.5", "4.21.7": "1.5", "4.22.3": "1.6", "5.0.1": "1.6", "6.1": "1.6",
		"4.15.0-0.okd-2024-03-10-010116": "1.4", "4.19.0-okd-scos.4": "1.5", "": "1.4", "banana": "1.4",
	} {
		if got := DefaultOADP(v); got != want {
			t.Errorf("DefaultOADP(%q) = %s, want %s", v, got, want)
		}
	}
}
