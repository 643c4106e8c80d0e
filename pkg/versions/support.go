package versions

// oadpSupport is Red Hat's OADP support matrix, newest OADP first: each OADP
// minor version and the OpenShift minor versions it supports (docs.redhat.com
// "Supported versions of OADP" for 1.2 to 1.5; the OADP 1.6 release notes,
// openshift-docs PR #112544, for 4.22 and 5.0). OpenShift 5.x is listed
// under 1.6 too.
var oadpSupport = []struct{ oadp, from, to string }{
	{"1.6", "4.22", "5.99"},
	{"1.5", "4.19", "4.21"},
	{"1.4", "4.14", "4.18"},
	{"1.3", "4.12", "4.15"},
	{"1.2", "4.11", "4.14"},
}

// DefaultOADP is the newest OADP minor version Red Hat supports on an
// OpenShift version: 1.2 on 4.11, 1.3 on 4.12 and 4.13, 1.4 on 4.14 to 4.18,
// 1.5 on 4.19 to 4.21, 1.6 from 4.22 (and 5.0). Older than the matrix gives
// its oldest (1.2), newer its newest; an unknown version gives 1.4, the one
// that spans the most OpenShift releases.
func DefaultOADP(openshift string) string {
	if openshift == "" || Minor(openshift) == "" {
		return "1.4"
	}
	for _, s := range oadpSupport {
		if CompareMinor(openshift, s.from) >= 0 && CompareMinor(openshift, s.to) <= 0 {
			return s.oadp
		}
	}
	if CompareMinor(openshift, oadpSupport[0].to) > 0 {
		return oadpSupport[0].oadp
	}
	return oadpSupport[len(oadpSupport)-1].oadp
}
