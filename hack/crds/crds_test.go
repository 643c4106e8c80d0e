package crds

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

// publicURL is the origin of a clone made by a new user: nothing beside it.
const publicURL = "https://github.com/oadp-sts/kubectl-oadp_sts.git"

// cloneFiles are the repository's files the Makefile's fixture logic runs on.
var cloneFiles = []string{"Makefile", "hack/crds.sh", "hack/crds.sha256"}

// A fresh clone with no ../shared and an empty cache: demo, sandbox, test and
// bench run the fixtures' download step before anything else, `make -n` alone
// downloads nothing, the download (from a local mirror) fills the user cache
// with the files CI uses, a second run downloads nothing, and the directory
// make exports is the one the rig reads its CRDs from.
func TestFreshCloneDownloadsFixturesFirst(t *testing.T) {
	fx, srcs := fixtures(t), sources(t)
	m := newMirror(t, fx, srcs, "")
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	dir := newClone(t, filepath.Join(tmp, "empty"), publicURL)
	env := cleanEnv(home, "OADP_STS_CRDS_MIRROR="+m.URL)
	cache := filepath.Join(home, ".cache", "kubectl-oadp_sts", "crds")

	if got := makeVar(t, dir, env); got != cache {
		t.Errorf("the Makefile's OADP_STS_CRDS is %q, want the user cache %q", got, cache)
	}
	for _, target := range []string{"demo", "sandbox", "test", "bench"} {
		res := run(t, dir, env, "make", "-n", "--no-print-directory", target)
		if res.code != 0 {
			t.Fatalf("make -n %s: exit %d\n%s", target, res.code, res.stderr)
		}
		lines := nonEmpty(res.stdout)
		if len(lines) < 2 || lines[0] != "hack/crds.sh ensure" {
			t.Errorf("make -n %s runs %q first, want the fixtures' step 'hack/crds.sh ensure', then the rest:\n%s", target, first(lines), res.stdout)
		}
		if n := strings.Count(res.stdout, "hack/crds.sh"); n != 1 {
			t.Errorf("make -n %s runs hack/crds.sh %d times, want once", target, n)
		}
	}
	if n := m.hits.Load(); n != 0 {
		t.Errorf("make -n made %d requests to the mirror, want none", n)
	}
	if exists(cache) {
		t.Errorf("make -n created %s", cache)
	}

	res := run(t, dir, env, "make", "--no-print-directory", "crds")
	if res.code != 0 {
		t.Fatalf("make crds: exit %d\n%s", res.code, res.stderr)
	}
	if n := m.hits.Load(); n != int64(len(srcs)) {
		t.Errorf("make crds made %d requests, want one per fixture (%d)", n, len(srcs))
	}
	if !strings.Contains(res.stderr, "downloading the") {
		t.Errorf("make crds did not say it downloads: %q", res.stderr)
	}
	sameFiles(t, fx, cache)

	res = run(t, dir, env, "make", "--no-print-directory", "crds")
	if res.code != 0 || m.hits.Load() != int64(len(srcs)) {
		t.Errorf("a second make crds: exit %d, %d requests in all (want 0 and %d): it must download once\n%s", res.code, m.hits.Load(), len(srcs), res.stderr)
	}
	if !strings.Contains(res.stderr, "CRD fixtures in "+cache) {
		t.Errorf("a second make crds did not name the fixtures it uses: %q", res.stderr)
	}

	// make test exports OADP_STS_CRDS; with it, the rig's discovery finds
	// the downloaded set, OADP 1.5's eight CRDs included.
	t.Setenv("OADP_STS_CRDS", makeVar(t, dir, env))
	got, err := rig.FixtureDir()
	if err != nil || got != cache {
		t.Fatalf("rig.FixtureDir() = %q, %v; want %q", got, err, cache)
	}
	files, err := rig.OADPCRDFiles("oadp-1.5")
	if err != nil || len(files) != 8 {
		t.Errorf("rig.OADPCRDFiles(oadp-1.5) = %d files, %v; want 8", len(files), err)
	}
}

