// Package gitops writes the cluster objects setup applies as files a GitOps
// tool applies instead: a kustomize base and one overlay per cluster
// (Kustomize), or for an ACM hub one Policy, Placement and PlacementBinding
// per cluster (ACM). It takes a list of clusters, each with the objects setup
// would apply there (pkg/manifests.Build), so one setup and a fleet of them
// write the same tree. The split into files is pure (Kustomize, ACM); Write
// only puts the files on disk.
package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Formats of setup's --format.
const (
	FormatKustomize = "kustomize"
	FormatACM       = "acm"
)

// Formats lists the formats Write knows, for help and completion.
var Formats = []string{FormatKustomize, FormatACM}

// Cluster is one cluster's input: its name (the overlay's directory, and the
// ManagedCluster a hub knows it by), the objects setup would apply there in
// the order it applies them, and the values particular to it (the role ARN,
// bucket, region, names), keyed by the placeholder the base shows instead.
type Cluster struct {
	Name    string
	Objects []*unstructured.Unstructured
	// Values only make the base read as no one cluster's: every overlay
	// says its own value for each field the base shows a placeholder in.
	Values map[string]string
}

// File is one file to write: a path relative to the output directory.
type File struct {
	Path string
	Data []byte
}

// nameRE is what a cluster's name must be to name a directory, a Placement
// and a label value: a DNS label.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Check refuses clusters that cannot each have their own directory.
func Check(clusters []Cluster) error {
	if len(clusters) == 0 {
		return errors.New("no cluster to write")
	}
	seen := map[string]bool{}
	for _, c := range clusters {
		if !nameRE.MatchString(c.Name) {
			return fmt.Errorf("cluster name %q cannot name an overlay directory or a ManagedCluster (a DNS label: lower-case letters, digits and '-', at most 63): set --cluster-name", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("two clusters are named %q: each needs its own overlay; set --cluster-name", c.Name)
		}
		seen[c.Name] = true
		if len(c.Objects) == 0 {
			return fmt.Errorf("cluster %s has no objects to write", c.Name)
		}
	}
	return nil
}

// Files returns the files of format for clusters.
func Files(format string, clusters []Cluster) ([]File, error) {
	if err := Check(clusters); err != nil {
		return nil, err
	}
	switch format {
	case FormatKustomize:
		return Kustomize(clusters)
	case FormatACM:
		return ACM(clusters)
	}
	return nil, fmt.Errorf("--format must be %s, not %q", strings.Join(Formats, " or "), format)
}

// Write writes the files of format under dir and returns their paths. Files
// are 0600 and directories 0700: they describe the account's role and bucket,
// and the credentials profile names the role, for the user to share on purpose.
func Write(dir, format string, clusters []Cluster) ([]string, error) {
	files, err := Files(format, clusters)
	if err != nil {
		return nil, err
	}
	if kept := keptACM(dir, clusters); format == FormatACM && len(kept) > 0 {
		if files, err = acm(clusters, kept); err != nil {
			return nil, err
		}
	}
	if err := keepsOtherOverlays(dir, files, clusters); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return paths, fmt.Errorf("cannot create --output-dir %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			return paths, fmt.Errorf("cannot write %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// keepsOtherOverlays refuses to write a base unlike the one in dir while dir
// holds overlays of other clusters: those patch the base they were written
// against, and would no longer give their clusters' objects. Clusters of the
// same shape written one run at a time share one base (their own values are
// placeholders there), so that case writes.
func keepsOtherOverlays(dir string, files []File, clusters []Cluster) error {
	entries, err := os.ReadDir(filepath.Join(dir, "clusters"))
	if err != nil {
		return nil // no overlays yet (or none readable): nothing to keep
	}
	mine := map[string]bool{}
	for _, c := range clusters {
		mine[c.Name] = true
	}
	var others []string
	for _, e := range entries {
		if e.IsDir() && !mine[e.Name()] {
			others = append(others, e.Name())
		}
	}
	if len(others) == 0 {
		return nil
	}
	want := map[string][]byte{}
	for _, f := range files {
		if strings.HasPrefix(f.Path, "base/") {
			want[strings.TrimPrefix(f.Path, "base/")] = f.Data
		}
	}
	if len(want) == 0 {
		return nil // not the kustomize format
	}
	have := map[string][]byte{}
	old, _ := os.ReadDir(filepath.Join(dir, "base"))
	for _, e := range old {
		if b, err := os.ReadFile(filepath.Join(dir, "base", e.Name())); err == nil {
			have[e.Name()] = b
		}
	}
	same := len(have) == len(want)
	for name, b := range want {
		same = same && bytes.Equal(have[name], b)
	}
	if same {
		return nil
	}
	return fmt.Errorf("--output-dir %s holds overlays of other clusters (%s) written against a base this cluster's objects do not share (another OADP version, credentials mode or storage path): write this cluster into another --output-dir, or every cluster in one fleet run",
		dir, strings.Join(others, ", "))
}

func toYAML(v any) ([]byte, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// fileName is a stable, readable file name for an object.
func fileName(o *unstructured.Unstructured) string {
	return strings.ToLower(o.GetKind()) + "-" + sanitize(o.GetName()) + ".yaml"
}

// sanitize keeps a placeholder-bearing name usable as a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, s)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
