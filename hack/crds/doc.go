// Package crds holds the tests of the CRD fixtures' discovery and download:
// hack/crds.sh, hack/crds.sha256 and the Makefile targets that use them, run
// from a copy of the Makefile's files in an empty directory.
package crds
