// Package version holds the build's version and commit, set by the linker
// (-ldflags "-X ...") from git in the Makefile.
package version

import "runtime/debug"

var (
	// Version is the release tag, or "dev" for a local build.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = ""
)

// Info is what `version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Get returns the build's version information.
func Get() Info {
	info := Info{Version: Version, Commit: Commit}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.GoVersion = bi.GoVersion
	}
	return info
}

// UserAgent names the plugin in API server audit logs and AWS request logs.
func UserAgent() string { return "kubectl-oadp_sts/" + Version }
