package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// StandIn is the sandbox's stand-in for the OADP operator. It runs no
// OpenShift or OADP operator code: it is a small reimplementation of the part
// of the operator's behaviour the plugin depends on, so that the plugin's
// objects lead to a working Velero on a machine without OpenShift:
//
//   - a DataProtectionApplication becomes BackupStorageLocations `<dpa>-<n>`
//     (and VolumeSnapshotLocations for native snapshot locations) built the
//     way the operator builds them (a velero-type location as written, with
//     the operator's labels and an empty aws checksumAlgorithm; a CloudStorage
//     location from its CloudStorage), plus the `velero` ServiceAccount and
//     Deployment objects; its Reconciled condition comes from the plugin's
//     own rule engine (pkg/dparules) run on the namespace's real objects.
//     The engine agrees with the real operator on the oracle's cases
//     (pkg/dparules' conformance test), but Reconciled here is still the
//     plugin's prediction, not the operator's word;
//   - a CloudStorage becomes a bucket in moto, guarded by the operator's
//     finalizer, deleted only with the operator's delete annotation.
//
// What differs from a cluster, on purpose and only in the generated objects:
// the BSL config gains s3Url and s3ForcePathStyle (moto), and locations use a
// sandbox copy of their credentials secret whose web_identity_token_file is a
// local file holding a token the API server issued for the velero service
// account (a pod's projected token path does not exist here).
type StandIn struct {
	Dynamic   dynamic.Interface
	Kube      kubernetes.Interface
	Namespace string
	// OADPVersion selects the DPA rules ("1.4").
	OADPVersion string
	// S3URL is moto's endpoint: the stand-in creates buckets there and points
	// the generated locations at it.
	S3URL string
	// Dir holds the service account token and the credentials files.
	Dir string
	// VeleroTempDir is the Velero server's TMPDIR: it materialises
	// credentials secrets under <VeleroTempDir>/credentials/<namespace>.
	VeleroTempDir string
	Log           io.Writer

	queue workqueue.TypedRateLimitingInterface[key]
	dpas  cache.GenericLister

	tokenMu     sync.Mutex
	tokenExpiry time.Time
}

// The field manager and label of everything the stand-in writes, so nobody
// mistakes it for the plugin's (app.kubernetes.io/managed-by=kubectl-oadp_sts)
// or the real operator's objects.
const (
	FieldManager   = "oadp-sts-sandbox-standin"
	ManagedByValue = "oadp-sts-sandbox-standin"
	// SandboxSecretSuffix names the sandbox copy of a credentials secret.
	SandboxSecretSuffix = "-sandbox"
	// VeleroServiceAccount is the service account Velero's pod runs as; its
	// token is what a pod's projected volume would hold.
	VeleroServiceAccount = "velero"
	VeleroImage          = "velero/velero:v1.18.3"
	tokenAudience        = "openshift"
	tokenLifetime        = time.Hour
)

var (
	velBSL = gvr.BSL
	velVSL = gvr.VSL
	deploy = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	sa     = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
)

// VeleroLocationLabels are the labels the operator puts on the locations it
// makes from velero-type entries (not on CloudStorage ones), beside
// app.kubernetes.io/instance=<location>; managed-by stays the stand-in's.
var VeleroLocationLabels = map[string]string{
	"app.kubernetes.io/name":      "oadp-operator-velero",
	"app.kubernetes.io/component": "bsl",
	"openshift.io/oadp":           "True",
}

type key struct{ kind, name string }

// TokenPath is the local file standing in for
// /var/run/secrets/openshift/serviceaccount/token.
func (s *StandIn) TokenPath() string { return filepath.Join(s.Dir, "serviceaccount-token") }

