// Package cleanup undoes what setup made, in an order that never hangs on a
// finalizer: backups and restores, the DPA, the CloudStorage and its bucket,
// then the operator and the CRDs with IAM beside them (nothing in the
// cluster uses the role by then), then the namespace (kept while IAM is left
// behind: it holds setup's record of the names). It first discovers
// everything into a Plan (read-only, printable), then executes it.
//
// Only what is ours is deleted: cluster objects carrying the plugin's
// managed-by label and AWS resources tagged for this cluster ID. Anything else
// is listed as skipped with the reason; --force deletes it anyway.
package cleanup

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
)

// Options choose what cleanup removes.
type Options struct {
	Namespace string
	// Workloads are application namespaces to delete first (the chapter's
	// hello-world).
	Workloads []string
	ClusterID string

	KeepBackups  bool
	KeepBucket   bool
	KeepOperator bool
	KeepCRDs     bool
	KeepIAM      bool
	// Force deletes what lacks our label or tags.
	Force bool
	// Timeout is how long each wait on a deletion or finalizer may take
	// before the plugin steps in.
	Timeout time.Duration

	RoleName   string
	PolicyARN  string
	PolicyName string
	// RecordedBucket is the bucket setup recorded on the namespace, and
	// Region the cluster's: a bucket whose CloudStorage is already gone is
	// still found through the record, and deleted when it carries our tags.
	RecordedBucket string
	// RecordedBucketAdopted: setup recorded that it adopted the bucket (an
	// existing one of the account), which cleanup never deletes, --force or not.
	RecordedBucketAdopted bool
	// RecordedBucketFrom is the cluster whose location this one restores
	// from (setup --from-cluster): its bucket is never deleted from here,
	// and the backups synced from it are that cluster's, so only their
	// objects here are deleted, never their data.
	RecordedBucketFrom string
	Region             string
}

// Clients are what cleanup reads and writes.
type Clients struct {
	Kube dynamic.Interface
	// IAM and S3 are nil when AWS is out of scope (--keep-iam and --keep-bucket).
	IAM awsclient.IAMAPI
	S3  awsclient.S3API
}

// Action of an item.
const (
	Delete = "delete"
	Keep   = "keep"
	Skip   = "skip"
)

// Item is one line of the plan.
type Item struct {
	Action string `json:"action"`
	What   string `json:"what"`
	Reason string `json:"reason,omitempty"`
}

// Plan is what cleanup found and will do.
type Plan struct {
	Items []Item

	workloads []string
	schedules []*unstructured.Unstructured
	backups   []*unstructured.Unstructured
	// backupObjectsOnly: the backups are another cluster's, synced here;
	// their objects are deleted without a DeleteBackupRequest.
	backupObjectsOnly bool
	restores          []*unstructured.Unstructured
	dpas              []*unstructured.Unstructured
	cloudStorages     []cloudStorage
	buckets           []cloudStorage // recorded, with no CloudStorage left to name them
	subscriptions     []*unstructured.Unstructured
	csvs              []string
	opGroups          []string
	crds              []string
	namespace         bool
	role              *roleState
	policy            *policyState

	// credentialsRequest is the operator's CredentialsRequest, to delete.
	credentialsRequest bool
}

type cloudStorage struct {
	obj          *unstructured.Unstructured
	bucket       string
	region       string
	deleteBucket bool // ours (or --force), and not --keep-bucket
	bucketExists bool
}

type roleState struct {
	name           string
	attachedPolicy bool
	delete         bool
}

type policyState struct {
	arn    string
	detach bool
	delete bool
}

// Empty reports whether there is nothing to delete.
func (p *Plan) Empty() bool {
	for _, it := range p.Items {
		if it.Action == Delete {
			return false
		}
	}
	return true
}

// Print writes the plan, one line an item.
func (p *Plan) Print(w io.Writer) {
	for _, it := range p.Items {
		line := fmt.Sprintf("  %-7s %s", it.Action, it.What)
		if it.Reason != "" {
			line += " (" + it.Reason + ")"
		}
		fmt.Fprintln(w, line)
	}
}

