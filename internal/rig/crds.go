package rig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// The Go modules the CRDs come from, pinned. The files are read from the
// module cache; nothing is copied into the repository.
var crdModules = []struct {
	module string
	files  []string // globs inside the module
}{
	{"github.com/openshift/api@v0.0.0-20240524162738-d899f8877d22", []string{
		"config/v1/zz_generated.crd-manifests/0000_00_cluster-version-operator_01_clusterversions-Default.crd.yaml",
		"config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_infrastructures-Default.crd.yaml",
		"config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_authentications-SelfManagedHA-Default.crd.yaml",
		"operator/v1/zz_generated.crd-manifests/0000_40_cloud-credential_00_cloudcredentials.crd.yaml",
	}},
	{"github.com/operator-framework/api@v0.27.0", []string{"crds/operators.coreos.com_*.yaml"}},
	{"github.com/vmware-tanzu/velero@v1.18.3", []string{"config/crd/v1/bases/*.yaml", "config/crd/v2alpha1/bases/*.yaml"}},
	// The CSI snapshot API every OpenShift cluster serves; the same module
	// the control plane is built from.
	{"k8s.io/kubernetes@" + KubeVersion, []string{"cluster/addons/volumesnapshots/crd/snapshot.storage.k8s.io_*.yaml"}},
}

var (
	modDirMu sync.Mutex
	modDirs  = map[string]string{}
)

// moduleDir returns the module's directory in the Go module cache,
// downloading it through the module proxy the first time.
func moduleDir(mod string) (string, error) {
	modDirMu.Lock()
	defer modDirMu.Unlock()
	if d, ok := modDirs[mod]; ok {
		return d, nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", &MissingError{What: "CRDs from " + mod, Fix: fmt.Sprintf("'go mod download %s' failed (%v %s): check GOPROXY", mod, err, info.Error)}
	}
	modDirs[mod] = info.Dir
	return info.Dir, nil
}

// FixtureDir is the directory of OADP, CLI Manager and ACM CRD fixtures:
// $OADP_STS_CRDS, else ../shared/crds beside the repository, else the user
// cache's crds, where 'make crds' (hack/crds.sh) downloads them.
func FixtureDir() (string, error) {
	dir := os.Getenv("OADP_STS_CRDS")
	if dir == "" {
		if root, err := RepoRoot(); err == nil {
			dir = filepath.Join(root, "..", "shared", "crds")
		}
		if _, err := os.Stat(filepath.Join(dir, DefaultOADPCRDs)); err != nil {
			if cache, err := CacheDir(); err == nil {
				dir = filepath.Join(cache, "crds")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultOADPCRDs)); err != nil {
		return "", &MissingError{What: "OADP CRD fixtures (OADP_STS_CRDS=" + dir + ")", Fix: "run 'make crds' (downloads them once into the user cache), or set OADP_STS_CRDS to a directory holding every file hack/crds.sha256 lists"}
	}
	return filepath.Abs(dir)
}

// OracleDir is the directory of the oracle data (the OADP operator's
// verdicts, real cluster shapes): $OADP_STS_ORACLE, else the oracle directory
// beside the CRD fixtures ($OADP_STS_CRDS/../oracle, which is
// ../shared/oracle beside the repository).
func OracleDir() (string, error) {
	dir := os.Getenv("OADP_STS_ORACLE")
	if dir == "" {
		crds, err := FixtureDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(crds, "..", "oracle")
	}
	// Both halves of the oracle must be there: a test that reads one should not
	// pass beside a copy that silently lacks the other.
	for _, f := range []string{"oadp-dpa-cases.json", "clusters"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", &MissingError{What: "oracle data (OADP_STS_ORACLE=" + dir + ", no " + f + ")", Fix: "set OADP_STS_ORACLE to the directory holding oadp-dpa-cases.json and clusters/ (../shared/oracle beside the repository)"}
		}
	}
	return filepath.Abs(dir)
}

// RepoRoot is the directory of the plugin's go.mod, found from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/oadp-sts/kubectl-oadp_sts\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the kubectl-oadp_sts repository")
		}
		dir = parent
	}
}

// CRDFiles lists every CRD file the rig installs, with the OADP set named by oadp.
func CRDFiles(oadp string) ([]string, error) {
	var files []string
	for _, m := range crdModules {
		dir, err := moduleDir(m.module)
		if err != nil {
			return nil, err
		}
		for _, g := range m.files {
			matches, _ := filepath.Glob(filepath.Join(dir, g))
			if len(matches) == 0 {
				return nil, fmt.Errorf("no CRD matches %s in %s", g, m.module)
			}
			files = append(files, matches...)
		}
	}
	oadpFiles, err := OADPCRDFiles(oadp)
	if err != nil {
		return nil, err
	}
	return append(files, oadpFiles...), nil
}

// OADPCRDFiles lists the fixture CRDs of one OADP version ("oadp-1.4").
func OADPCRDFiles(oadp string) ([]string, error) {
	fx, err := FixtureDir()
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(fx, oadp, "*.yaml"))
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", filepath.Join(fx, oadp))
	}
	sort.Strings(files)
	return files, nil
}

// InstallCRDs applies every CRD (server-side: the CSV CRD is too large for a
// client-side apply annotation) and waits until each is established.
func (r *Rig) InstallCRDs(ctx context.Context, oadp string) error {
	files, err := CRDFiles(oadp)
	if err != nil {
		return err
	}
	return r.ApplyCRDFiles(ctx, files...)
}

// ApplyCRDFiles applies the CRDs in files and waits for them to be served.
func (r *Rig) ApplyCRDFiles(ctx context.Context, files ...string) error {
	var names []string
	for _, f := range files {
		objs, err := ReadObjects(f)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if err := r.Apply(ctx, o); err != nil {
				return fmt.Errorf("apply CRD from %s: %w", f, err)
			}
			names = append(names, o.GetName())
		}
	}
	return r.waitEstablished(ctx, names)
}

// Apply server-side applies obj with the rig's field manager, forcing conflicts.
func (r *Rig) Apply(ctx context.Context, obj *unstructured.Unstructured) error {
	return r.apply(ctx, obj)
}

// ApplyStatus server-side applies obj's status, through the status
// subresource where the CRD has one; Velero's CRDs have none, and there
// status is an ordinary part of the object.
func (r *Rig) ApplyStatus(ctx context.Context, obj *unstructured.Unstructured) error {
	err := r.apply(ctx, obj, "status")
	if apierrors.IsNotFound(err) {
		res, rerr := r.resourceFor(obj)
		if rerr == nil {
			if _, getErr := res.Get(ctx, obj.GetName(), metav1.GetOptions{}); getErr == nil {
				return r.apply(ctx, obj)
			}
		}
	}
	return err
}

func (r *Rig) apply(ctx context.Context, obj *unstructured.Unstructured, subresource ...string) error {
	res, err := r.resourceFor(obj)
	if err != nil {
		return err
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	force := true
	_, err = res.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "oadp-sts-rig", Force: &force}, subresource...)
	return err
}

func (r *Rig) waitEstablished(ctx context.Context, names []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range names {
		for {
			crd, err := r.Dynamic.Resource(gvr.CRD).Get(ctx, n, metav1.GetOptions{})
			if err == nil && established(crd) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established after 30s (last error: %v)", n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// ReadObjects decodes every YAML or JSON document in a file.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeObjects(f)
}

// DecodeObjects decodes a YAML/JSON stream into objects, skipping empty documents
// and flattening Lists.
func DecodeObjects(rd io.Reader) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(rd, 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
}