// Run reconciles until ctx ends. It returns once the caches have synced and
// the work runs in the background; errors after that are logged.
func (s *StandIn) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	s.queue = workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[key](200*time.Millisecond, 10*time.Second))
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(s.Dynamic, 10*time.Minute, s.Namespace, nil)
	dpaInf := f.ForResource(gvr.DPA)
	csInf := f.ForResource(gvr.CloudStorage)
	secInf := f.ForResource(gvr.Secret)
	s.dpas = dpaInf.Lister()
	// Into the stand-in's log, not the process's stderr: once cleanup deletes
	// the CRDs, every relist fails until the sandbox stops.
	for _, inf := range []informers.GenericInformer{dpaInf, csInf, secInf} {
		if err := inf.Informer().SetWatchErrorHandler(func(_ *cache.Reflector, err error) { s.logf("watch: %v", err) }); err != nil {
			return err
		}
	}

	on := func(fn func(obj any)) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    fn,
			UpdateFunc: func(_, obj any) { fn(obj) },
			DeleteFunc: fn,
		}
	}
	name := func(obj any) string {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			return m.GetName()
		}
		return ""
	}
	if _, err := dpaInf.Informer().AddEventHandler(on(func(obj any) { s.queue.Add(key{"dpa", name(obj)}) })); err != nil {
		return err
	}
	// A DPA's locations read the CloudStorage and the credentials secret, so
	// a change to either reconciles every DPA again.
	if _, err := csInf.Informer().AddEventHandler(on(func(obj any) {
		s.queue.Add(key{"cloudstorage", name(obj)})
		s.enqueueDPAs()
	})); err != nil {
		return err
	}
	if _, err := secInf.Informer().AddEventHandler(on(func(any) { s.enqueueDPAs() })); err != nil {
		return err
	}
	f.Start(ctx.Done())
	for r, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("stand-in: the %s cache did not sync", r.Resource)
		}
	}
	go func() { <-ctx.Done(); s.queue.ShutDown() }()
	go s.work(ctx)
	go s.refreshToken(ctx)
	return nil
}

func (s *StandIn) enqueueDPAs() {
	objs, _ := s.dpas.List(labels.Everything())
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok {
			s.queue.Add(key{"dpa", m.GetName()})
		}
	}
}

// requeueAfter asks for another pass later without counting as a failure.
type requeueAfter time.Duration

func (r requeueAfter) Error() string { return "requeue after " + time.Duration(r).String() }

func (s *StandIn) work(ctx context.Context) {
	for {
		k, quit := s.queue.Get()
		if quit {
			return
		}
		var err error
		switch k.kind {
		case "dpa":
			err = s.reconcileDPA(ctx, k.name)
		case "cloudstorage":
			err = s.reconcileCloudStorage(ctx, k.name)
		}
		var later requeueAfter
		switch {
		case err == nil:
			s.queue.Forget(k)
		case errors.As(err, &later):
			s.queue.Forget(k)
			s.queue.AddAfter(k, time.Duration(later))
		case ctx.Err() != nil:
		default:
			s.logf("%s %s: %v (retrying)", k.kind, k.name, err)
			s.queue.AddRateLimited(k)
		}
		s.queue.Done(k)
	}
}

func (s *StandIn) logf(format string, a ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, time.Now().Format("15:04:05.000")+" stand-in: "+format+"\n", a...)
	}
}

// --- DataProtectionApplication ---

func (s *StandIn) reconcileDPA(ctx context.Context, name string) error {
	dpa, err := s.Dynamic.Resource(gvr.DPA).Namespace(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes what the DPA owned.
		return nil
	}
	if err != nil || dpa.GetDeletionTimestamp() != nil {
		return err
	}
	ns, err := s.namespaceOf(ctx, dpa)
	if err != nil {
		return err
	}
	if v := dparules.Judge(ctx, ns, s.OADPVersion, nil); v.First != nil {
		// The condition carries the operator's own words, as the real one's does.
		return s.setReconciled(ctx, dpa, errors.New(v.First.Message))
	}
	objs, err := s.buildDPAObjects(ctx, dpa)
	var later requeueAfter
	if errors.As(err, &later) {
		return err
	}
	if err != nil {
		return s.setReconciled(ctx, dpa, err)
	}
	for _, o := range objs {
		if err := s.apply(ctx, o); err != nil {
			return err
		}
	}
	return s.setReconciled(ctx, dpa, nil)
}

