package rig

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

var mapperMu sync.Mutex

func (r *Rig) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapperMu.Lock()
	if r.mapper == nil {
		dc, err := discovery.NewDiscoveryClientForConfig(r.Config)
		if err != nil {
			mapperMu.Unlock()
			return nil, err
		}
		r.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	}
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A CRD installed since the last discovery.
		r.mapper.Reset()
		m, err = r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	mapperMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("no API for %s: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return r.Dynamic.Resource(m.Resource), nil
}

// ClusterObjects are the objects an AWS STS OpenShift cluster has that the
// plugin reads, as the rig seeds them. Tests change a copy and apply it to
// make the cluster look otherwise.
type ClusterObjects struct {
	ClusterVersion, Infrastructure, Authentication, CloudCredential *unstructured.Unstructured
}

// STSCluster returns the seeded objects of the default rig's healthy AWS STS cluster.
func STSCluster() ClusterObjects { return DefaultIdentity().Objects() }

// Objects returns the seeded objects of a healthy AWS STS cluster of this identity.
func (id Identity) Objects() ClusterObjects {
	return ClusterObjects{
		ClusterVersion: obj(map[string]any{
			"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
			"metadata": map[string]any{"name": "version"},
			"spec":     map[string]any{"clusterID": id.ClusterID, "channel": "stable-4.16"},
			"status": map[string]any{
				"desired":            map[string]any{"version": id.OpenShift, "image": "quay.io/openshift-release-dev/ocp-release@sha256:" + fmt.Sprintf("%064d", 0)},
				"availableUpdates":   []any{},
				"observedGeneration": int64(1),
				"versionHash":        "rig",
			},
		}),
		Infrastructure: obj(map[string]any{
			"apiVersion": "config.openshift.io/v1", "kind": "Infrastructure",
			"metadata": map[string]any{"name": "cluster"},
			"spec":     map[string]any{"platformSpec": map[string]any{"type": "AWS", "aws": map[string]any{}}},
			"status": map[string]any{
				"infrastructureName":     id.InfraName,
				"platform":               "AWS",
				"platformStatus":         map[string]any{"type": "AWS", "aws": map[string]any{"region": id.Region}},
				"controlPlaneTopology":   "HighlyAvailable",
				"infrastructureTopology": "HighlyAvailable",
				"apiServerURL":           "https://api.rig.example.com:6443",
				"apiServerInternalURI":   "https://api-int.rig.example.com:6443",
				"etcdDiscoveryDomain":    "",
			},
		}),
		Authentication: obj(map[string]any{
			"apiVersion": "config.openshift.io/v1", "kind": "Authentication",
			"metadata": map[string]any{"name": "cluster"},
			"spec":     map[string]any{"serviceAccountIssuer": id.Issuer(), "type": "IntegratedOAuth"},
		}),
		CloudCredential: obj(map[string]any{
			"apiVersion": "operator.openshift.io/v1", "kind": "CloudCredential",
			"metadata": map[string]any{"name": "cluster"},
			"spec":     map[string]any{"credentialsMode": "Manual", "managementState": "Managed"},
		}),
	}
}

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

// Seed makes the cluster look like a healthy AWS STS OpenShift cluster again.
func (r *Rig) Seed(ctx context.Context) error { return r.ApplyCluster(ctx, r.Identity.Objects()) }

// ApplyCluster applies the cluster objects, specs and statuses.
func (r *Rig) ApplyCluster(ctx context.Context, c ClusterObjects) error {
	for _, o := range []*unstructured.Unstructured{c.ClusterVersion, c.Infrastructure, c.Authentication, c.CloudCredential} {
		if err := r.Apply(ctx, o); err != nil {
			return fmt.Errorf("seed %s: %w", o.GetKind(), err)
		}
		if _, ok := o.Object["status"]; ok {
			if err := r.ApplyStatus(ctx, o); err != nil {
				return fmt.Errorf("seed %s status: %w", o.GetKind(), err)
			}
		}
	}
	return r.seedStorage(ctx)
}

// seedStorage adds the storage classes of an AWS cluster with the EBS CSI
// driver (gp3-csi default, as on OpenShift 4.12+) and the VolumeSnapshotClass
// the driver's operator makes, marked default.
func (r *Rig) seedStorage(ctx context.Context) error {
	vsc := obj(map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
		"metadata":       map[string]any{"name": "csi-aws-vsc", "annotations": map[string]any{"snapshot.storage.kubernetes.io/is-default-class": "true"}},
		"driver":         "ebs.csi.aws.com",
		"deletionPolicy": "Delete",
	})
	if err := r.Apply(ctx, vsc); err != nil {
		return err
	}
	for _, sc := range []struct {
		name, provisioner string
		def               bool
	}{{"gp3-csi", "ebs.csi.aws.com", true}, {"gp2-csi", "ebs.csi.aws.com", false}} {
		o := obj(map[string]any{
			"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
			"metadata":    map[string]any{"name": sc.name, "annotations": map[string]any{"storageclass.kubernetes.io/is-default-class": fmt.Sprint(sc.def)}},
			"provisioner": sc.provisioner,
		})
		if err := r.Apply(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// NamespaceGone reports whether a namespace no longer exists (not even terminating).
func (r *Rig) NamespaceGone(ctx context.Context, name string) bool {
	_, err := r.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}
