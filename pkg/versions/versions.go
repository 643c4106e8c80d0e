// Package versions compares the dotted numeric versions of OpenShift and
// OADP ("4.16.8", "1.4", "v1.5.0-rc.1").
package versions

import (
	"fmt"
	"strings"
)

// Compare compares dotted numeric versions ("1.4.2" vs "1.10"),
// ignoring a leading "v" and any pre-release suffix.
func Compare(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionParts(v string) []int {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	var out []int
	for _, p := range strings.Split(v, ".") {
		n := 0
		fmt.Sscanf(p, "%d", &n)
		out = append(out, n)
	}
	return out
}

// Minor returns "X.Y" of a version like "1.4.2" or "4.16.8".
func Minor(v string) string {
	p := versionParts(v)
	if len(p) < 2 {
		return ""
	}
	return fmt.Sprintf("%d.%d", p[0], p[1])
}

// CompareMinor compares only the first two numbers: "4.16.8" and "4.16"
// are the same minor version.
func CompareMinor(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	return Compare(join2(pa), join2(pb))
}

func join2(p []int) string {
	for len(p) < 2 {
		p = append(p, 0)
	}
	return fmt.Sprintf("%d.%d", p[0], p[1])
}
