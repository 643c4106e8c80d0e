package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

func TestMain(m *testing.M) { rig.Main(m, rig.Options{NoMoto: true}) }

const (
	// testVersion is a prerelease no real tag will ever have.
	testVersion = "v0.0.0-test"
	// epoch is the source date the test builds with (SOURCE_DATE_EPOCH).
	epoch = 1700000000
)

var pluginGVR = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1alpha1", Resource: "plugins"}

// The committed files are templates: they must never carry a release's hashes
// or version, which would go stale with the next one.
func TestTemplatesAreTemplates(t *testing.T) {
	root := repoRoot(t)
	hash := regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	for _, f := range []string{"krew-manifest.yaml", "plugins.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if hash.Match(b) {
			t.Errorf("%s holds a sha256: it must be a template, rendered by make dist", f)
		}
		var m struct {
			Spec struct {
				Version, ShortDescription, Description, Caveats string
			}
		}
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.Spec.Version != "${VERSION}" {
			t.Errorf("%s: spec.version = %q, want the ${VERSION} placeholder", f, m.Spec.Version)
		}
		if n := len(m.Spec.ShortDescription); n == 0 || n > 50 || strings.Contains(m.Spec.ShortDescription, "\n") {
			t.Errorf("%s: shortDescription %q: want one line of at most 50 characters", f, m.Spec.ShortDescription)
		}
		for _, line := range strings.Split(m.Spec.Description, "\n") {
			if len(line) > 80 {
				t.Errorf("%s: description line longer than 80 columns: %q", f, line)
			}
		}
		for _, want := range []string{"STS", "OIDC provider", "IAM roles"} {
			if !strings.Contains(m.Spec.Caveats, want) {
				t.Errorf("%s: caveats do not name the prerequisite %q:\n%s", f, want, m.Spec.Caveats)
			}
		}
	}
}