func (p *Plan) add(action, what, reason string) {
	p.Items = append(p.Items, Item{Action: action, What: what, Reason: reason})
}

func ours(o *unstructured.Unstructured) bool {
	return o.GetLabels()[manifests.ManagedByLabel] == manifests.ManagedByValue
}

// Discover reads the cluster and AWS, changing nothing, and builds the plan:
// the cluster is read at once (read), each kind of object is then decided
// in the order cleanup deletes them; the buckets and IAM need AWS reads of
// their own to be decided.
func Discover(ctx context.Context, c Clients, o Options) (*Plan, error) {
	// IAM is read beside the cluster (its reads need only the names), and
	// every bucket at once as soon as the CloudStorages are known: each read
	// is one round trip, not one after another. The plan is then decided,
	// in its order, from what they found.
	iamRead := func() (*iamFound, error) { return nil, nil }
	if !o.KeepIAM && c.IAM != nil {
		iamRead = startIAMRead(ctx, c.IAM, o)
	}
	recorded := readBuckets(ctx, c, o, nil, true)
	f, err := read(ctx, c, o)
	if err != nil {
		_, _ = iamRead()
		recorded()
		return nil, err
	}
	states := readBuckets(ctx, c, o, f.css, false)()
	for b, st := range recorded() {
		// A CloudStorage naming the recorded bucket says its region.
		if _, ok := states[b]; !ok {
			states[b] = st
		}
	}
	iamF, iamErr := iamRead()
	p := &Plan{}
	p.planWorkloads(f)
	p.planVelero(f, o)
	p.planCloudStorages(c, o, f.css, states)
	p.recordedBucket(c, o, states)
	p.planOperator(f, o)
	p.planCredentialsRequest(f.credentialsRequest, o)
	p.planCRDs(f.crds, o)
	p.planNamespace(f.ns, o)
	if o.KeepIAM {
		p.add(Keep, "IAM role "+o.RoleName+" and policy "+o.PolicyName, "--keep-iam")
	} else if c.IAM != nil {
		if iamErr != nil {
			return nil, iamErr
		}
		p.planIAM(iamF, o)
	}
	return p, nil
}

// bucketFound is what bucketState read of one bucket.
type bucketFound struct {
	exists, owned bool
	reason        string
}

// readBuckets reads the state of every CloudStorage's bucket, or of the
// bucket setup recorded (which needs no CloudStorage to be found, so it is
// read beside the cluster), all at once; the func returned waits for them.
func readBuckets(ctx context.Context, c Clients, o Options, css []unstructured.Unstructured, recorded bool) func() map[string]bucketFound {
	want := map[string]string{}
	switch {
	case c.S3 == nil || o.KeepBucket:
	case recorded:
		if b := o.RecordedBucket; b != "" && !o.RecordedBucketAdopted {
			want[b] = o.Region
		}
	default:
		for i := range css {
			if ours(&css[i]) || o.Force {
				want[kube.Str(css[i].Object, "spec", "name")] = kube.Str(css[i].Object, "spec", "region")
			}
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string]bucketFound{}
	)
	for b, region := range want {
		wg.Go(func() {
			var st bucketFound
			st.exists, st.owned, st.reason = bucketState(ctx, c.S3, b, region, o.ClusterID)
			mu.Lock()
			out[b] = st
			mu.Unlock()
		})
	}
	return func() map[string]bucketFound { wg.Wait(); return out }
}

// found is what cleanup reads of the cluster, before deciding anything.
type found struct {
	workloads, canaries                     []string // sorted
	schedules, backups, restores, dpas, css []unstructured.Unstructured
	subs, csvs, ogs, crds                   []unstructured.Unstructured
	ns                                      *unstructured.Unstructured // nil when the OADP namespace is gone
	credentialsRequest                      *unstructured.Unstructured // nil when there is none
}

