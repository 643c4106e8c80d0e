// Package versions compares the dotted numeric versions of OpenShift and
// OADP ("4.16.8", "1.4", "v1.5.0-rc.1").
package versions

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"
)

// Compare compares dotted numeric versions ("1.4.2" vs "1.10"),
// ignoring a leading "v" and any pre-release suffix.
func Compare(a, b string) int { return compare(parse(a), parse(b)) }

func compare(a, b *version.Version) int {
	switch {
	case a.LessThan(b):
		return -1
	case b.LessThan(a):
		return 1
	}
	return 0
}

// parse reads a version leniently, as OpenShift and OLM write them ("4.16.8",
// "v1.5.0-rc.1", "4.15.0-0.okd-2024-03-10-010116"): a bare major ("4") is
// "4.0", and what is no version at all ("", "banana") is 0.0, older than any.
func parse(v string) *version.Version {
	if p, err := version.ParseGeneric(v); err == nil {
		return p
	}
	if p, err := version.ParseGeneric(v + ".0"); err == nil {
		return p
	}
	return version.MajorMinor(0, 0)
}

// Minor returns "X.Y" of a version like "1.4.2" or "4.16.8", and "" for
// anything without both.
func Minor(v string) string {
	p, err := version.ParseGeneric(v)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d.%d", p.Major(), p.Minor())
}

// CompareMinor compares only the first two numbers: "4.16.8" and "4.16"
// are the same minor version.
func CompareMinor(a, b string) int {
	pa, pb := parse(a), parse(b)
	return compare(version.MajorMinor(pa.Major(), pa.Minor()), version.MajorMinor(pb.Major(), pb.Minor()))
}
