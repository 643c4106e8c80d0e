// Command dist builds the release: `make dist` runs it. For each platform it
// cross-compiles the plugin, stages the binary, the completion helper and
// LICENSE in <out>/files/<os>_<arch>/, and packs them into a .tar.gz (.zip on
// windows); then it writes the sha256 checksums and renders krew-manifest.yaml
// and plugins.yaml with the release's version, URIs, hashes and image.
//
// The archives are reproducible: the same commit gives byte-identical files.
// Times are the commit's (or SOURCE_DATE_EPOCH), owners are 0, entries are
// sorted, and gzip carries no name or time. Go's own archive writers are used
// rather than tar and zip, whose flags for that differ between GNU and BSD.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

const (
	module = "github.com/oadp-sts/kubectl-oadp_sts"
	name   = "kubectl-oadp_sts"
)

// semver is what krew accepts as spec.version: a semantic version with a v.
var semver = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

type options struct {
	version, commit, out, urlBase, image, root string
	platforms                                  []platform
	epoch                                      time.Time
}

type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }
func (p platform) dir() string    { return p.os + "_" + p.arch }
func (p platform) exe(s string) string {
	if p.os == "windows" {
		return s + ".exe"
	}
	return s
}

// archive is one built release archive.
type archive struct {
	platform
	file, sha256 string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	var o options
	var platforms string
	fs.StringVar(&o.version, "version", "", "release version, a semantic version with a v (v0.1.0)")
	fs.StringVar(&o.commit, "commit", "", "git commit the release is built from")
	fs.StringVar(&o.out, "out", "dist", "output directory")
	fs.StringVar(&platforms, "platforms", "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64", "GOOS/GOARCH pairs to build")
	fs.StringVar(&o.urlBase, "url-base", "", "URL the archives are downloaded from, without the archive name")
	fs.StringVar(&o.image, "image", "", "image the CLI Manager takes the files from (built by the Containerfile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !semver.MatchString(o.version) {
		return fmt.Errorf("version %q is not a semantic version with a v prefix, which krew requires: tag the commit (git tag v0.1.0) or pass VERSION=v0.1.0", o.version)
	}
	if o.urlBase == "" || o.image == "" {
		return errors.New("-url-base and -image are required: they go into the rendered manifests")
	}
	for _, p := range strings.Fields(platforms) {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok {
			return fmt.Errorf("platform %q: want GOOS/GOARCH, as in linux/amd64", p)
		}
		o.platforms = append(o.platforms, platform{goos, goarch})
	}
	if len(o.platforms) == 0 {
		return errors.New("no platforms to build")
	}
	var err error
	if o.root, err = os.Getwd(); err != nil {
		return err
	}
	if o.epoch, err = sourceDate(); err != nil {
		return err
	}
	return o.dist()
}

// sourceDate is the time stamped on every archive entry: SOURCE_DATE_EPOCH
// (the reproducible-builds convention) or the commit's time, never the clock.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot read the commit time (git log): %w; set SOURCE_DATE_EPOCH", err)
		}
		s = strings.TrimSpace(string(out))
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func (o *options) dist() error {
	// Whatever an earlier run left (another version's archives, a platform not
	// built now) must not end up in a release upload or in the image.
	stale, _ := filepath.Glob(filepath.Join(o.out, name+"_*"))
	stale = append(stale, filepath.Join(o.out, "files"))
	for _, f := range stale {
		if err := os.RemoveAll(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var archives []archive
	for _, p := range o.platforms {
		a, err := o.build(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		fmt.Fprintf(os.Stderr, "%s  %s\n", a.sha256, filepath.Join(o.out, a.file))
		archives = append(archives, a)
	}
	if err := o.writeChecksums(archives); err != nil {
		return err
	}
	for _, t := range []struct {
		file string
		// complete means every archive must have an entry: krew users on a
		// platform left out could not install. The CLI Manager's list is
		// deliberately shorter (no windows/arm64).
		complete bool
	}{{"krew-manifest.yaml", true}, {"plugins.yaml", false}} {
		if err := o.render(t.file, archives, t.complete); err != nil {
			return fmt.Errorf("render %s: %w", t.file, err)
		}
	}
	return nil
}

func (o *options) archiveName(p platform) string {
	ext := ".tar.gz"
	if p.os == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", name, o.version, p.os, p.arch, ext)
}

// build compiles, stages and packs one platform.
func (o *options) build(p platform) (archive, error) {
	stage := filepath.Join(o.out, "files", p.dir())
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return archive{}, err
	}
	ldflags := fmt.Sprintf("-s -w -X %s/pkg/version.Version=%s -X %s/pkg/version.Commit=%s", module, o.version, module, o.commit)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(stage, p.exe(name)), "./cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.os, "GOARCH="+p.arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return archive{}, fmt.Errorf("go build: %w", err)
	}
	// kubectl's plugin completion runs kubectl_complete-oadp_sts; on windows
	// it finds a .cmd through PATHEXT, where a shell script could not run.
	helper := "kubectl_complete-oadp_sts"
	if p.os == "windows" {
		helper += ".cmd"
	}
	if err := copyFile(filepath.Join(o.root, "hack", "completion", helper), filepath.Join(stage, helper), 0o755); err != nil {
		return archive{}, err
	}
	if err := copyFile(filepath.Join(o.root, "LICENSE"), filepath.Join(stage, "LICENSE"), 0o644); err != nil {
		return archive{}, err
	}

	entries, err := os.ReadDir(stage)
	if err != nil {
		return archive{}, err
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	slices.Sort(files)
	var buf bytes.Buffer
	if p.os == "windows" {
		err = o.writeZip(&buf, stage, files)
	} else {
		err = o.writeTarGz(&buf, stage, files)
	}
	if err != nil {
		return archive{}, err
	}
	a := archive{platform: p, file: o.archiveName(p)}
	sum := sha256.Sum256(buf.Bytes())
	a.sha256 = hex.EncodeToString(sum[:])
	return a, os.WriteFile(filepath.Join(o.out, a.file), buf.Bytes(), 0o644)
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}

// mode is the archived permission: executables 0755, the rest 0644, whatever
// the umask of the machine that built them.
func mode(dir, file string) (int64, error) {
	st, err := os.Stat(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	if st.Mode()&0o100 != 0 || strings.HasSuffix(file, ".exe") || strings.HasSuffix(file, ".cmd") {
		return 0o755, nil
	}
	return 0o644, nil
}

func (o *options) writeTarGz(w io.Writer, dir string, files []string) error {
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		m, err := mode(dir, f)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f, Size: int64(len(b)), Mode: m, ModTime: o.epoch, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func (o *options) writeZip(w io.Writer, dir string, files []string) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.DefaultCompression)
	})
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		m, err := mode(dir, f)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: f, Method: zip.Deflate, Modified: o.epoch}
		hdr.SetMode(os.FileMode(m))
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(b); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeChecksums writes sha256sum's format, so `sha256sum -c` checks a download.
func (o *options) writeChecksums(archives []archive) error {
	lines := make([]string, 0, len(archives))
	for _, a := range archives {
		lines = append(lines, a.sha256+"  "+a.file+"\n")
	}
	slices.Sort(lines)
	return os.WriteFile(filepath.Join(o.out, fmt.Sprintf("%s_%s_checksums.txt", name, o.version)), []byte(strings.Join(lines, "")), 0o644)
}