// read lists what cleanup may delete, all at once; a kind the cluster does
// not serve (no OADP CRDs, no OLM) is an empty list.
func read(ctx context.Context, c Clients, o Options) (*found, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	list := func(r schema.GroupVersionResource, ns string) []unstructured.Unstructured {
		var l *unstructured.UnstructuredList
		var err error
		if ns == "" {
			l, err = c.Kube.Resource(r).List(ctx, metav1.ListOptions{})
		} else {
			l, err = c.Kube.Resource(r).Namespace(ns).List(ctx, metav1.ListOptions{})
		}
		if err != nil {
			if kube.IsTypeMissing(err) || apierrors.IsNotFound(err) {
				return nil
			}
			mu.Lock()
			errs = append(errs, kube.Explain(err, r, ""))
			mu.Unlock()
			return nil
		}
		return l.Items
	}
	f := &found{}
	for _, w := range o.Workloads {
		wg.Go(func() {
			if _, err := c.Kube.Resource(gvr.Namespace).Get(ctx, w, metav1.GetOptions{}); err == nil {
				mu.Lock()
				f.workloads = append(f.workloads, w)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		// What an interrupted 'verify' left: its canary namespaces (its
		// backups and restores are in the OADP namespace, listed below).
		l, err := c.Kube.Resource(gvr.Namespace).List(ctx, metav1.ListOptions{LabelSelector: verify.AnySelector})
		if err != nil {
			return
		}
		for _, n := range l.Items {
			if ours(&n) {
				f.canaries = append(f.canaries, n.GetName())
			}
		}
	})
	wg.Go(func() { f.schedules = list(gvr.Schedule, o.Namespace) })
	wg.Go(func() { f.backups = list(gvr.Backup, o.Namespace) })
	wg.Go(func() { f.restores = list(gvr.Restore, o.Namespace) })
	wg.Go(func() { f.dpas = list(gvr.DPA, o.Namespace) })
	wg.Go(func() { f.css = list(gvr.CloudStorage, o.Namespace) })
	wg.Go(func() { f.subs = list(gvr.Subscription, o.Namespace) })
	wg.Go(func() { f.csvs = list(gvr.CSV, o.Namespace) })
	wg.Go(func() { f.ogs = list(gvr.OperatorGroup, o.Namespace) })
	wg.Go(func() { f.crds = list(gvr.CRD, "") })
	wg.Go(func() {
		cr, err := readCredentialsRequest(ctx, c)
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		f.credentialsRequest = cr
	})
	wg.Go(func() {
		got, err := c.Kube.Resource(gvr.Namespace).Get(ctx, o.Namespace, metav1.GetOptions{})
		if err == nil {
			f.ns = got
		}
	})
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	slices.Sort(f.workloads)
	slices.Sort(f.canaries)
	return f, nil
}

// planWorkloads deletes the workload namespaces named, and the canaries an
// interrupted verify left.
func (p *Plan) planWorkloads(f *found) {
	for _, w := range f.workloads {
		p.workloads = append(p.workloads, w)
		p.add(Delete, "namespace "+w, "workload")
	}
	for _, n := range f.canaries {
		if !slices.Contains(p.workloads, n) {
			p.workloads = append(p.workloads, n)
			p.add(Delete, "namespace "+n, "a canary 'kubectl oadp-sts verify' left")
		}
	}
}

// planVelero decides Velero's objects and the DPAs.
func (p *Plan) planVelero(f *found, o Options) {
	// Schedules go before backups: one left running could make a backup while
	// the others are being deleted. --keep-f.backups keeps them with the backups.
	if len(f.schedules) > 0 {
		if o.KeepBackups {
			p.add(Keep, fmt.Sprintf("%s: %s", count(len(f.schedules), "schedule"), itemNames(f.schedules)), "--keep-backups")
		} else {
			p.schedules = ptrs(f.schedules)
			p.add(Delete, fmt.Sprintf("%s: %s", count(len(f.schedules), "schedule"), itemNames(f.schedules)), "")
		}
	}
	if len(f.backups) > 0 {
		names := itemNames(f.backups)
		if o.KeepBackups {
			p.add(Keep, fmt.Sprintf("%s: %s", count(len(f.backups), "backup"), names), "--keep-backups; their data stays in the bucket")
		} else if o.RecordedBucketFrom != "" {
			p.backups, p.backupObjectsOnly = ptrs(f.backups), true
			p.add(Delete, fmt.Sprintf("%s, the objects only: %s", count(len(f.backups), "backup"), names),
				"synced from the read-only location of cluster "+o.RecordedBucketFrom+", whose data they are and stays")
		} else {
			p.backups = ptrs(f.backups)
			p.add(Delete, fmt.Sprintf("%s with their data (DeleteBackupRequest): %s", count(len(f.backups), "backup"), names), "")
		}
	}
	if len(f.restores) > 0 {
		p.restores = ptrs(f.restores)
		p.add(Delete, fmt.Sprintf("%s: %s", count(len(f.restores), "restore"), itemNames(f.restores)), "")
	}
	for i := range f.dpas {
		if ours(&f.dpas[i]) || o.Force {
			p.dpas = append(p.dpas, &f.dpas[i])
			p.add(Delete, "dataprotectionapplication "+f.dpas[i].GetName(), "")
		} else {
			p.add(Skip, "dataprotectionapplication "+f.dpas[i].GetName(), "not created by kubectl-oadp_sts; --force deletes it")
		}
	}
}

// planCloudStorages decides each CloudStorage and its bucket, from the
// buckets' states readBuckets found.
func (p *Plan) planCloudStorages(c Clients, o Options, list []unstructured.Unstructured, states map[string]bucketFound) {
	for i := range list {
		cs := cloudStorage{obj: &list[i], bucket: kube.Str(list[i].Object, "spec", "name"), region: kube.Str(list[i].Object, "spec", "region")}
		if !ours(cs.obj) && !o.Force {
			p.add(Skip, "cloudstorage "+cs.obj.GetName(), "not created by kubectl-oadp_sts; --force deletes it")
			continue
		}
		what := "cloudstorage " + cs.obj.GetName()
		switch {
		case o.KeepBucket:
			p.add(Delete, what, "released without deleting bucket "+cs.bucket+" (--keep-bucket)")
		case c.S3 == nil:
			p.add(Delete, what, "bucket "+cs.bucket+" left alone: no AWS access")
		default:
			st := states[cs.bucket]
			exists, owned, reason := st.exists, st.owned, st.reason
			cs.bucketExists = exists
			switch {
			case !exists:
				p.add(Delete, what, "its bucket "+cs.bucket+" does not exist")
			case owned || o.Force:
				cs.deleteBucket = true
				p.add(Delete, what+" and its bucket "+cs.bucket, "emptied first: every object version and delete marker")
			default:
				p.add(Delete, what, "keeps bucket "+cs.bucket+": "+reason+"; --force deletes it")
			}
		}
		p.cloudStorages = append(p.cloudStorages, cs)
	}
}

// planOperator decides the operator's Subscription, CSV and OperatorGroup.
func (p *Plan) planOperator(f *found, o Options) {
	if o.KeepOperator {
		if len(f.subs) > 0 || len(f.csvs) > 0 {
			p.add(Keep, "the OADP operator", "--keep-operator")
		}
	} else {
		for i := range f.subs {
			if pkg := kube.Str(f.subs[i].Object, "spec", "name"); pkg == manifests.PackageName || pkg == "oadp-operator" {
				p.subscriptions = append(p.subscriptions, &f.subs[i])
				p.add(Delete, "subscription "+f.subs[i].GetName(), "package "+pkg)
			}
		}
		for i := range f.csvs {
			if strings.HasPrefix(f.csvs[i].GetName(), "oadp-operator.") {
				p.csvs = append(p.csvs, f.csvs[i].GetName())
				p.add(Delete, "clusterserviceversion "+f.csvs[i].GetName(), "")
			}
		}
		for i := range f.ogs {
			if ours(&f.ogs[i]) || o.Force {
				p.opGroups = append(p.opGroups, f.ogs[i].GetName())
				p.add(Delete, "operatorgroup "+f.ogs[i].GetName(), "")
			}
		}
	}
}

// planCRDs decides the velero.io and oadp.openshift.io CRDs.
func (p *Plan) planCRDs(list []unstructured.Unstructured, o Options) {
	var crdNames []string
	for i := range list {
		g := kube.Str(list[i].Object, "spec", "group")
		if g == "velero.io" || g == "oadp.openshift.io" {
			crdNames = append(crdNames, list[i].GetName())
		}
	}
	if len(crdNames) > 0 {
		slices.Sort(crdNames)
		switch {
		case o.KeepCRDs || o.KeepOperator:
			p.add(Keep, fmt.Sprintf("%d velero.io and oadp.openshift.io CRDs", len(crdNames)), keepReason(o))
		default:
			p.crds = crdNames
			p.add(Delete, fmt.Sprintf("%d velero.io and oadp.openshift.io CRDs", len(crdNames)), "")
		}
	}
}

// planNamespace decides the OADP namespace itself.
func (p *Plan) planNamespace(ns *unstructured.Unstructured, o Options) {
	if ns != nil {
		switch {
		case o.KeepOperator:
			p.add(Keep, "namespace "+o.Namespace, "--keep-operator")
		case ours(ns) || o.Force:
			p.namespace = true
			p.add(Delete, "namespace "+o.Namespace, "")
		default:
			p.add(Skip, "namespace "+o.Namespace, "not created by kubectl-oadp_sts; --force deletes it")
		}
	}
}

func keepReason(o Options) string {
	if o.KeepOperator {
		return "--keep-operator needs them"
	}
	return "--keep-crds"
}

// discoverIAM decides the role's and the policy's fate from their tags and
// from who else uses the policy (the chapter shares one policy across clusters).
// iamFound is what startIAMRead read: the role (nil when there is none),
// whether the policy is attached to it, the policy (nil when there is none)
// and what it is attached to.
type iamFound struct {
	role     *awsiam.GetRoleOutput
	attached bool
	policy   *awsiam.GetPolicyOutput
	users    []string
}

// startIAMRead reads the role, its attachment, the policy and what it is
// attached to, all at once: each needs only a name. The func returned waits
// for them; its error is the first a read in that order met, a read of
// what does not exist aside.
func startIAMRead(ctx context.Context, c awsclient.IAMAPI, o Options) func() (*iamFound, error) {
	var (
		f                               iamFound
		roleErr, attErr, polErr, usrErr error
		wg                              sync.WaitGroup
	)
	wg.Go(func() { f.role, roleErr = c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: &o.RoleName}) })
	wg.Go(func() { f.attached, attErr = iam.IsAttached(ctx, c, o.RoleName, o.PolicyARN) })
	wg.Go(func() { f.policy, polErr = c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: &o.PolicyARN}) })
	wg.Go(func() { f.users, usrErr = policyUsers(ctx, c, o.PolicyARN) })
	return func() (*iamFound, error) {
		wg.Wait()
		switch {
		case awsclient.IsNotFound(roleErr):
			f.role, f.attached = nil, false
		case roleErr != nil:
			return nil, awsclient.Explain("read IAM role "+o.RoleName, roleErr)
		case attErr != nil:
			return nil, attErr
		}
		switch {
		case awsclient.IsNotFound(polErr):
			f.policy, f.users = nil, nil
		case polErr != nil:
			return nil, awsclient.Explain("read IAM policy "+o.PolicyARN, polErr)
		case usrErr != nil:
			return nil, usrErr
		}
		return &f, nil
	}
}

