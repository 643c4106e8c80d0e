package rig

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ClusterFixture is one real kind of cluster: its objects and what a correct
// plugin says about it, from the fixture's "# EXPECT key: value" lines.
type ClusterFixture struct {
	Name    string
	Objects []*unstructured.Unstructured
	// Expect is in file order; keys may repeat in larger sets, so a list.
	Expect []Expectation
	// Flow are the objects of a companion <name>.flow-objects.yaml: what a
	// flow such as the 4.14+ ROLEARN one leaves in the cluster, nil without.
	Flow []*unstructured.Unstructured
}

// Expectation is one EXPECT line.
type Expectation struct{ Key, Value string }

// Object returns the fixture's object of a kind, nil when it has none.
func (f *ClusterFixture) Object(kind string) *unstructured.Unstructured {
	for _, o := range f.Objects {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

// ClusterFixtures reads every fixture of dir/clusters (companion
// flow-objects files are attached to their fixture, not fixtures of their own).
func ClusterFixtures(oracle string) ([]*ClusterFixture, error) {
	paths, err := filepath.Glob(filepath.Join(oracle, "clusters", "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*ClusterFixture
	for _, p := range paths {
		if strings.HasSuffix(p, ".flow-objects.yaml") {
			continue
		}
		f, err := ReadClusterFixture(p)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// ReadClusterFixture reads one fixture file and its flow-objects companion.
func ReadClusterFixture(path string) (*ClusterFixture, error) {
	objs, err := ReadObjects(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &ClusterFixture{Name: strings.TrimSuffix(filepath.Base(path), ".yaml"), Objects: objs}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "# EXPECT ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("%s: EXPECT line without a key: %q", path, line)
		}
		f.Expect = append(f.Expect, Expectation{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flow := strings.TrimSuffix(path, ".yaml") + ".flow-objects.yaml"
	if _, err := os.Stat(flow); err == nil {
		if f.Flow, err = ReadObjects(flow); err != nil {
			return nil, fmt.Errorf("%s: %w", flow, err)
		}
	}
	return f, nil
}

// clusterKinds are the cluster-scoped singletons a cluster's shape is made of.
var clusterKinds = []*unstructured.Unstructured{
	obj(map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": map[string]any{"name": "version"}}),
	obj(map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "Infrastructure", "metadata": map[string]any{"name": "cluster"}}),
	obj(map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "Authentication", "metadata": map[string]any{"name": "cluster"}}),
	obj(map[string]any{"apiVersion": "operator.openshift.io/v1", "kind": "CloudCredential", "metadata": map[string]any{"name": "cluster"}}),
}

// ReplaceCluster makes the cluster exactly objs: the seeded ClusterVersion,
// Infrastructure, Authentication and CloudCredential are deleted, and objs
// created in their place (spec and status) — a kind objs lacks stays absent,
// as on a cluster that has no such object. RestoreSeed undoes it.
func (r *Rig) ReplaceCluster(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, k := range clusterKinds {
		res, err := r.resourceFor(k)
		if err != nil {
			return err
		}
		if err := res.Delete(ctx, k.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete the seeded %s: %w", k.GetKind(), err)
		}
	}
	for _, o := range objs {
		if err := r.ApplyObject(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// completeRequired fills the fields a CRD requires and its controller
// always writes, where a fixture (an excerpt of `oc get -o yaml`) leaves them
// out: the ClusterVersion's status history and hashes, a CSV's display name
// and install strategy. None of them is read by the plugin, and a field the
// fixture gives is never changed.
func completeRequired(o *unstructured.Unstructured) *unstructured.Unstructured {
	switch o.GetKind() {
	case "ClusterVersion":
	case "ClusterServiceVersion":
		o = o.DeepCopy()
		spec, _, _ := unstructured.NestedMap(o.Object, "spec")
		if spec == nil {
			spec = map[string]any{}
		}
		if _, ok := spec["displayName"]; !ok {
			spec["displayName"] = o.GetName()
		}
		if _, ok := spec["install"]; !ok {
			spec["install"] = map[string]any{"strategy": "deployment", "spec": map[string]any{"deployments": []any{}}}
		}
		o.Object["spec"] = spec
		return o
	default:
		return o
	}
	o = o.DeepCopy()
	st, _, _ := unstructured.NestedMap(o.Object, "status")
	if st == nil {
		return o
	}
	image, _, _ := unstructured.NestedString(st, "desired", "image")
	for k, v := range map[string]any{"availableUpdates": nil, "observedGeneration": int64(1), "versionHash": "fixture"} {
		if _, ok := st[k]; !ok {
			st[k] = v
		}
	}
	hist, _, _ := unstructured.NestedSlice(st, "history")
	for i, h := range hist {
		m, ok := h.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range map[string]any{"completionTime": "2024-01-01T00:00:00Z", "startedTime": "2024-01-01T00:00:00Z", "image": image, "verified": false} {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
		hist[i] = m
	}
	if hist != nil {
		st["history"] = hist
	}
	o.Object["status"] = st
	return o
}

// RestoreSeed puts the seeded cluster objects back after ReplaceCluster.
func (r *Rig) RestoreSeed(ctx context.Context) error {
	c := STSCluster()
	if err := r.ReplaceCluster(ctx, []*unstructured.Unstructured{c.ClusterVersion, c.Infrastructure, c.Authentication, c.CloudCredential}); err != nil {
		return err
	}
	return r.seedStorage(ctx)
}

// ApplyObject applies an object and then its status, as a controller would
// have written it.
func (r *Rig) ApplyObject(ctx context.Context, o *unstructured.Unstructured) error {
	o = completeRequired(o)
	if err := r.Apply(ctx, o); err != nil {
		return fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
	}
	if _, ok := o.Object["status"]; ok {
		if err := r.ApplyStatus(ctx, o); err != nil {
			return fmt.Errorf("apply the status of %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// DeleteObject deletes an object, absent or not.
func (r *Rig) DeleteObject(ctx context.Context, o *unstructured.Unstructured) error {
	res, err := r.resourceFor(o)
	if err != nil {
		return err
	}
	if err := res.Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// CreateOIDCProviderIn registers issuer in IAM as ccoctl and rosa do, in the
// partition of region: moto keeps an IAM of its own per partition, so a
// GovCloud provider is found only by a client in a GovCloud region.
func (r *Rig) CreateOIDCProviderIn(ctx context.Context, region, issuer string) (arn string, err error) {
	cfg := r.AWSConfig()
	cfg.Region = region
	out, err := iam.NewFromConfig(cfg).CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url:            aws.String(issuer),
		ClientIDList:   []string{"openshift", "sts.amazonaws.com"},
		ThumbprintList: []string{Thumbprint},
	})
	if err != nil {
		return "", fmt.Errorf("register the OIDC provider %s in %s: %w", issuer, region, err)
	}
	return aws.ToString(out.OpenIDConnectProviderArn), nil
}

// DeleteOIDCProviderIn removes a provider CreateOIDCProviderIn made.
func (r *Rig) DeleteOIDCProviderIn(ctx context.Context, region, arn string) error {
	cfg := r.AWSConfig()
	cfg.Region = region
	_, err := iam.NewFromConfig(cfg).DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	return err
}

// ApplyCRDObjects applies CRDs given as objects and waits until they are served.
func (r *Rig) ApplyCRDObjects(ctx context.Context, crds ...*unstructured.Unstructured) error {
	var names []string
	for _, o := range crds {
		if err := r.Apply(ctx, o); err != nil {
			return fmt.Errorf("apply CRD %s: %w", o.GetName(), err)
		}
		names = append(names, o.GetName())
	}
	return r.waitEstablished(ctx, names)
}
