package setup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

// validateFrom refuses what does not go with restoring from another
// cluster's location: that bucket is the other cluster's, so nothing that
// makes or changes a bucket applies.
func (o *Options) validateFrom() error {
	if o.FromCluster == "" {
		return nil
	}
	var errs []string
	if o.Store.CloudStorage {
		errs = append(errs, "--from-cluster does not go with --cloudstorage: the bucket is the other cluster's, and a CloudStorage would make the operator manage it here; drop --cloudstorage")
	}
	if o.Store.Versioning {
		errs = append(errs, "--from-cluster does not go with --bucket-versioning: setup never changes the other cluster's bucket; turn versioning on where the bucket was set up")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// checkClusterAndFrom is checkCluster, then the location --from-cluster
// names, if given, read and checked.
func (o *Options) checkClusterAndFrom(ctx context.Context) error {
	if err := o.checkCluster(); err != nil || o.FromCluster == "" {
		return err
	}
	loc, err := o.readFrom(ctx)
	if err != nil {
		return err
	}
	o.from = loc
	if err := o.checkFrom(); err != nil {
		return err
	}
	switch {
	case o.Store.KMSKeyARN == "":
		o.Store.KMSKeyARN = loc.KMSKeyARN
	case loc.KMSKeyARN != "" && o.Store.KMSKeyARN != loc.KMSKeyARN:
		return fmt.Errorf("--kms-key-arn %s, but the location of --from-cluster %s uses KMS key %s: drop --kms-key-arn to use it; setup changed nothing", o.Store.KMSKeyARN, loc.Context, loc.KMSKeyARN)
	}
	return nil
}

// readFrom reads the location of the cluster of context --from-cluster:
// its facts (ID, region) and setup's record there, then the DPA the record
// names, whose location gives the bucket, prefix and region. A cluster that
// itself restores from a third one's location hands on that location, with
// its owner.
func (o *Options) readFrom(ctx context.Context) (*record.Location, error) {
	name := o.FromCluster
	fail := func(err error) error { return fmt.Errorf("--from-cluster %s: %w; setup changed nothing", name, err) }
	dyn, err := o.factory.ForContext(name).Dynamic()
	if err != nil {
		return nil, fail(fmt.Errorf("%w (name a context of your kubeconfig: 'kubectl config get-contexts -o name')", err))
	}
	ns := o.factory.Namespace()
	var (
		facts      *clusterfacts.Facts
		ev         record.Evidence
		fErr, rErr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { facts, fErr = clusterfacts.Discover(ctx, dyn, "") })
	wg.Go(func() { ev, rErr = record.Read(ctx, dyn, ns) })
	wg.Wait()
	if err := errors.Join(fErr, rErr); err != nil {
		return nil, fail(err)
	}
	if id := o.facts.Cluster.ID; id != "" && facts.ID == id {
		return nil, fmt.Errorf("--from-cluster %s is this cluster (ID %s): name the context of the cluster that made the backups; setup changed nothing", name, id)
	}
	names, err := record.Decide(record.Flags{}, ev)
	if err != nil {
		return nil, fail(err)
	}
	if names.DPA == "" {
		return nil, fail(fmt.Errorf("no DataProtectionApplication of kubectl-oadp_sts in namespace %s there: run 'kubectl oadp-sts setup --context %s' first, or name the location with --bucket and --prefix", ns, name))
	}
	dpa, err := dyn.Resource(gvr.DPA).Namespace(ns).Get(ctx, names.DPA, metav1.GetOptions{})
	if err != nil {
		return nil, fail(kube.Explain(err, gvr.DPA, names.DPA))
	}
	loc, err := locationOf(ctx, dyn, dpa)
	if err != nil {
		return nil, fail(err)
	}
	if loc.Prefix == "" {
		// setup's DPAs always have a prefix (manifests.DefaultPrefix when
		// none is given), so the two DPAs could not name the same place.
		return nil, fail(fmt.Errorf("the location of dataprotectionapplication %s in bucket %s has no prefix (the bucket's root), and setup writes its location with one: give that DPA a prefix, or restore with a location you write yourself", dpa.GetName(), loc.Bucket))
	}
	loc.Context = name
	loc.ClusterID = facts.ID
	if names.BucketFrom != "" {
		loc.ClusterID = names.BucketFrom
	}
	if loc.Region == "" {
		loc.Region = facts.Region
	}
	return loc, nil
}

// locationOf is the bucket, prefix and region of the DPA's first backup
// location: a velero location's objectStorage and config, or the
// CloudStorage a bucket location names.
func locationOf(ctx context.Context, dyn dynamic.Interface, dpa *unstructured.Unstructured) (*record.Location, error) {
	locs, _, _ := unstructured.NestedSlice(dpa.Object, "spec", "backupLocations")
	for _, l := range locs {
		m, _ := l.(map[string]any)
		if v, ok := m["velero"].(map[string]any); ok && kube.Str(v, "objectStorage", "bucket") != "" {
			return &record.Location{Bucket: kube.Str(v, "objectStorage", "bucket"), Prefix: kube.Str(v, "objectStorage", "prefix"),
				Region: kube.Str(v, "config", "region"), KMSKeyARN: kube.Str(v, "config", "kmsKeyId")}, nil
		}
		if b, ok := m["bucket"].(map[string]any); ok {
			name := kube.Str(b, "cloudStorageRef", "name")
			cs, err := dyn.Resource(gvr.CloudStorage).Namespace(dpa.GetNamespace()).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Explain(err, gvr.CloudStorage, name)
			}
			return &record.Location{Bucket: kube.Str(cs.Object, "spec", "name"), Prefix: kube.Str(b, "prefix"),
				Region: kube.Str(cs.Object, "spec", "region")}, nil
		}
	}
	return nil, fmt.Errorf("dataprotectionapplication %s names no bucket in its backup locations", dpa.GetName())
}

// checkFrom refuses, before anything is read of this cluster's AWS, a
// --from-cluster whose location is this cluster's own or in another region: a backup's volume snapshots are restored only in their region.
func (o *Options) checkFrom() error {
	f, loc := o.facts, o.from
	if f.Cluster.ID != "" && loc.ClusterID == f.Cluster.ID {
		// A second cluster that restores from this one's location, named
		// as the first: the bucket would be this cluster's own.
		return fmt.Errorf("--from-cluster %s restores from this cluster's own location (ID %s): name the context of the cluster that made the backups; setup changed nothing", loc.Context, loc.ClusterID)
	}
	if f.Cluster.Region != "" && loc.Region != "" && !strings.EqualFold(loc.Region, f.Cluster.Region) {
		return fmt.Errorf("--from-cluster %s: its bucket %s is in region %s and this cluster is in %s: its volume snapshots cannot be restored across regions with STS credentials; restore on a cluster in %s; setup changed nothing",
			loc.Context, loc.Bucket, loc.Region, f.Cluster.Region, loc.Region)
	}
	return nil
}

// rescope rebuilds the IAM spec when the bucket's plan, read beside IAM,
// found another cluster's bucket (its tags) where a bucket of this
// cluster's was expected: the role then gets the read-only scope. ready
// must have returned, so the plan is read.
func (o *Options) rescope(spec *iam.Spec) (*iam.Spec, bool, error) {
	p := o.Store.plan
	if p == nil || p.Kind != bucket.Shared || o.Store.from != "" {
		return spec, false, nil
	}
	o.Store.from = p.Owner()
	fmt.Fprintf(o.ErrOut, "bucket %s was made for cluster %s: restoring from its location read-only\n", o.Cluster.Bucket, p.Owner())
	s, err := o.iamSpec()
	return s, true, err
}