// planIAM decides the role and the policy from what startIAMRead found.
func (p *Plan) planIAM(f *iamFound, o Options) {
	if f.role != nil {
		rs := &roleState{name: o.RoleName, attachedPolicy: f.attached}
		if iam.Owned(f.role.Role.Tags, o.ClusterID) || o.Force {
			rs.delete = true
			what := "IAM role " + o.RoleName
			if rs.attachedPolicy {
				what += " (detaching " + o.PolicyName + " first)"
			}
			p.add(Delete, what, "")
		} else {
			p.add(Skip, "IAM role "+o.RoleName, "not tagged "+iam.TagOwnerClusterID+"="+o.ClusterID+"; --force deletes it")
		}
		p.role = rs
	}
	if f.policy == nil {
		return
	}
	ps := &policyState{arn: o.PolicyARN}
	p.policy = ps
	others := slices.DeleteFunc(f.users, func(u string) bool { return u == "role/"+o.RoleName })
	ps.detach = p.role != nil && p.role.delete && p.role.attachedPolicy
	switch {
	case len(others) > 0:
		p.add(Skip, "IAM policy "+o.PolicyName, "still attached to "+strings.Join(others, ", "))
	case !iam.Owned(f.policy.Policy.Tags, o.ClusterID) && !o.Force:
		p.add(Skip, "IAM policy "+o.PolicyName, "not tagged "+iam.TagOwnerClusterID+"="+o.ClusterID+"; --force deletes it")
	case p.role != nil && p.role.attachedPolicy && !p.role.delete:
		p.add(Skip, "IAM policy "+o.PolicyName, "the role that uses it stays")
	default:
		ps.delete = true
		p.add(Delete, "IAM policy "+o.PolicyName, "no other role uses it")
	}
}