// Offline, a fresh clone's make demo stops at the fixtures with one line that
// says what to download and where, before any server is built, and leaves no
// partial download behind.
func TestFreshCloneOfflineFailsFirstInOneLine(t *testing.T) {
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	dir := newClone(t, filepath.Join(tmp, "empty"), publicURL)
	ran := filepath.Join(tmp, "ran")
	env := cleanEnv(home, "OADP_STS_CRDS_MIRROR="+closedURL(t), "OADP_STS_TEST_RAN="+ran)
	cache := filepath.Join(home, ".cache", "kubectl-oadp_sts", "crds")

	res := run(t, dir, env, "make", "--no-print-directory", "demo")
	if res.code == 0 {
		t.Fatal("make demo offline succeeded")
	}
	var errs []string
	for _, l := range nonEmpty(res.stderr) {
		if strings.HasPrefix(l, "error: ") {
			errs = append(errs, l)
		} else if !strings.HasPrefix(l, "downloading the ") && !regexp.MustCompile(`^make: \*\*\* \[Makefile:\d+: crds\] Error 1$`).MatchString(l) {
			t.Errorf("unexpected line from an offline make demo: %q", l)
		}
	}
	if b, err := os.ReadFile(ran); err == nil {
		t.Errorf("servers were built before the fixtures: %s", b)
	}
	if len(errs) != 1 {
		t.Fatalf("offline make demo printed %d error lines, want 1:\n%s", len(errs), res.stderr)
	}
	for _, want := range []string{"cannot download the CRD fixtures", "hack/crds.sh sources", cache, "OADP_STS_CRDS"} {
		if !strings.Contains(errs[0], want) {
			t.Errorf("the error does not say %q: %s", want, errs[0])
		}
	}
	if exists(filepath.Join(dir, "bin")) {
		t.Error("the plugin was built before the fixtures")
	}
	if exists(cache) {
		t.Errorf("an offline run created %s", cache)
	}
	if left, _ := filepath.Glob(cache + ".download.*"); len(left) > 0 {
		t.Errorf("an offline run left %v", left)
	}
}

