package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// Runner executes a plan.
type Runner struct {
	Clients
	Options
	// Out gets one line per step.
	Out io.Writer
	// Live shows waits rewritten in place.
	Live bool

	leftMu sync.Mutex
	left   []string
	// waiting counts the left-behind items that were only still going
	// when their wait ran out (a terminating namespace), not refused.
	waiting int
}

// Run executes the plan in order. A failed step does not stop the
// independent ones after it; everything left behind is returned in the error.
func (r *Runner) Run(ctx context.Context, p *Plan) error {
	for _, w := range p.workloads {
		r.deleteAndWait(ctx, gvr.Namespace, "", w, "namespace "+w, false)
	}
	for _, sc := range p.schedules {
		r.deleteAndWait(ctx, gvr.Schedule, r.Namespace, sc.GetName(), "schedule "+sc.GetName(), true)
	}
	r.backupsAndRestores(ctx, p)
	for _, d := range p.dpas {
		r.deleteAndWait(ctx, gvr.DPA, r.Namespace, d.GetName(), "dataprotectionapplication "+d.GetName(), true)
	}
	for _, cs := range p.cloudStorages {
		r.cloudStorage(ctx, cs)
	}
	// Nothing in the cluster uses the role now: IAM goes beside the rest.
	iamDone, detached := r.startIAM(ctx, p)
	for _, b := range p.buckets {
		r.bucket(ctx, b, detached)
	}
	for _, s := range p.subscriptions {
		r.deleteAndWait(ctx, gvr.Subscription, r.Namespace, s.GetName(), "subscription "+s.GetName(), true)
	}
	for _, c := range p.csvs {
		r.deleteAndWait(ctx, gvr.CSV, r.Namespace, c, "clusterserviceversion "+c, true)
	}
	for _, og := range p.opGroups {
		r.deleteAndWait(ctx, gvr.OperatorGroup, r.Namespace, og, "operatorgroup "+og, true)
	}
	// After the operator, which would make it again at its next start.
	if p.credentialsRequest {
		r.deleteAndWait(ctx, gvr.CredentialsReq, manifests.CredentialsRequestNamespace, manifests.CredentialsRequestName,
			"credentialsrequest "+manifests.CredentialsRequestNamespace+"/"+manifests.CredentialsRequestName, true)
	}
	r.crds(ctx, p.crds)
	// IAM before the namespace: the namespace carries setup's record of the
	// role's and policy's names, which a rerun needs while either is left.
	before := len(r.left)
	iamDone()
	if p.namespace {
		if len(r.left) > before {
			r.leave("namespace "+r.Namespace, errors.New("kept: its annotations name the IAM role and policy left behind, so that cleanup run again finds them"))
		} else {
			r.deleteAndWait(ctx, gvr.Namespace, "", r.Namespace, "namespace "+r.Namespace, false)
		}
	} else if len(r.left) == 0 && !r.KeepIAM && !r.KeepBucket {
		// The namespace stays (--keep-operator) but nothing its record names
		// does: a setup run later must not follow a record of what is gone
		// (the chapter's CloudStorage path, a role's name).
		r.forgetRecord(ctx)
	}
	if len(r.left) > 0 {
		err := &LeftBehindError{Items: r.left}
		if r.waiting == len(r.left) {
			// Nothing refused: the cluster is still deleting what is left.
			return exitcode.WithCode(exitcode.Timeout, err)
		}
		return err
	}
	return nil
}