// TestRelease builds the release the way `make dist` does (one platform, to
// keep it quick) and installs and runs it the ways users do.
//
//nolint:funlen // one release, built once (minutes), then each way of installing it checked on it in turn
func TestRelease(t *testing.T) {
	root := repoRoot(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		rig.SkipOrFail(t, &rig.MissingError{What: "kubectl", Fix: "install kubectl 1.26 or later (plugin completion)"})
	}
	dist := t.TempDir()
	makeDist(t, root, dist)
	archives := checksums(t, dist)
	if len(archives) != 1 {
		t.Fatalf("checksums list %d archives, want the one linux/amd64 archive: %v", len(archives), archives)
	}
	archive := filepath.Join(dist, "kubectl-oadp_sts_"+testVersion+"_linux_amd64.tar.gz")
	if _, ok := archives[filepath.Base(archive)]; !ok {
		t.Fatalf("no %s in the checksums: %v", filepath.Base(archive), archives)
	}
	if got := tarNames(t, archive); !slices.Equal(got, []string{"LICENSE", "kubectl-oadp_sts", "kubectl_complete-oadp_sts"}) {
		t.Errorf("archive holds %v, want LICENSE, kubectl-oadp_sts and kubectl_complete-oadp_sts", got)
	}

	// The archive is a function of the staged files and the source date only:
	// packing them again gives the same bytes. (The binary itself is Go's
	// reproducible -trimpath build; rebuilding it here would race with edits
	// in a shared working tree, not test this code.)
	t.Run("archives are reproducible", func(t *testing.T) {
		o := &options{epoch: time.Unix(epoch, 0).UTC()}
		stage := filepath.Join(dist, "files", "linux_amd64")
		files := []string{"LICENSE", "kubectl-oadp_sts", "kubectl_complete-oadp_sts"}
		var tgz, zip1, zip2 bytes.Buffer
		if err := o.writeTarGz(&tgz, stage, files); err != nil {
			t.Fatal(err)
		}
		built, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tgz.Bytes(), built) {
			t.Error("packing the staged files again gives a different .tar.gz")
		}
		for _, b := range []*bytes.Buffer{&zip1, &zip2} {
			// The small files suffice: the packing is what is under test.
			if err := o.writeZip(b, stage, []string{"LICENSE", "kubectl_complete-oadp_sts"}); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(zip1.Bytes(), zip2.Bytes()) {
			t.Error("packing the same files twice gives different .zip files")
		}
		zr, err := zip.NewReader(bytes.NewReader(zip1.Bytes()), int64(zip1.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if !f.Modified.Equal(o.epoch) {
				t.Errorf("zip entry %s modified %s, want the source date %s", f.Name, f.Modified, o.epoch)
			}
		}
	})

	krewBin := krewTools(t, root)
	manifest := filepath.Join(dist, "krew-manifest.yaml")

	t.Run("validate-krew-manifest accepts the rendered manifest", func(t *testing.T) {
		// The validator wants krew-index's layout: the file named after the plugin.
		// -skip-install: its install step downloads the URI, which exists only
		// once released; the next subtest installs from the archive instead.
		indexed := filepath.Join(t.TempDir(), "oadp-sts.yaml")
		copyFileT(t, manifest, indexed)
		runCmd(t, nil, filepath.Join(krewBin, "validate-krew-manifest"), "-manifest", indexed, "-skip-install")
	})

	krewRoot := t.TempDir()
	home := t.TempDir()
	// Only what a user would have: krew's bin directory and the system's tools.
	path := filepath.Join(krewRoot, "bin") + string(os.PathListSeparator) + filepath.Dir(kubectl) + string(os.PathListSeparator) + "/bin"
	env := []string{"KREW_ROOT=" + krewRoot, "KREW_NO_UPGRADE_CHECK=1", "HOME=" + home, "PATH=" + path, "KUBECONFIG=" + filepath.Join(home, "no-kubeconfig")}

	t.Run("krew installs it and kubectl runs it", func(t *testing.T) {
		runCmd(t, env, filepath.Join(krewBin, "kubectl-krew"), "install", "--manifest="+manifest, "--archive="+archive)
		out := runCmd(t, env, kubectl, "oadp-sts", "version")
		if !strings.Contains(out, "kubectl-oadp_sts "+testVersion+" ") {
			t.Errorf("kubectl oadp-sts version printed %q, want the release's version %s", out, testVersion)
		}
		if _, err := os.Stat(filepath.Join(krewRoot, "store", "oadp-sts", testVersion, "LICENSE")); err != nil {
			t.Errorf("LICENSE not installed: %v", err)
		}
	})

	// krew links only the plugin; README's Install section tells users to link
	// the completion helper beside it, which is what this does.
	helper := filepath.Join(krewRoot, "bin", "kubectl_complete-oadp_sts")
	if err := os.Symlink(filepath.Join(krewRoot, "store", "oadp-sts", testVersion, "kubectl_complete-oadp_sts"), helper); err != nil {
		t.Fatal(err)
	}

	t.Run("kubectl completes the subcommands", func(t *testing.T) {
		got := complete(t, env, kubectl, "")
		var want []string
		for _, c := range cmd.NewRootCmd(genericiooptions.NewTestIOStreamsDiscard()).Commands() {
			if c.IsAvailableCommand() {
				want = append(want, c.Name())
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("kubectl __complete oadp-sts '' offered %v, missing the subcommand %q", got, w)
			}
		}
	})

	r := rig.Get(t)
	ctx := t.Context()

	t.Run("kubectl completes backups from the cluster", func(t *testing.T) {
		names := []string{"nightly-2026-01-01", "nightly-2026-01-02", "before-upgrade"}
		createBackups(t, r, names)
		rigEnv := append(slices.Clone(env), "KUBECONFIG="+r.Kubeconfig)
		got := complete(t, rigEnv, kubectl, "describe", "backup", "")
		slices.Sort(names)
		if !slices.Equal(got, names) {
			t.Errorf("kubectl __complete oadp-sts describe backup '' offered %v, want the cluster's backups %v", got, names)
		}
		if got := complete(t, rigEnv, kubectl, "describe", "backup", "nightly-"); !slices.Equal(got, names[1:]) {
			t.Errorf("completing 'nightly-' offered %v, want %v", got, names[1:])
		}
	})

	t.Run("the API server accepts plugins.yaml and its platforms are the archives", func(t *testing.T) {
		fx, err := rig.FixtureDir()
		if err != nil {
			rig.SkipOrFail(t, err)
		}
		if err := r.ApplyCRDFiles(ctx, filepath.Join(fx, "cli-manager", "config.openshift.io_plugins.yaml")); err != nil {
			t.Fatal(err)
		}
		objs, err := rig.ReadObjects(filepath.Join(dist, "plugins.yaml"))
		if err != nil || len(objs) != 1 {
			t.Fatalf("read the rendered plugins.yaml: %v (%d objects)", err, len(objs))
		}
		plugins := r.Dynamic.Resource(pluginGVR)
		_ = plugins.Delete(ctx, objs[0].GetName(), metav1.DeleteOptions{})
		t.Cleanup(func() { _ = plugins.Delete(context.Background(), objs[0].GetName(), metav1.DeleteOptions{}) })
		// Strict: a misspelt field is an error, not silently dropped.
		if _, err := plugins.Create(ctx, objs[0], metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
			t.Fatalf("the API server rejected plugins.yaml: %v", err)
		}
		got, err := plugins.Get(ctx, objs[0].GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkPlatforms(t, root, dist, got)
	})
}

// checkPlatforms checks that the stored Plugin offers exactly the archives
// built, and that every file it takes from the image is what the Containerfile
// copies there from the staged archive contents.
func checkPlatforms(t *testing.T, root, dist string, p *unstructured.Unstructured) {
	t.Helper()
	copies := containerfileCopies(t, root)
	entries, _, _ := unstructured.NestedSlice(p.Object, "spec", "platforms")
	var platforms []string
	for _, e := range entries {
		e := e.(map[string]any)
		plat := e["platform"].(string)
		platforms = append(platforms, plat)
		if e["image"] != "ghcr.io/oadp-sts/kubectl-oadp_sts:"+testVersion {
			t.Errorf("%s: image %v, want the release's image", plat, e["image"])
		}
		files, _ := e["files"].([]any)
		var bases []string
		for _, f := range files {
			from := f.(map[string]any)["from"].(string)
			bases = append(bases, filepath.Base(from))
			src := ""
			for dst, s := range copies {
				if strings.HasPrefix(from, dst) {
					src = filepath.Join(dist, strings.TrimPrefix(s, "dist/"), strings.TrimPrefix(from, dst))
				}
			}
			if src == "" {
				t.Errorf("%s: %s is not copied into the image by the Containerfile", plat, from)
			} else if _, err := os.Stat(src); err != nil {
				t.Errorf("%s: %s comes from %s, which make dist did not produce: %v", plat, from, src, err)
			}
		}
		if !slices.Contains(bases, e["bin"].(string)) {
			t.Errorf("%s: bin %v is not among the files %v", plat, e["bin"], bases)
		}
	}
	if !slices.Equal(platforms, []string{"linux/amd64"}) {
		t.Errorf("plugins.yaml offers %v, want exactly the archive built: linux/amd64", platforms)
	}
}

// containerfileCopies maps each image directory to its source under dist/.
func containerfileCopies(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	copies := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "COPY" {
			copies[f[2]] = f[1]
		}
	}
	return copies
}

func createBackups(t *testing.T, r *rig.Rig, names []string) {
	t.Helper()
	ctx := t.Context()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "openshift-adp"}}}
	if err := r.Apply(ctx, ns); err != nil {
		t.Fatal(err)
	}
	backups := r.Dynamic.Resource(gvr.Backup).Namespace("openshift-adp")
	for _, n := range names {
		b := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "velero.io/v1", "kind": "Backup",
			"metadata": map[string]any{"name": n, "namespace": "openshift-adp"},
			"spec":     map[string]any{"includedNamespaces": []any{"app"}},
		}}
		if _, err := backups.Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = backups.Delete(context.Background(), n, metav1.DeleteOptions{}) })
	}
	// A backup elsewhere must not be offered: completion reads the OADP namespace.
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "not-oadp"},
	}}
	if err := r.Apply(ctx, other); err != nil {
		t.Fatal(err)
	}
	stray := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": "stray", "namespace": "not-oadp"},
	}}
	strays := r.Dynamic.Resource(gvr.Backup).Namespace("not-oadp")
	if _, err := strays.Create(ctx, stray, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = strays.Delete(context.Background(), "stray", metav1.DeleteOptions{}) })
}

