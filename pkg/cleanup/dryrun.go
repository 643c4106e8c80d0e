package cleanup

import (
	"context"
	"fmt"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
)

// ServerDryRun sends each Kubernetes write of the plan with dryRun=All, in
// Run's order, and says the API server's answer to each: backups get their
// DeleteBackupRequest, everything else its deletion. Nothing is stored and
// nothing waits, so what Velero, the operator and finalizers would do later
// is not shown. AWS has no dry run: IAM and the bucket stay in the plan only.
// The error lists the writes the API server refused.
func (r *Runner) ServerDryRun(ctx context.Context, p *Plan) error {
	dry := metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}
	var refused []string
	del := func(g schema.GroupVersionResource, ns, name, what string) {
		err := r.res(g, ns).Delete(ctx, name, dry)
		switch {
		case err == nil:
			r.say("%s deleted (server dry run)", what)
		case apierrors.IsNotFound(err):
			r.say("%s already gone", what)
		default:
			refused = append(refused, fmt.Sprintf("%s: %v", what, kube.Explain(err, g, name)))
		}
	}
	for _, w := range p.workloads {
		del(gvr.Namespace, "", w, "namespace "+w)
	}
	for _, sc := range p.schedules {
		del(gvr.Schedule, r.Namespace, sc.GetName(), "schedule "+sc.GetName())
	}
	for _, b := range p.backups {
		if p.backupObjectsOnly {
			del(gvr.Backup, r.Namespace, b.GetName(), "backup "+b.GetName())
			continue
		}
		what := "deletebackuprequest for backup " + b.GetName()
		if _, err := r.res(gvr.DeleteBackupRequest, r.Namespace).Create(ctx, velero.NewDeleteBackupRequest(b.GetNamespace(), b.GetName(), string(b.GetUID())), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			refused = append(refused, fmt.Sprintf("%s: %v", what, kube.Explain(err, gvr.DeleteBackupRequest, "")))
		} else {
			r.say("%s created (server dry run)", what)
		}
	}
	for _, rs := range p.restores {
		del(gvr.Restore, r.Namespace, rs.GetName(), "restore "+rs.GetName())
	}
	for _, d := range p.dpas {
		del(gvr.DPA, r.Namespace, d.GetName(), "dataprotectionapplication "+d.GetName())
	}
	for _, cs := range p.cloudStorages {
		del(gvr.CloudStorage, r.Namespace, cs.obj.GetName(), "cloudstorage "+cs.obj.GetName())
	}
	for _, s := range p.subscriptions {
		del(gvr.Subscription, r.Namespace, s.GetName(), "subscription "+s.GetName())
	}
	for _, c := range p.csvs {
		del(gvr.CSV, r.Namespace, c, "clusterserviceversion "+c)
	}
	for _, og := range p.opGroups {
		del(gvr.OperatorGroup, r.Namespace, og, "operatorgroup "+og)
	}
	for _, n := range p.crds {
		del(gvr.CRD, "", n, "customresourcedefinition "+n)
	}
	if p.namespace {
		del(gvr.Namespace, "", r.Namespace, "namespace "+r.Namespace)
	}
	if len(refused) > 0 {
		return fmt.Errorf("the API server would refuse %d deletions:\n  - %s", len(refused), joinLines(refused))
	}
	if p.role != nil || p.policy != nil || len(p.buckets) > 0 {
		r.say("AWS has no dry run: the IAM and bucket steps of the plan were not sent")
	}
	return nil
}