// forgetRecord removes setup's record (record.Prefix annotations) from the
// kept namespace.
func (r *Runner) forgetRecord(ctx context.Context) {
	ns, err := r.Clients.Kube.Resource(gvr.Namespace).Get(ctx, r.Namespace, metav1.GetOptions{})
	if err != nil {
		return // gone, or unreadable: nothing to forget that a rerun would read
	}
	drop := map[string]any{}
	for k := range ns.GetAnnotations() {
		if strings.HasPrefix(k, record.Prefix) {
			drop[k] = nil
		}
	}
	if len(drop) == 0 {
		return
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": drop}})
	if err == nil {
		_, err = r.Clients.Kube.Resource(gvr.Namespace).Patch(ctx, r.Namespace, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		r.leave("setup's record on namespace "+r.Namespace, err)
		return
	}
	r.say("namespace %s: setup's record of what it made removed (the namespace stays for the operator)", r.Namespace)
}

// LeftBehindError lists what cleanup could not remove.
type LeftBehindError struct{ Items []string }

func (e *LeftBehindError) Error() string {
	return fmt.Sprintf("cleanup left %d things behind:\n  - %s\nfix the cause above and run cleanup again", len(e.Items), joinLines(e.Items))
}

func joinLines(items []string) string {
	out := ""
	for i, s := range items {
		if i > 0 {
			out += "\n  - "
		}
		out += s
	}
	return out
}

func (r *Runner) say(format string, a ...any) { fmt.Fprintf(r.Out, format+"\n", a...) }

func (r *Runner) leave(what string, err error) {
	r.leftMu.Lock()
	defer r.leftMu.Unlock()
	r.left = append(r.left, fmt.Sprintf("%s: %v", what, err))
	var still *stillTerminatingError
	if errors.As(err, &still) {
		r.waiting++
	}
	r.say("failed  %s: %v", what, err)
}

func (r *Runner) res(g schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return r.Kube.Resource(g)
	}
	return r.Kube.Resource(g).Namespace(ns)
}

// deleteAndWait deletes an object and waits until it is gone. When it is
// still there after the timeout and stripFinalizers is set, its finalizers
// are removed and that is reported; otherwise it is left behind.
func (r *Runner) deleteAndWait(ctx context.Context, g schema.GroupVersionResource, ns, name, what string, stripFinalizers bool) bool {
	res := r.res(g, ns)
	err := res.Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		r.say("deleted %s (already gone)", what)
		return true
	}
	if err != nil {
		r.leave(what, kube.Explain(err, g, name))
		return false
	}
	if r.waitGone(ctx, g, ns, name, what) {
		r.say("deleted %s", what)
		return true
	}
	if !stripFinalizers {
		r.leave(what, &stillTerminatingError{after: r.Timeout})
		return false
	}
	if err := removeFinalizers(ctx, res, name); err != nil {
		r.leave(what, err)
		return false
	}
	if r.waitGone(ctx, g, ns, name, what) {
		r.say("deleted %s (its finalizers were still set after %s, so they were removed)", what, r.Timeout)
		return true
	}
	r.leave(what, fmt.Errorf("still present after its finalizers were removed"))
	return false
}

// stillTerminatingError is an object still being deleted when the wait on
// it ran out: the cluster carries on, so cleanup run later finds it gone.
type stillTerminatingError struct{ after time.Duration }

func (e *stillTerminatingError) Error() string {
	return fmt.Sprintf("still terminating after %s (the cluster carries on deleting it)", e.after)
}

func (r *Runner) waitGone(ctx context.Context, g schema.GroupVersionResource, ns, name, what string) bool {
	opts := wait.Options{What: what, Timeout: r.Timeout,
		Progress: func(*unstructured.Unstructured) string { return what + " terminating" }}
	// Most deletions take a moment: in a log, the result line alone says
	// enough; on a terminal a live line shows what is being waited on.
	if r.Live {
		opts.Out, opts.Live = r.Out, true
	}
	return wait.Deleted(ctx, r.res(g, ns), name, opts) == nil
}

func removeFinalizers(ctx context.Context, res dynamic.ResourceInterface, name string) error {
	_, err := res.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// backupsAndRestores deletes backups through DeleteBackupRequests, so Velero
// removes their data, and restores directly; all are waited on together.
func (r *Runner) backupsAndRestores(ctx context.Context, p *Plan) {
	var wg sync.WaitGroup
	for _, b := range p.backups {
		wg.Go(func() {
			what := "backup " + b.GetName()
			if p.backupObjectsOnly {
				r.deleteAndWait(ctx, gvr.Backup, r.Namespace, b.GetName(), what+" (its data is the other cluster's and stays)", true)
				return
			}
			if err := r.requestDeletion(ctx, b); err != nil {
				r.leave(what, err)
				return
			}
			if r.waitGone(ctx, gvr.Backup, r.Namespace, b.GetName(), what) {
				r.say("deleted %s and its data", what)
				return
			}
			// No Velero processed the request: remove the object so nothing
			// hangs; its data goes with the bucket unless the bucket is kept.
			if r.deleteAndWait(ctx, gvr.Backup, r.Namespace, b.GetName(), what+" (Velero did not process its DeleteBackupRequest in "+r.Timeout.String()+"; object deleted, its data stays in the bucket unless the bucket is deleted)", true) {
				return
			}
		})
	}
	for _, rs := range p.restores {
		wg.Go(func() {
			r.deleteAndWait(ctx, gvr.Restore, r.Namespace, rs.GetName(), "restore "+rs.GetName(), true)
		})
	}
	wg.Wait()
}

// requestDeletion creates a DeleteBackupRequest for b unless one for this
// very backup (same UID) is already pending, so a cleanup run again after
// being interrupted does not ask twice.
func (r *Runner) requestDeletion(ctx context.Context, b *unstructured.Unstructured) error {
	dbrs := r.res(gvr.DeleteBackupRequest, r.Namespace)
	pending, err := dbrs.List(ctx, metav1.ListOptions{LabelSelector: "velero.io/backup-uid=" + string(b.GetUID())})
	if err != nil {
		return kube.Explain(err, gvr.DeleteBackupRequest, "")
	}
	for _, d := range pending.Items {
		if kube.Str(d.Object, "status", "phase") != "Processed" {
			return nil
		}
	}
	if _, err := dbrs.Create(ctx, velero.NewDeleteBackupRequest(b.GetNamespace(), b.GetName(), string(b.GetUID())), metav1.CreateOptions{}); err != nil {
		return kube.Explain(err, gvr.DeleteBackupRequest, "")
	}
	return nil
}

// bucket empties and deletes a bucket no CloudStorage names any more.
func (r *Runner) bucket(ctx context.Context, b cloudStorage, detached <-chan struct{}) {
	e := &Emptier{S3: r.S3, Region: b.region, InFlight: 8}
	n, err := e.Empty(ctx, b.bucket)
	if err != nil {
		r.leave("bucket "+b.bucket, err)
		return
	}
	// The bucket's deletion goes out with the role's and the policy's, each
	// after a call of its own (the last listing, the detachment): one round
	// trip for the three. Sent as soon as S3 (regional, quicker than IAM)
	// answered, it would only be one more request in sequence for the same
	// wall time.
	<-detached
	if _, err := r.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.bucket)}, inRegion(b.region)); err != nil && awsclient.ErrorCode(err) != "NoSuchBucket" {
		r.leave("bucket "+b.bucket, awsclient.Explain("delete bucket "+b.bucket, err))
		return
	}
	r.say("deleted bucket %s (%d object versions and delete markers emptied first)", b.bucket, n)
}