// namespaceOf reads what the operator sees when it reconciles dpa: the
// namespace's other DPAs, the secrets dpa names and the CloudStorages.
func (s *StandIn) namespaceOf(ctx context.Context, dpa *unstructured.Unstructured) (dparules.Namespace, error) {
	ns := dparules.Namespace{DPA: dpa, Secrets: map[string]map[string][]byte{}, CloudStorages: map[string]*unstructured.Unstructured{}}
	dpas, err := s.Dynamic.Resource(gvr.DPA).Namespace(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ns, err
	}
	for i := range dpas.Items {
		if dpas.Items[i].GetName() != dpa.GetName() {
			ns.Others = append(ns.Others, &dpas.Items[i])
		}
	}
	css, err := s.Dynamic.Resource(gvr.CloudStorage).Namespace(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ns, err
	}
	for i := range css.Items {
		ns.CloudStorages[css.Items[i].GetName()] = &css.Items[i]
	}
	for _, n := range dparules.SecretNames(dpa) {
		sec, err := s.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, n, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return ns, err
		default:
			ns.Secrets[n] = sec.Data
		}
	}
	return ns, nil
}

// buildDPAObjects returns the objects the operator would own for the DPA, in
// the order they are applied. Missing CloudStorages and secrets are errors the
// operator reports on the DPA's condition too.
func (s *StandIn) buildDPAObjects(ctx context.Context, dpa *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	owner := ownerRef(dpa)
	objs := []*unstructured.Unstructured{s.serviceAccount(owner), s.deployment(owner)}
	// The service account must exist before the API server issues it a token.
	if err := s.apply(ctx, objs[0]); err != nil {
		return nil, err
	}
	if err := s.ensureToken(ctx); err != nil {
		return nil, err
	}
	spec, _, _ := unstructured.NestedMap(dpa.Object, "spec")
	locations, _, _ := unstructured.NestedSlice(spec, "backupLocations")
	copied := map[string]bool{}
	for i, l := range locations {
		bsl, err := s.storageLocation(ctx, dpa, i, l, owner, copied)
		if err != nil {
			return nil, err
		}
		objs = append(objs, bsl)
	}
	snaps, _, _ := unstructured.NestedSlice(spec, "snapshotLocations")
	for i, sl := range snaps {
		vsl, err := s.snapshotLocation(ctx, dpa, i, sl, owner, copied)
		if err != nil {
			return nil, err
		}
		if vsl != nil {
			objs = append(objs, vsl)
		}
	}
	return objs, nil
}

