package versions

import "testing"

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b      string
		all, minr int
	}{
		{"1.4.2", "1.10", -1, -1}, {"v1.5.0-rc.1", "1.5", 0, 0}, {"4.16.8", "4.16", 1, 0},
		{"4.19", "4.14", 1, 1}, {"", "1.3", -1, -1}, {"1.3", "1.3.0", 0, 0},
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
