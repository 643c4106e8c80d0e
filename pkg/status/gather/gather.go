package gather

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// Clients are what Gather reads with. AWS is called only for a cluster on
// AWS, once its region is known, so a run that never reaches AWS never
// loads AWS configuration.
type Clients struct {
	Dynamic dynamic.Interface
	Kube    kubernetes.Interface
	// AWS returns the AWS clients for a cluster in clusterRegion (the
	// region of the user's AWS configuration wins when it names one).
	AWS func(ctx context.Context, clusterRegion string) (*awsclient.Clients, error)
}

// Options name what to check.
type Options struct {
	Namespace   string
	ClusterName string
	RoleName    string
	PolicyName  string
	// AssumeRole makes the one create status may make: a TokenRequest.
	AssumeRole bool
	// SetupCommand is the setup command line for these names, for fixes.
	SetupCommand string
}

// Gather reads the cluster, AWS and the OADP namespace, and builds the
// report. Every read starts as soon as what it needs is known: the record,
// the cluster and the namespace's objects at once; the AWS caller once the
// cluster's platform and region are known; IAM once the caller is; the
// buckets once the locations are; the DPA's secrets and storage once the
// DPAs are. An unreadable cluster or record is an error; unreadable AWS
// becomes a failed check so the cluster facts still print.
func Gather(ctx context.Context, c Clients, o Options) (*status.Report, error) {
	now := time.Now()
	ns := o.Namespace
	names := start(func() (record.Names, error) {
		return record.Resolve(ctx, c.Dynamic, ns, record.Flags{ClusterName: o.ClusterName, RoleName: o.RoleName, PolicyName: o.PolicyName})
	})
	cluster := start(func() (*clusterfacts.Facts, error) { return clusterfacts.Discover(ctx, c.Dynamic, o.ClusterName) })
	oadp := start(func() (*clusterfacts.OADP, error) { return clusterfacts.DiscoverOADP(ctx, c.Dynamic, ns) })
	nsr := readNamespace(ctx, c, ns)
	var token *future[tokenRead]
	if o.AssumeRole {
		token = start(func() (tokenRead, error) { return requestToken(ctx, c.Kube, ns) })
	}
	aws := start(func() (awsRead, error) {
		return readAWS(ctx, c, awsDeps{cluster: cluster, names: names, bsls: nsr.bsls, cloudStorages: nsr.cloudStorages, dpas: nsr.dpas, storage: nsr.storage, token: token})
	})

	rec, recErr := names.wait()
	cl, clErr := cluster.wait()
	od, oadpErr := oadp.wait()
	a, _ := aws.wait()
	switch {
	case recErr != nil:
		return nil, recErr
	case clErr != nil:
		return nil, clErr
	case oadpErr != nil:
		return nil, oadpErr
	}
	ch := &status.Chain{Namespace: ns, SetupCommand: o.SetupCommand, Now: now}
	ch.RoleName, ch.PolicyName = roleAndPolicy(rec, cl)
	nsr.into(ch)
	if token != nil {
		t, err := token.wait()
		ch.AssumeRole = t.assumeRole(err)
	}
	a.into(ch)
	return status.Build(status.Inputs{Cluster: cl, OADP: od, AWS: a.facts, AWSErr: a.err, Chain: ch}), nil
}

// future is one read's result. Each read writes only its own future, before
// done is closed; others wait on it. Nothing else is shared between reads.
type future[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// start runs read concurrently.
func start[T any](read func() (T, error)) *future[T] {
	f := &future[T]{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.val, f.err = read()
	}()
	return f
}

// wait blocks until the read is done and returns what it returned.
func (f *future[T]) wait() (T, error) {
	<-f.done
	return f.val, f.err
}

// namespaceRead is the reads of the OADP namespace, each its own future.
type namespaceRead struct {
	secret        *future[secretRead]
	subscriptions *future[listed]
	dpas          *future[listed]
	dpaSecrets    *future[dpaSecretsRead]
	storage       *future[storageRead]
	bsls          *future[listed]
	cloudStorages *future[listed]
	backups       *future[listed]
	restores      *future[listed]
	// The ROLEARN flow's CredentialsRequest and the pending upgrades.
	credentialsRequest *future[*unstructured.Unstructured]
	installPlans       *future[[]olm.Plan]
}

// readNamespace starts every read of the OADP namespace. The DPA's
// secrets and the storage are read only once a DPA says what to read: before
// setup there is none, and the AWS reads take longer anyway.
func readNamespace(ctx context.Context, c Clients, ns string) *namespaceRead {
	list := func(r schema.GroupVersionResource) func() (listed, error) {
		return func() (listed, error) { return listIn(ctx, c.Dynamic, ns, r) }
	}
	r := &namespaceRead{
		secret:        start(func() (secretRead, error) { return readCredentials(ctx, c.Kube, ns) }),
		subscriptions: start(list(gvr.Subscription)),
		dpas:          start(list(gvr.DPA)),
		bsls:          start(list(gvr.BSL)),
		cloudStorages: start(list(gvr.CloudStorage)),
		backups:       start(list(gvr.Backup)),
		restores:      start(list(gvr.Restore)),
		credentialsRequest: start(func() (*unstructured.Unstructured, error) {
			return readCredentialsRequest(ctx, c.Dynamic)
		}),
		installPlans: start(func() ([]olm.Plan, error) { return olm.ListPlans(ctx, c.Dynamic, ns) }),
	}
	r.dpaSecrets = start(func() (dpaSecretsRead, error) {
		dpas, _ := r.dpas.wait()
		return readSecrets(ctx, c.Kube, ns, dpaSecretNames(dpas))
	})
	r.storage = start(func() (storageRead, error) {
		dpas, _ := r.dpas.wait()
		plan, ok := snapshotPlan(dpas)
		if !ok || plan.Mode == "" {
			return storageRead{mode: plan.Mode}, nil
		}
		return storageRead{mode: plan.Mode, warnings: plan.Warnings(checks.ReadStorage(ctx, c.Dynamic))}, nil
	})
	return r
}

// into puts what was read into the chain.
func (r *namespaceRead) into(ch *status.Chain) {
	s, err := r.secret.wait()
	ch.Secret, ch.SecretErr = s.secret, err
	subs, err := r.subscriptions.wait()
	ch.Subscription, ch.SubscriptionErr = oadpSubscription(subs), err
	ch.DPAs, ch.DPAErr = r.dpas.wait()
	ds, err := r.dpaSecrets.wait()
	ch.DPASecrets, ch.DPASecretsErr = ds.data, err
	st, _ := r.storage.wait()
	ch.SnapshotMode, ch.SnapshotWarnings = st.mode, st.warnings
	ch.BSLs, ch.BSLErr = r.bsls.wait()
	// A CloudStorage that cannot be read only hides a bucket name the
	// locations usually repeat.
	ch.CloudStorages, _ = r.cloudStorages.wait()
	var backupErr, restoreErr error
	ch.Backups, backupErr = r.backups.wait()
	ch.Restores, restoreErr = r.restores.wait()
	ch.VeleroErr = errors.Join(backupErr, restoreErr)
	ch.CredentialsRequest, ch.CredentialsRequestErr = r.credentialsRequest.wait()
	ch.InstallPlans, ch.InstallPlansErr = r.installPlans.wait()
}

// storageRead is the snapshot mode of the namespace's DPA and where the
// cluster's storage does not fit it.
type storageRead struct {
	mode     string
	warnings []checks.StorageWarning
}