// storageLocation is the BackupStorageLocation the operator makes of the
// DPA's i-th backupLocations entry, its credentials copied for the sandbox
// (copied holds the copies made so far).
func (s *StandIn) storageLocation(ctx context.Context, dpa *unstructured.Unstructured, i int, l any, owner map[string]any, copied map[string]bool) (*unstructured.Unstructured, error) {
	loc, _ := l.(map[string]any)
	bsl := map[string]any{}
	var credential map[string]any
	veleroType := false
	name, _, _ := unstructured.NestedString(loc, "name")
	name = cmp.Or(name, fmt.Sprintf("%s-%d", dpa.GetName(), i+1))
	if b, ok, _ := unstructured.NestedMap(loc, "bucket"); ok {
		var err error
		if bsl, credential, err = s.bslFromCloudStorage(ctx, b); err != nil {
			return nil, err
		}
	} else if v, ok, _ := unstructured.NestedMap(loc, "velero"); ok {
		// As the operator does: the location's spec as written, with the
		// labels it puts on velero-type locations only (which is what its
		// registry-secret step selects), and for aws an empty
		// checksumAlgorithm unless one is given.
		bsl = v
		config := stringMap(v["config"])
		if p, _ := v["provider"].(string); (p == "aws" || p == "velero.io/aws") && config["checksumAlgorithm"] == nil {
			config["checksumAlgorithm"] = ""
		}
		bsl["config"] = config
		credential, _, _ = unstructured.NestedMap(v, "credential")
		veleroType = true
	}
	if p, _ := bsl["provider"].(string); p == "aws" || p == "velero.io/aws" {
		config := bsl["config"].(map[string]any)
		config["s3Url"] = s.S3URL
		config["s3ForcePathStyle"] = "true"
	}
	if credential != nil {
		copyName, err := s.copyCredentials(ctx, credential, owner, copied)
		if err != nil {
			return nil, err
		}
		bsl["credential"] = map[string]any{"name": copyName, "key": credential["key"]}
	}
	o := s.owned("velero.io/v1", "BackupStorageLocation", name, owner, bsl)
	if veleroType {
		l := o.GetLabels()
		for k, v := range VeleroLocationLabels {
			l[k] = v
		}
		l["app.kubernetes.io/instance"] = name
		o.SetLabels(l)
	}
	return o, nil
}

// bslFromCloudStorage is a location's spec from its bucket entry and the
// CloudStorage it names, and the entry's credential.
func (s *StandIn) bslFromCloudStorage(ctx context.Context, b map[string]any) (bsl map[string]any, credential map[string]any, _ error) {
	csName, _, _ := unstructured.NestedString(b, "cloudStorageRef", "name")
	cs, err := s.Dynamic.Resource(gvr.CloudStorage).Namespace(s.Namespace).Get(ctx, csName, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	// As the real operator does, the location is made at once, from
	// the CloudStorage's spec, whether or not its bucket exists yet:
	// Reconciled=True does not mean the bucket exists.
	bucket, _, _ := unstructured.NestedString(cs.Object, "spec", "name")
	config := stringMap(b["config"])
	if shared, _, _ := unstructured.NestedBool(cs.Object, "spec", "enableSharedConfig"); shared {
		config["enableSharedConfig"] = "true"
	}
	objectStorage := map[string]any{"bucket": bucket}
	if p, _, _ := unstructured.NestedString(b, "prefix"); p != "" {
		objectStorage["prefix"] = p
	}
	bsl = map[string]any{"provider": "aws", "objectStorage": objectStorage, "config": config}
	if d, ok, _ := unstructured.NestedBool(b, "default"); ok {
		bsl["default"] = d
	}
	if p, ok := b["backupSyncPeriod"]; ok {
		bsl["backupSyncPeriod"] = p
	}
	credential, _, _ = unstructured.NestedMap(b, "credential")
	return bsl, credential, nil
}

// snapshotLocation is the VolumeSnapshotLocation of the DPA's i-th
// snapshotLocations entry, nil for one without a velero block.
func (s *StandIn) snapshotLocation(ctx context.Context, dpa *unstructured.Unstructured, i int, sl any, owner map[string]any, copied map[string]bool) (*unstructured.Unstructured, error) {
	v, ok, _ := unstructured.NestedMap(sl.(map[string]any), "velero")
	if !ok {
		return nil, nil
	}
	config := stringMap(v["config"])
	vsl := map[string]any{"provider": v["provider"], "config": config}
	if cred, ok, _ := unstructured.NestedMap(v, "credential"); ok {
		copyName, err := s.copyCredentials(ctx, cred, owner, copied)
		if err != nil {
			return nil, err
		}
		vsl["credential"] = map[string]any{"name": copyName, "key": cred["key"]}
	}
	// The pod path of the BSL's materialised credentials, mapped to the
	// sandbox copy the same way Velero materialises it here.
	if cf, _ := config["credentialsFile"].(string); cf != "" {
		config["credentialsFile"] = s.materialisedPath(cf)
	}
	return s.owned("velero.io/v1", "VolumeSnapshotLocation", fmt.Sprintf("%s-%d", dpa.GetName(), i+1), owner, vsl), nil
}

// materialisedPath maps /tmp/credentials/<ns>/<secret>-<key> (where Velero's
// pod writes a BSL's credential) to where the sandbox's Velero writes the
// sandbox copy of that secret.
var credFile = regexp.MustCompile(`^/tmp/credentials/([^/]+)/(.+)-([^-]+)$`)

func (s *StandIn) materialisedPath(p string) string {
	m := credFile.FindStringSubmatch(p)
	if m == nil {
		return p
	}
	return filepath.Join(s.VeleroTempDir, "credentials", m[1], m[2]+SandboxSecretSuffix+"-"+m[3])
}

func (s *StandIn) setReconciled(ctx context.Context, dpa *unstructured.Unstructured, cause error) error {
	status, reason, message := "True", "Complete", "Reconcile complete"
	if cause != nil {
		status, reason, message = "False", "Error", cause.Error()
	}
	conds, _, _ := unstructured.NestedSlice(dpa.Object, "status", "conditions")
	var prev map[string]any
	var rest []any
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Reconciled" {
			prev = m
			continue
		}
		rest = append(rest, c)
	}
	if prev != nil && prev["status"] == status && prev["reason"] == reason && prev["message"] == message {
		return nil
	}
	// Like the operator: the transition time moves only when status flips,
	// and observedGeneration is not set.
	ltt := metav1.Now().UTC().Format(time.RFC3339)
	if prev != nil && prev["status"] == status {
		ltt, _ = prev["lastTransitionTime"].(string)
	}
	cond := map[string]any{"type": "Reconciled", "status": status, "reason": reason, "message": message, "lastTransitionTime": ltt}
	if err := unstructured.SetNestedSlice(dpa.Object, append(rest, cond), "status", "conditions"); err != nil {
		return err
	}
	_, err := s.Dynamic.Resource(gvr.DPA).Namespace(s.Namespace).UpdateStatus(ctx, dpa, metav1.UpdateOptions{FieldManager: FieldManager})
	if err == nil {
		s.logf("dpa %s: Reconciled=%s %s", dpa.GetName(), status, message)
	}
	return err
}