// policyUsers lists every role, user and group the policy is attached to.
func policyUsers(ctx context.Context, c awsclient.IAMAPI, arn string) ([]string, error) {
	var out []string
	pages := awsiam.NewListEntitiesForPolicyPaginator(c, &awsiam.ListEntitiesForPolicyInput{PolicyArn: &arn})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awsclient.Explain("list what uses IAM policy "+arn, err)
		}
		for _, r := range page.PolicyRoles {
			out = append(out, "role/"+aws.ToString(r.RoleName))
		}
		for _, u := range page.PolicyUsers {
			out = append(out, "user/"+aws.ToString(u.UserName))
		}
		for _, g := range page.PolicyGroups {
			out = append(out, "group/"+aws.ToString(g.GroupName))
		}
	}
	return out, nil
}

// recordedBucket plans the bucket setup recorded when no CloudStorage names
// it any more (deleted by hand, or its finalizer released): without the
// record nothing would lead cleanup to it.
func (p *Plan) recordedBucket(c Clients, o Options, states map[string]bucketFound) {
	b := o.RecordedBucket
	if b == "" || o.KeepBucket || c.S3 == nil || slices.ContainsFunc(p.cloudStorages, func(cs cloudStorage) bool { return cs.bucket == b }) {
		return
	}
	if o.RecordedBucketFrom != "" {
		p.add(Keep, "bucket "+b, "the backup location of cluster "+o.RecordedBucketFrom+", read-only here: never deleted from this cluster, --force or not")
		return
	}
	if o.RecordedBucketAdopted {
		p.add(Keep, "bucket "+b, "adopted by setup (it existed before), so it is never deleted")
		return
	}
	st := states[b]
	exists, owned, reason := st.exists, st.owned, st.reason
	switch {
	case !exists:
	case owned || o.Force:
		p.buckets = append(p.buckets, cloudStorage{bucket: b, region: o.Region, deleteBucket: true, bucketExists: true})
		p.add(Delete, "bucket "+b, "recorded by setup and tagged for this cluster, with no CloudStorage naming it; emptied first: every object version and delete marker")
	default:
		p.add(Skip, "bucket "+b, "recorded by setup, but "+reason+"; --force deletes it")
	}
}

// bucketState reads whether the bucket exists and carries our tags.
func bucketState(ctx context.Context, c awsclient.S3API, bucket, region, clusterID string) (exists, owned bool, reason string) {
	out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &bucket}, inRegion(region))
	switch {
	case awsclient.ErrorCode(err) == "NoSuchBucket":
		return false, false, ""
	case awsclient.ErrorCode(err) == "NoSuchTagSet":
		return true, false, "it has no tags"
	case err != nil:
		return true, false, "its tags could not be read: " + awsclient.Explain("read the bucket's tags", err).Error()
	}
	tags := map[string]string{}
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if tags[iam.TagManagedBy] == iam.ManagedBy && tags[iam.TagOwnerClusterID] == clusterID && clusterID != "" {
		return true, true, ""
	}
	return true, false, "not tagged " + iam.TagOwnerClusterID + "=" + clusterID
}

func itemNames(items []unstructured.Unstructured) string {
	names := make([]string, len(items))
	for i := range items {
		names[i] = items[i].GetName()
	}
	slices.Sort(names)
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

func ptrs(items []unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// count is "1 backup", "2 backups".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