// cloudStorage empties the bucket, then lets the operator delete it through
// the annotation; if the operator does not, the plugin deletes the bucket and
// releases the finalizer itself.
func (r *Runner) cloudStorage(ctx context.Context, cs cloudStorage) {
	name := cs.obj.GetName()
	what := "cloudstorage " + name
	res := r.res(gvr.CloudStorage, r.Namespace)
	if cs.deleteBucket && cs.bucketExists {
		e := &Emptier{S3: r.S3, Region: cs.region, InFlight: 8}
		n, err := e.Empty(ctx, cs.bucket)
		if err != nil {
			r.leave("bucket "+cs.bucket, err)
			// Deleting the CloudStorage now would hang on a bucket the
			// operator cannot delete: leave both.
			r.leave(what, errors.New("kept because its bucket could not be emptied"))
			return
		}
		r.say("emptied bucket %s (%d object versions and delete markers)", cs.bucket, n)
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, manifests.CloudStorageDeleteAnnotation)
		if _, err := res.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			r.leave(what, kube.Explain(err, gvr.CloudStorage, name))
			return
		}
	}
	if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		r.leave(what, kube.Explain(err, gvr.CloudStorage, name))
		return
	}
	if !cs.deleteBucket {
		// Without the annotation the operator never releases its finalizer:
		// release it now, keeping the bucket.
		if err := removeFinalizers(ctx, res, name); err != nil {
			r.leave(what, err)
			return
		}
		if r.waitGone(ctx, gvr.CloudStorage, r.Namespace, name, what) {
			r.say("deleted %s (bucket %s kept)", what, cs.bucket)
		} else {
			r.leave(what, errors.New("still present after its finalizer was removed"))
		}
		return
	}
	if r.waitGone(ctx, gvr.CloudStorage, r.Namespace, name, what) {
		_, err := r.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cs.bucket)}, inRegion(cs.region))
		if err != nil {
			r.say("deleted %s and its bucket %s (by the operator)", what, cs.bucket)
			return
		}
		// No finalizer held the CloudStorage (no operator acted on it, or
		// someone removed it): the bucket, emptied and ours, is still there.
		if _, err := r.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(cs.bucket)}, inRegion(cs.region)); err != nil && awsclient.ErrorCode(err) != "NoSuchBucket" {
			r.leave("bucket "+cs.bucket, awsclient.Explain("delete bucket "+cs.bucket, err))
			return
		}
		r.say("deleted %s and its bucket %s (the operator left the bucket, so the plugin deleted it)", what, cs.bucket)
		return
	}
	_, err := r.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(cs.bucket)}, inRegion(cs.region))
	if err != nil && awsclient.ErrorCode(err) != "NoSuchBucket" {
		r.leave("bucket "+cs.bucket, awsclient.Explain("delete bucket "+cs.bucket, err))
		return
	}
	if err := removeFinalizers(ctx, res, name); err != nil {
		r.leave(what, err)
		return
	}
	if r.waitGone(ctx, gvr.CloudStorage, r.Namespace, name, what) {
		r.say("deleted %s and its bucket %s (the operator did not release it within %s, so the plugin deleted the bucket and removed the finalizer)", what, cs.bucket, r.Timeout)
	} else {
		r.leave(what, errors.New("still present after its finalizer was removed"))
	}
}