func (s *StandIn) serviceAccount(owner map[string]any) *unstructured.Unstructured {
	return s.owned("v1", "ServiceAccount", VeleroServiceAccount, owner, nil)
}

// deployment is the velero Deployment object. No kubelet runs it: the Velero
// server runs as a local process. Velero reads it during restores (its image
// names the restore helper), so it must exist.
func (s *StandIn) deployment(owner map[string]any) *unstructured.Unstructured {
	sel := map[string]any{"app.kubernetes.io/name": "velero", "component": "velero", "deploy": "velero"}
	return s.owned("apps/v1", "Deployment", "velero", owner, map[string]any{
		"replicas": int64(1),
		"selector": map[string]any{"matchLabels": sel},
		"template": map[string]any{
			"metadata": map[string]any{"labels": sel},
			"spec": map[string]any{
				"serviceAccountName": VeleroServiceAccount,
				"containers": []any{map[string]any{
					"name": "velero", "image": VeleroImage,
					"command": []any{"/velero"}, "args": []any{"server", "--uploader-type=kopia"},
				}},
			},
		},
	})
}

func (s *StandIn) owned(apiVersion, kind, name string, owner map[string]any, spec map[string]any) *unstructured.Unstructured {
	m := map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{
			"name": name, "namespace": s.Namespace,
			"labels":          map[string]any{"app.kubernetes.io/managed-by": ManagedByValue},
			"ownerReferences": []any{owner},
		},
	}
	if spec != nil {
		m["spec"] = spec
	}
	return &unstructured.Unstructured{Object: m}
}