// complete runs kubectl's own completion for `kubectl oadp-sts <words>`, which
// hands over to kubectl_complete-oadp_sts, and returns the offered words.
func complete(t *testing.T, env []string, kubectl string, words ...string) []string {
	t.Helper()
	out := runCmd(t, env, kubectl, append([]string{"__complete", "oadp-sts"}, words...)...)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue // the directive line
		}
		name, _, _ := strings.Cut(line, "\t")
		got = append(got, name)
	}
	return got
}

func makeDist(t *testing.T, root, out string) {
	t.Helper()
	start := time.Now()
	runCmd(t, append(os.Environ(), fmt.Sprint("SOURCE_DATE_EPOCH=", epoch)), "make", "-C", root, "--no-print-directory", "dist",
		"VERSION="+testVersion, "PLATFORMS=linux/amd64", "DIST="+out)
	t.Logf("make dist took %s", time.Since(start).Round(time.Millisecond))
}

// checksums reads the checksums file and checks each archive against it.
func checksums(t *testing.T, dist string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "kubectl-oadp_sts_"+testVersion+"_checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("checksums line %q is not in sha256sum's format", line)
		}
		data, err := os.ReadFile(filepath.Join(dist, file))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: sha256 %x, the checksums file says %s", file, h, sum)
		}
		sums[file] = sum
	}
	return sums
}

func tarNames(t *testing.T, archive string) []string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(epoch, 0)) {
			t.Errorf("%s: mtime %s, want the source date", h.Name, h.ModTime)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d/%d %q/%q, want 0/0 and no names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		names = append(names, h.Name)
	}
}

// krewTools builds (once, cached) krew and validate-krew-manifest v0.4.3.
func krewTools(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "hack", "rig-tools.sh"), "krew").Output()
	if err != nil {
		rig.SkipOrFail(t, &rig.MissingError{What: "krew v0.4.3", Fix: "run 'make krew-tools' (builds it from the Go module proxy): " + errText(err)})
	}
	return strings.TrimSpace(string(out))
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}

// runCmd runs a command with exactly env (nil: the test's environment) and
// returns its stdout, failing the test with both streams on error.
func runCmd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	if env != nil {
		c.Env = env
	}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	t.Logf("$ %s %s\n%s%s", filepath.Base(name), strings.Join(args, " "), stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func copyFileT(t *testing.T, from, to string) {
	t.Helper()
	if err := copyFile(from, to, 0o644); err != nil {
		t.Fatal(err)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := rig.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