// crds deletes the Velero and OADP CRDs together and waits for all.
func (r *Runner) crds(ctx context.Context, names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() { r.deleteAndWait(ctx, gvr.CRD, "", n, "customresourcedefinition "+n, false) })
	}
	wg.Wait()
}

// startIAM deletes the role and the policy from a goroutine of its own, as
// soon as nothing in the cluster uses them (the DPA and the CloudStorages
// are gone), beside the bucket's deletion and the operator's removal; the
// func returned waits for it and says what it did, so the lines come in the
// plan's order. The detachment and the listing of the policy's versions go
// out at once, then the role's and the policy's deletions at once; detached
// is closed between the two.
func (r *Runner) startIAM(ctx context.Context, p *Plan) (report func(), detached <-chan struct{}) {
	ch := make(chan struct{})
	if r.IAM == nil {
		close(ch)
		return func() {}, ch
	}
	var lines []func()
	done := make(chan struct{})
	close1 := sync.OnceFunc(func() { close(ch) })
	go func() {
		defer close(done)
		defer close1()
		lines = r.deleteIAM(ctx, p, close1)
	}()
	return func() {
		<-done
		for _, f := range lines {
			f()
		}
	}, ch
}

// deleteIAM carries out the plan's IAM deletions and returns what to say of
// them, in order; detached is called once the detachment answered.
func (r *Runner) deleteIAM(ctx context.Context, p *Plan, detached func()) []func() {
	var (
		report   []func()
		versions func() (*awsiam.ListPolicyVersionsOutput, error)
	)
	if p.policy != nil && p.policy.delete {
		var (
			out  *awsiam.ListPolicyVersionsOutput
			err  error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			out, err = r.IAM.ListPolicyVersions(ctx, &awsiam.ListPolicyVersionsInput{PolicyArn: &p.policy.arn})
		}()
		versions = func() (*awsiam.ListPolicyVersionsOutput, error) { <-done; return out, err }
	}
	roleOK := true
	if p.policy != nil && p.policy.detach {
		_, err := r.IAM.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: &p.role.name, PolicyArn: &p.policy.arn})
		if err != nil && !awsclient.IsNotFound(err) {
			report = append(report, func() { r.leave("IAM role "+p.role.name, awsclient.Explain("detach the policy", err)) })
			roleOK = false
		} else {
			report = append(report, func() { r.say("detached IAM policy %s from role %s", r.PolicyName, p.role.name) })
		}
	}
	detached()
	// Once detached, the role and the policy are deleted at once: neither
	// needs the other gone.
	var (
		wg                 sync.WaitGroup
		roleErr, policyErr error
		roleDone           bool
	)
	if p.role != nil && p.role.delete && roleOK {
		wg.Go(func() {
			_, roleErr = r.IAM.DeleteRole(ctx, &awsiam.DeleteRoleInput{RoleName: &p.role.name})
			roleDone = true
		})
	}
	if versions != nil {
		wg.Go(func() {
			out, err := versions()
			policyErr = deletePolicy(ctx, r.IAM, p.policy.arn, out, err)
		})
	}
	wg.Wait()
	if roleDone {
		report = append(report, func() {
			switch err := roleErr; {
			case err == nil || awsclient.IsNotFound(err):
				r.say("deleted IAM role %s", p.role.name)
			case awsclient.ErrorCode(err) == "DeleteConflict":
				r.leave("IAM role "+p.role.name, fmt.Errorf("other policies or instance profiles are still attached to it; detach them, then run cleanup again"))
			default:
				r.leave("IAM role "+p.role.name, awsclient.Explain("delete the role", err))
			}
		})
	}
	if versions != nil {
		report = append(report, func() {
			if policyErr != nil {
				r.leave("IAM policy "+r.PolicyName, policyErr)
			} else {
				r.say("deleted IAM policy %s", r.PolicyName)
			}
		})
	}
	return report
}

// deletePolicy removes the non-default versions IAM requires gone first,
// as ListPolicyVersions answered (versions, err), then the policy.
func deletePolicy(ctx context.Context, c awsclient.IAMAPI, arn string, versions *awsiam.ListPolicyVersionsOutput, err error) error {
	if awsclient.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return awsclient.Explain("list the policy's versions", err)
	}
	for _, v := range versions.Versions {
		if v.IsDefaultVersion {
			continue
		}
		if _, err := c.DeletePolicyVersion(ctx, &awsiam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: v.VersionId}); err != nil && !awsclient.IsNotFound(err) {
			return awsclient.Explain("delete policy version "+aws.ToString(v.VersionId), err)
		}
	}
	if _, err := c.DeletePolicy(ctx, &awsiam.DeletePolicyInput{PolicyArn: &arn}); err != nil && !awsclient.IsNotFound(err) {
		return awsclient.Explain("delete the policy", err)
	}
	return nil
}