func ownerRef(o *unstructured.Unstructured) map[string]any {
	return map[string]any{
		"apiVersion": o.GetAPIVersion(), "kind": o.GetKind(), "name": o.GetName(), "uid": string(o.GetUID()),
		"controller": true, "blockOwnerDeletion": true,
	}
}

func (s *StandIn) apply(ctx context.Context, o *unstructured.Unstructured) error {
	var r schema.GroupVersionResource
	switch o.GetKind() {
	case "BackupStorageLocation":
		r = velBSL
	case "VolumeSnapshotLocation":
		r = velVSL
	case "Deployment":
		r = deploy
	case "ServiceAccount":
		r = sa
	case "Secret":
		r = gvr.Secret
	default:
		return fmt.Errorf("stand-in cannot apply %s", o.GetKind())
	}
	b, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = s.Dynamic.Resource(r).Namespace(s.Namespace).Patch(ctx, o.GetName(), types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: FieldManager, Force: aws.Bool(true)})
	return err
}

func stringMap(v any) map[string]any {
	out := map[string]any{}
	if m, ok := v.(map[string]any); ok {
		for k, val := range m {
			out[k] = fmt.Sprint(val)
		}
	}
	return out
}

// --- credentials ---

var tokenFileLine = regexp.MustCompile(`(?m)^(\s*web_identity_token_file\s*=\s*).*$`)

// copyCredentials writes the sandbox copy of a location's credentials secret:
// the same profile with web_identity_token_file pointing at the local token.
// The original stays as the plugin wrote it.
func (s *StandIn) copyCredentials(ctx context.Context, cred, owner map[string]any, done map[string]bool) (string, error) {
	name, _ := cred["name"].(string)
	k, _ := cred["key"].(string)
	copyName := name + SandboxSecretSuffix
	if done[copyName+"/"+k] {
		return copyName, nil
	}
	sec, err := s.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	val, ok := sec.Data[k]
	if !ok {
		return "", fmt.Errorf("secret %q has no key %q", name, k)
	}
	mapped := tokenFileLine.ReplaceAllString(string(val), "${1}"+s.TokenPath())
	o := s.owned("v1", "Secret", copyName, owner, nil)
	o.Object["type"] = "Opaque"
	o.Object["stringData"] = map[string]any{k: mapped}
	if err := s.apply(ctx, o); err != nil {
		return "", err
	}
	done[copyName+"/"+k] = true
	return copyName, nil
}

// ensureToken writes a fresh token for the velero service account when the
// file is missing or past 80% of its life, as the kubelet refreshes a
// projected token.
func (s *StandIn) ensureToken(ctx context.Context) error {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	if _, err := os.Stat(s.TokenPath()); err == nil && time.Until(s.tokenExpiry) > tokenLifetime/5 {
		return nil
	}
	secs := int64(tokenLifetime / time.Second)
	tr, err := s.Kube.CoreV1().ServiceAccounts(s.Namespace).CreateToken(ctx, VeleroServiceAccount, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{Audiences: []string{tokenAudience}, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for service account %s: %w", VeleroServiceAccount, err)
	}
	tmp := s.TokenPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(tr.Status.Token), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.TokenPath()); err != nil {
		return err
	}
	s.tokenExpiry = tr.Status.ExpirationTimestamp.Time
	s.logf("token for %s/%s written, expires %s", s.Namespace, VeleroServiceAccount, s.tokenExpiry.Format(time.RFC3339))
	return nil
}

func (s *StandIn) refreshToken(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.tokenMu.Lock()
		have := !s.tokenExpiry.IsZero()
		s.tokenMu.Unlock()
		if have {
			if err := s.ensureToken(ctx); err != nil && ctx.Err() == nil {
				s.logf("refresh token: %v", err)
			}
		}
	}
}

// --- CloudStorage ---