// render fills the template file of the repository's top level into out.
// Each spec.platforms entry names its platform (krew: selector.matchLabels
// os/arch; CLI Manager: platform); entries of platforms not built are
// dropped, the others get ${URI}, ${SHA256} and ${ARCHIVE} of their archive.
// ${VERSION} and ${IMAGE} are filled everywhere. Anything left unfilled is an
// error: a manifest with a placeholder must never be published.
func (o *options) render(file string, archives []archive, complete bool) error {
	src, err := os.ReadFile(filepath.Join(o.root, file))
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return errors.New("not a single YAML document")
	}
	top := doc.Content[0]
	platforms := lookup(top, "spec", "platforms")
	if platforms == nil || platforms.Kind != yaml.SequenceNode {
		return errors.New("no spec.platforms list")
	}
	built := map[platform]archive{}
	for _, a := range archives {
		built[a.platform] = a
	}
	seen := map[platform]bool{}
	var kept []*yaml.Node
	for i, entry := range platforms.Content {
		p, err := entryPlatform(entry)
		if err != nil {
			return fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
		seen[p] = true
		a, ok := built[p]
		if !ok {
			continue
		}
		substitute(entry, map[string]string{
			"${URI}":     strings.TrimSuffix(o.urlBase, "/") + "/" + a.file,
			"${SHA256}":  a.sha256,
			"${ARCHIVE}": a.file,
		})
		kept = append(kept, entry)
	}
	if complete {
		for _, a := range archives {
			if !seen[a.platform] {
				return fmt.Errorf("no spec.platforms entry for %s, which was built", a.platform)
			}
		}
	}
	if len(kept) == 0 {
		return errors.New("none of the built platforms has an entry")
	}
	platforms.Content = kept
	substitute(top, map[string]string{"${VERSION}": o.version, "${IMAGE}": o.image})
	if left := placeholders(top); len(left) > 0 {
		return fmt.Errorf("placeholders left unfilled: %s", strings.Join(left, ", "))
	}

	// The template's header explains the placeholders; the rendering says
	// where it came from instead.
	doc.HeadComment, top.HeadComment = "", ""
	if len(top.Content) > 0 {
		top.Content[0].HeadComment = ""
	}
	doc.HeadComment = fmt.Sprintf("Rendered by `make dist` from %s for %s (commit %s). Do not edit.", file, o.version, o.commit)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.out, file), out.Bytes(), 0o644)
}

func entryPlatform(entry *yaml.Node) (platform, error) {
	if n := lookup(entry, "platform"); n != nil {
		goos, goarch, ok := strings.Cut(n.Value, "/")
		if !ok {
			return platform{}, fmt.Errorf("platform %q: want os/arch", n.Value)
		}
		return platform{goos, goarch}, nil
	}
	goos, goarch := lookup(entry, "selector", "matchLabels", "os"), lookup(entry, "selector", "matchLabels", "arch")
	if goos == nil || goarch == nil {
		return platform{}, errors.New("names no platform: want platform: os/arch, or selector.matchLabels with os and arch")
	}
	return platform{goos.Value, goarch.Value}, nil
}

// lookup follows mapping keys from n.
func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func substitute(n *yaml.Node, values map[string]string) {
	if n.Kind == yaml.ScalarNode {
		for k, v := range values {
			n.Value = strings.ReplaceAll(n.Value, k, v)
		}
	}
	for _, c := range n.Content {
		substitute(c, values)
	}
}

var placeholder = regexp.MustCompile(`\$\{[A-Z0-9_]+\}`)

func placeholders(n *yaml.Node) []string {
	var out []string
	if n.Kind == yaml.ScalarNode {
		out = append(out, placeholder.FindAllString(n.Value, -1)...)
	}
	for _, c := range n.Content {
		out = append(out, placeholders(c)...)
	}
	return out
}