// Beside ../shared, from a clone of a checkout beside it (what .ci/run is),
// and with OADP_STS_CRDS naming a directory, the fixtures found are used and
// nothing is downloaded.
func TestFixturesFoundNothingDownloaded(t *testing.T) {
	fx := fixtures(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	env := cleanEnv(home, "OADP_STS_CRDS_MIRROR="+srv.URL)
	cache := filepath.Join(home, ".cache", "kubectl-oadp_sts", "crds")
	shared := filepath.Join(tmp, "ws", "shared", "crds")
	copyTree(t, fx, shared)

	beside := newClone(t, filepath.Join(tmp, "ws"), publicURL)
	for _, tc := range []struct {
		name, dir string
		env       []string
	}{
		{"beside ../shared", beside, env},
		{"cloned from a checkout beside ../shared", newClone(t, filepath.Join(tmp, "elsewhere"), beside), env},
		{"OADP_STS_CRDS set", newClone(t, filepath.Join(tmp, "named"), publicURL), append(env[:len(env):len(env)], "OADP_STS_CRDS="+shared)},
	} {
		if got := makeVar(t, tc.dir, tc.env); got != shared {
			t.Errorf("%s: the Makefile's OADP_STS_CRDS is %q, want %q", tc.name, got, shared)
		}
		res := run(t, tc.dir, tc.env, "make", "--no-print-directory", "crds")
		if res.code != 0 || !strings.Contains(res.stderr, "CRD fixtures in "+shared) {
			t.Errorf("%s: make crds: exit %d, want 0 and the fixtures named:\n%s", tc.name, res.code, res.stderr)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d downloads were attempted, want none", n)
	}
	if exists(cache) {
		t.Errorf("%s was created though fixtures were found", cache)
	}
}

// The download accepts the pinned files and refuses a tampered or missing
// one in a line that names it, writing nothing; a cached file that no longer
// matches the list is downloaded again.
func TestDownloadChecksEveryFile(t *testing.T) {
	fx, srcs := fixtures(t), sources(t)
	root := repoRoot(t)
	tampered := "acm/policy.open-cluster-management.io_policies.yaml"
	for _, tc := range []struct {
		name string
		m    *mirror
		want []string
	}{
		{"tampered", newMirror(t, fx, srcs, tampered), []string{tampered, "does not match hack/crds.sha256", "nothing was written"}},
		{"missing", newMirror(t, fx, srcs[1:], ""), []string{"cannot download the CRD fixtures", "404", srcs[0][1]}},
	} {
		dest := filepath.Join(t.TempDir(), "crds")
		res := run(t, root, cleanEnv(t.TempDir(), "OADP_STS_CRDS_MIRROR="+tc.m.URL, "OADP_STS_CRDS="+dest), "hack/crds.sh", "ensure")
		if res.code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.name, res.code)
		}
		lines := nonEmpty(res.stderr)
		last, errs := "", 0
		for _, l := range lines {
			if strings.HasPrefix(l, "error: ") {
				errs++
			}
			last = l
		}
		if errs != 1 || !strings.HasPrefix(last, "error: ") {
			t.Errorf("%s: want one error line, the last:\n%s", tc.name, res.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(last, w) {
				t.Errorf("%s: the error does not say %q: %s", tc.name, w, last)
			}
		}
		if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) > 0 {
			t.Errorf("%s: a refused download left %v", tc.name, entries)
		}
	}

	m := newMirror(t, fx, srcs, "")
	cacheRoot := t.TempDir()
	cache := filepath.Join(cacheRoot, "crds")
	env := cleanEnv(t.TempDir(), "OADP_STS_CRDS_MIRROR="+m.URL, "OADP_STS_CACHE="+cacheRoot, "OADP_STS_CRDS="+cache)
	if res := run(t, root, env, "hack/crds.sh", "ensure"); res.code != 0 {
		t.Fatalf("the pinned files were refused: exit %d\n%s", res.code, res.stderr)
	}
	sameFiles(t, fx, cache)
	if err := os.WriteFile(filepath.Join(cache, tampered), []byte("kind: Stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := m.hits.Load()
	if res := run(t, root, env, "hack/crds.sh", "ensure"); res.code != 0 || m.hits.Load() == before {
		t.Errorf("a stale cached file: exit %d, %d new requests; want it downloaded again\n%s", res.code, m.hits.Load()-before, res.stderr)
	}
	sameFiles(t, fx, cache)
}

var pinnedURL = regexp.MustCompile(`^[\w.-]+/[\w.-]+/[0-9a-f]{40}/[\w./-]+\.yaml$`)

// hack/crds.sha256 is exactly the fixture set the tests read (in the
// workspace, ../shared/crds, the copy CI has), with the same contents, and
// hack/crds.sh downloads each listed file from a pinned commit.
func TestChecksumListIsTheFixtureSet(t *testing.T) {
	fx := fixtures(t)
	listed := readSums(t)
	onDisk := map[string]string{}
	err := filepath.WalkDir(fx, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(fx, p)
		onDisk[filepath.ToSlash(rel)] = sum(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, s := range onDisk {
		switch l, ok := listed[p]; {
		case !ok:
			t.Errorf("%s in %s is not in hack/crds.sha256: a fresh clone would not download it", p, fx)
		case l != s:
			t.Errorf("%s: hack/crds.sha256 has %s, %s has %s", p, l, fx, s)
		}
	}
	for p := range listed {
		if _, ok := onDisk[p]; !ok {
			t.Errorf("hack/crds.sha256 lists %s, which %s does not hold", p, fx)
		}
	}
	for _, want := range []string{"oadp-1.3/", "oadp-1.4/", "oadp-1.5/oadp.openshift.io_dataprotectiontests.yaml", "oadp-1.5/oadp.openshift.io_nonadminrestores.yaml", "cli-manager/", "acm/"} {
		found := false
		for p := range listed {
			found = found || strings.HasPrefix(p, want)
		}
		if !found {
			t.Errorf("hack/crds.sha256 has nothing for %s", want)
		}
	}
	srcs := sources(t)
	seen := map[string]bool{}
	for _, s := range srcs {
		if _, ok := listed[s[0]]; !ok {
			t.Errorf("hack/crds.sh downloads %s, which hack/crds.sha256 does not check", s[0])
		}
		if seen[s[0]] {
			t.Errorf("hack/crds.sh downloads %s twice", s[0])
		}
		seen[s[0]] = true
		if !pinnedURL.MatchString(s[1]) {
			t.Errorf("%s comes from %s, not owner/repo/<40-hex commit>/path", s[0], s[1])
		}
	}
	if len(seen) != len(listed) {
		t.Errorf("hack/crds.sh downloads %d files, hack/crds.sha256 lists %d", len(seen), len(listed))
	}
}

// --- helpers ---

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir, c.Env = dir, env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	res := result{out.String(), errb.String(), 0}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	t.Logf("(in %s) $ %s %s -> exit %d\n%s%s", dir, name, strings.Join(args, " "), res.code, res.stdout, res.stderr)
	return res
}

// cleanEnv is this process's environment without what would point the
// Makefile at fixtures or a cache (make test exports OADP_STS_CRDS), with
// HOME at home and extra added.
func cleanEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OADP_STS_") || strings.HasPrefix(k, "MAKE") || k == "MFLAGS" || k == "XDG_CACHE_HOME" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home), extra...)
}

// makeVar is the OADP_STS_CRDS the Makefile in dir exports.
func makeVar(t *testing.T, dir string, env []string) string {
	t.Helper()
	res := run(t, dir, env, "make", "-s", "--no-print-directory", "--eval", ".print-crds: ; @echo $(OADP_STS_CRDS)", ".print-crds")
	if res.code != 0 {
		t.Fatalf("make: exit %d\n%s", res.code, res.stderr)
	}
	return strings.TrimSpace(res.stdout)
}

// newClone lays out the Makefile's files in parent/kubectl-oadp_sts as a git
// checkout whose origin is origin. Its hack/rig-tools.sh is a stand-in for
// the server builds that only records being run, so a test sees what would
// have been built and builds nothing.
func newClone(t *testing.T, parent, origin string) string {
	t.Helper()
	root := repoRoot(t)
	dir := filepath.Join(parent, "kubectl-oadp_sts")
	for _, f := range cloneFiles {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := os.Stat(filepath.Join(root, f))
		write(t, filepath.Join(dir, f), b, info.Mode().Perm())
	}
	write(t, filepath.Join(dir, "hack", "rig-tools.sh"), []byte("#!/bin/sh\n# A stand-in for the server builds: it records that it ran.\necho \"rig-tools.sh $*\" >>\"${OADP_STS_TEST_RAN:-/dev/null}\"\n"), 0o755)
	for _, args := range [][]string{{"init", "-q"}, {"remote", "add", "origin", origin}} {
		if res := run(t, dir, cleanEnv(t.TempDir()), "git", args...); res.code != 0 {
			t.Fatalf("git %v: %s", args, res.stderr)
		}
	}
	return dir
}

type mirror struct {
	*httptest.Server
	hits atomic.Int64
}

// newMirror serves copies of the fixtures made now, laid out as the download
// URLs name them, from 127.0.0.1; tamper names a fixture served altered.
func newMirror(t *testing.T, fx string, srcs [][2]string, tamper string) *mirror {
	t.Helper()
	dir := t.TempDir()
	for _, s := range srcs {
		b, err := os.ReadFile(filepath.Join(fx, s[0]))
		if err != nil {
			t.Fatal(err)
		}
		if s[0] == tamper {
			b = bytes.Replace(b, []byte("kind: CustomResourceDefinition"), []byte("kind: CustomResourceDefinition "), 1)
		}
		write(t, filepath.Join(dir, filepath.FromSlash(s[1])), b, 0o644)
	}
	m := &mirror{}
	files := http.FileServer(http.Dir(dir))
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(m.Close)
	return m
}

// closedURL is an address on 127.0.0.1 nothing listens on: offline.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func fixtures(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"make", "git", "curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			rig.SkipOrFail(t, &rig.MissingError{What: tool, Fix: "install " + tool})
		}
	}
	fx, err := rig.FixtureDir()
	if err != nil {
		rig.SkipOrFail(t, err)
	}
	return fx
}