func (s *StandIn) s3(region string) *s3.Client {
	if region == "" {
		region = "us-east-1"
	}
	// The operator would use the web-identity profile of creationSecret; moto
	// accepts any key, so the stand-in does not go through STS itself.
	return s3.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("sandbox", "sandbox", ""),
		BaseEndpoint: aws.String(s.S3URL),
	}, func(o *s3.Options) { o.UsePathStyle = true })
}

func (s *StandIn) reconcileCloudStorage(ctx context.Context, name string) error {
	res := s.Dynamic.Resource(gvr.CloudStorage).Namespace(s.Namespace)
	cs, err := res.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	bucket, _, _ := unstructured.NestedString(cs.Object, "spec", "name")
	region, _, _ := unstructured.NestedString(cs.Object, "spec", "region")
	client := s.s3(region)
	finalizers := cs.GetFinalizers()
	has := slices.Contains(finalizers, manifests.CloudStorageFinalizer)

	if cs.GetDeletionTimestamp() != nil {
		return s.releaseCloudStorage(ctx, res, cs, client, has)
	}

	if !has {
		cs.SetFinalizers(append(finalizers, manifests.CloudStorageFinalizer))
		if cs, err = res.Update(ctx, cs, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return err
		}
	}
	if why := s.webIdentityFails(ctx, cs); why != "" {
		// What the operator's SDK meets before any create: the existence
		// check fails, and the event says BucketNotFound (rules document §6).
		s.event(ctx, cs, corev1.EventTypeWarning, "BucketNotFound", fmt.Sprintf("unable to check if bucket %s exists: %s", bucket, why))
		return requeueAfter(time.Minute)
	}
	in := &s3.CreateBucketInput{Bucket: &bucket}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err = client.CreateBucket(ctx, in)
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	created := err == nil
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		s.event(ctx, cs, corev1.EventTypeWarning, "BucketNotCreated", fmt.Sprintf("unable to create bucket %s: %v", bucket, err))
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if created {
		s.event(ctx, cs, corev1.EventTypeNormal, "BucketCreated", fmt.Sprintf("bucket %s has been created", bucket))
	}
	if err := tagBucket(ctx, client, bucket, cs); err != nil {
		return err
	}
	if st, _, _ := unstructured.NestedString(cs.Object, "status", "name"); st == bucket {
		return nil
	}
	_ = unstructured.SetNestedField(cs.Object, bucket, "status", "name")
	_ = unstructured.SetNestedField(cs.Object, metav1.Now().UTC().Format(time.RFC3339), "status", "lastSyncTimestamp")
	if _, err := res.UpdateStatus(ctx, cs, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return err
	}
	s.logf("cloudstorage %s: bucket %s ready", name, bucket)
	return nil
}

// releaseCloudStorage is the operator's side of a CloudStorage being deleted:
// with the delete annotation its bucket goes once empty, then the finalizer.
func (s *StandIn) releaseCloudStorage(ctx context.Context, res dynamic.ResourceInterface, cs *unstructured.Unstructured, client *s3.Client, has bool) error {
	name, finalizers := cs.GetName(), cs.GetFinalizers()
	bucket, _, _ := unstructured.NestedString(cs.Object, "spec", "name")
	if !has {
		return nil
	}
	del, _ := strconv.ParseBool(cs.GetAnnotations()[manifests.CloudStorageDeleteAnnotation])
	if !del {
		// The operator's behaviour: without the annotation the bucket is
		// kept and the CloudStorage stays Terminating.
		return nil
	}
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, MaxKeys: aws.Int32(1)})
	var nsb *s3types.NoSuchBucket
	switch {
	case errors.As(err, &nsb):
	case err != nil:
		return err
	case aws.ToInt32(out.KeyCount) > 0:
		s.logf("cloudstorage %s: bucket %s is not empty; keeping it (and the finalizer)", name, bucket)
		return requeueAfter(5 * time.Second)
	default:
		if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
			return err
		}
		s.logf("cloudstorage %s: bucket %s deleted", name, bucket)
	}
	var keep []string
	for _, f := range finalizers {
		if f != manifests.CloudStorageFinalizer {
			keep = append(keep, f)
		}
	}
	cs.SetFinalizers(keep)
	_, err = res.Update(ctx, cs, metav1.UpdateOptions{FieldManager: FieldManager})
	return err
}

