//go:build tools

// Package tools pins krew and its manifest validator, which the distribution
// tests run against the rendered krew manifest and the release archive.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