// sources are hack/crds.sh's fixture paths and their URLs below the mirror.
func sources(t *testing.T) [][2]string {
	t.Helper()
	res := run(t, repoRoot(t), cleanEnv(t.TempDir()), "hack/crds.sh", "sources")
	if res.code != 0 {
		t.Fatalf("hack/crds.sh sources: %s", res.stderr)
	}
	var out [][2]string
	for _, l := range nonEmpty(res.stdout) {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("hack/crds.sh sources: line %q is not 'path url'", l)
		}
		out = append(out, [2]string{f[0], f[1]})
	}
	return out
}

func readSums(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "hack", "crds.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s, p, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("hack/crds.sha256: %q is not 'sha256  path'", sc.Text())
		}
		out[p] = s
	}
	return out
}

// sameFiles: got holds every file of want, byte for byte.
func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	var names []string
	_ = filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(want, p)
			names = append(names, rel)
		}
		return err
	})
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatalf("no fixtures in %s", want)
	}
	for _, n := range names {
		a, _ := os.ReadFile(filepath.Join(want, n))
		b, err := os.ReadFile(filepath.Join(got, n))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s in %s differs from %s (%v)", n, got, want, err)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		b, err := os.ReadFile(p)
		if err == nil {
			write(t, filepath.Join(to, rel), b, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

func sum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := rig.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func nonEmpty(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func first(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}

var kib = regexp.MustCompile(`CRD fixtures \(about (\d+) KiB`)

// The README opens with its two commands, and what their first run
// downloads is said as it is: the cache directory and the fixtures' size.
func TestREADMEFirstRunSaysTheDownload(t *testing.T) {
	fx := fixtures(t)
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "```sh\n")
	block, after, _ := strings.Cut(rest, "```\n")
	var cmds []string
	for _, l := range nonEmpty(block) {
		cmds = append(cmds, strings.Fields(l)[0]+" "+strings.Fields(l)[1])
	}
	if strings.Join(cmds, ", ") != "make demo, make test" {
		t.Errorf("the README's first commands are %v, want make demo and make test", cmds)
	}
	para, _, _ := strings.Cut(strings.TrimLeft(after, "\n"), "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	if !strings.Contains(para, "~/.cache/kubectl-oadp_sts/crds") || !strings.Contains(para, "hack/crds.sha256") {
		t.Errorf("the README's first paragraph after the commands does not say where the fixtures go: %q", para)
	}
	var size int64
	for p := range readSums(t) {
		info, err := os.Stat(filepath.Join(fx, p))
		if err != nil {
			t.Fatal(err)
		}
		size += info.Size()
	}
	m := kib.FindStringSubmatch(para)
	if m == nil {
		t.Fatalf("the README does not say the fixtures' size as 'CRD fixtures (about N KiB': %q", para)
	}
	said, _ := strconv.ParseInt(m[1], 10, 64)
	if real := size / 1024; said < real*85/100 || said > real*115/100 {
		t.Errorf("the README says the fixtures are about %d KiB; they are %d KiB", said, real)
	}
}