// tagBucket puts the CloudStorage's tags on its bucket, as the operator does.
func tagBucket(ctx context.Context, client *s3.Client, bucket string, cs *unstructured.Unstructured) error {
	tags, _, _ := unstructured.NestedStringMap(cs.Object, "spec", "tags")
	if len(tags) == 0 {
		return nil
	}
	var ts []s3types.Tag
	for _, k := range manifests.SortedKeys(tags) {
		ts = append(ts, s3types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &bucket, Tagging: &s3types.Tagging{TagSet: ts}}); err != nil {
		return fmt.Errorf("tag bucket %s: %w", bucket, err)
	}
	return nil
}

// webIdentityFails says why the operator's AWS SDK could not authenticate
// with the CloudStorage's creation secret, "" when it could: the SDK reads
// the web-identity profile only with enableSharedConfig, and the profile
// needs role_arn and web_identity_token_file. moto accepts any role, so a
// trust policy that does not admit the operator is not caught here. A secret
// not there yet is left to the retry, as the operator waits for it.
func (s *StandIn) webIdentityFails(ctx context.Context, cs *unstructured.Unstructured) string {
	name, _, _ := unstructured.NestedString(cs.Object, "spec", "creationSecret", "name")
	key, _, _ := unstructured.NestedString(cs.Object, "spec", "creationSecret", "key")
	sec, err := s.Kube.CoreV1().Secrets(cs.GetNamespace()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	if shared, _, _ := unstructured.NestedBool(cs.Object, "spec", "enableSharedConfig"); !shared {
		return "NoCredentialProviders: no valid providers in chain (the secret is read as static keys without enableSharedConfig: true)"
	}
	profile := string(sec.Data[key])
	for _, field := range []string{"role_arn", "web_identity_token_file"} {
		if !strings.Contains(profile, field) {
			return "WebIdentityErr: the profile in secret " + name + " has no " + field
		}
	}
	return ""
}

// event records an Event on obj with the reasons the real operator's
// CloudStorage controller uses (BucketCreated, BucketNotCreated, and
// BucketNotFound when its STS authentication fails). Repeats count up on
// one Event per reason, as the API server's event series do.
func (s *StandIn) event(ctx context.Context, obj *unstructured.Unstructured, kind, reason, msg string) {
	now := metav1.Now()
	events := s.Kube.CoreV1().Events(obj.GetNamespace())
	name := obj.GetName() + "." + strings.ToLower(reason)
	if old, err := events.Get(ctx, name, metav1.GetOptions{}); err == nil && old.InvolvedObject.UID == obj.GetUID() {
		old.Count++
		old.LastTimestamp, old.Message = now, msg
		if _, err := events.Update(ctx, old, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			s.logf("event %s on %s %s: %v", reason, obj.GetKind(), obj.GetName(), err)
		}
		return
	} else if err == nil {
		_ = events.Delete(ctx, name, metav1.DeleteOptions{}) // an earlier object's of the same name
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: obj.GetNamespace(), Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager}},
		InvolvedObject: corev1.ObjectReference{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Name: obj.GetName(),
			Namespace: obj.GetNamespace(), UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion()},
		Type: kind, Reason: reason, Message: msg, FirstTimestamp: now, LastTimestamp: now, Count: 1,
		Source: corev1.EventSource{Component: "oadp-stand-in"},
	}
	if _, err := events.Create(ctx, ev, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		s.logf("event %s on %s %s: %v", reason, obj.GetKind(), obj.GetName(), err)
	}
}
