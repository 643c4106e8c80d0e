package verify

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// DPT phases the operator sets.
const (
	dptComplete = "Complete"
	dptFailed   = "Failed"
)

func (r *run) dpt(ctx context.Context, s *verify.Step) error {
	if !r.DPT {
		s.Result, s.Message = verify.Skipped, "--dpt=false"
		return nil
	}
	res, served, err := RunDPT(ctx, r.dyn, r.canary.DataProtectionTest(r.rep.Location, "", r.Timeout), r.waitOpts)
	if res != nil {
		r.rep.DPT = res
	}
	switch {
	case !served:
		s.Result = verify.Skipped
		s.Message = "the DataProtectionTest API is not served here (OADP 1.5+): skipped"
		return nil
	case err != nil:
		return err
	}
	s.Message = fmt.Sprintf("dataprotectiontest/%s %s: %s", res.Name, res.Phase, res.Summary())
	if res.Phase == dptFailed {
		s.Cause = "the operator's DataProtectionTest failed: " + strings.Join(nonEmpty(res.ErrorMessage, res.UploadError), "; ")
		s.Fix = "'oc describe dataprotectiontest " + res.Name + cmdutil.NamespaceFlag(r.canary.OADPNamespace) + "' and the operator's log say more"
		return errStop
	}
	return nil
}

// RunDPT creates the DataProtectionTest and waits for the operator to set a
// final phase. served is false when the API is not there (OADP before 1.5).
func RunDPT(ctx context.Context, dyn dynamic.Interface, obj *unstructured.Unstructured, opts func(context.Context, string, func(*unstructured.Unstructured) string) wait.Options) (result *verify.DPTResult, served bool, err error) {
	// The object's own version picks the resource, so an OADP that serves
	// another version answers "not served" rather than a decoding error.
	res := gvr.DataProtectionTest.GroupResource().WithVersion(obj.GroupVersionKind().Version)
	c := dyn.Resource(res).Namespace(obj.GetNamespace())
	w, err := wait.Start(ctx, c, obj.GetName())
	if kube.IsTypeMissing(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, kube.Explain(err, gvr.DataProtectionTest, obj.GetName())
	}
	defer w.Stop()
	if _, err := c.Create(ctx, obj, metav1.CreateOptions{FieldManager: manifests.ManagedByValue}); err != nil {
		if kube.IsTypeMissing(err) {
			return nil, false, nil
		}
		return nil, true, fmt.Errorf("create dataprotectiontest %s: %w", obj.GetName(), kube.Explain(err, gvr.DataProtectionTest, obj.GetName()))
	}
	what := "dataprotectiontest " + obj.GetName()
	got, err := w.For(ctx, func(o *unstructured.Unstructured) (bool, error) {
		p := kube.Str(o.Object, "status", "phase")
		return p == dptComplete || p == dptFailed, nil
	}, opts(ctx, what, func(o *unstructured.Unstructured) string {
		return "phase " + kube.Str(o.Object, "status", "phase")
	}))
	if got != nil {
		result = ReadDPT(got)
	}
	return result, true, err
}

// ReadDPT reads a DataProtectionTest's status as its CRD shapes it.
func ReadDPT(o *unstructured.Unstructured) *verify.DPTResult {
	st := o.Object
	ok, _, _ := unstructured.NestedBool(st, "status", "uploadTest", "success")
	d := &verify.DPTResult{
		Name:            o.GetName(),
		Phase:           kube.Str(st, "status", "phase"),
		ErrorMessage:    kube.Str(st, "status", "errorMessage"),
		UploadSpeedMbps: kube.Int(st, "status", "uploadTest", "speedMbps"),
		UploadDuration:  kube.Str(st, "status", "uploadTest", "duration"),
		UploadSuccess:   ok,
		UploadError:     kube.Str(st, "status", "uploadTest", "errorMessage"),
		Encryption:      kube.Str(st, "status", "bucketMetadata", "encryptionAlgorithm"),
		Versioning:      kube.Str(st, "status", "bucketMetadata", "versioningStatus"),
		S3Vendor:        kube.Str(st, "status", "s3Vendor"),
		SnapshotSummary: kube.Str(st, "status", "snapshotSummary"),
	}
	snaps, _, _ := unstructured.NestedSlice(st, "status", "snapshotTests")
	for _, s := range snaps {
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		d.Snapshots = append(d.Snapshots, verify.DPTSnapshot{
			PVC:           kube.Str(m, "persistentVolumeClaimNamespace") + "/" + kube.Str(m, "persistentVolumeClaimName"),
			Status:        kube.Str(m, "status"),
			ReadyDuration: kube.Str(m, "readyDuration"),
			ErrorMessage:  kube.Str(m, "errorMessage"),
		})
	}
	return d
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// serverDryRun sends what a run creates in the cluster's own namespaces
// with dryRun=All. The ConfigMap, Secret and volume objects cannot be
// checked this way: their namespace would not exist yet.
func (r *run) serverDryRun(ctx context.Context) {
	if err := r.clients(); err != nil {
		r.rep.Steps = append(r.rep.Steps, verify.Step{Name: verify.StepCanary, Result: verify.Error, Message: err.Error()})
		return
	}
	// A location that fails is in the report; the dry run still sends the
	// rest, so one run shows every object the API server would refuse.
	_ = r.step(ctx, verify.StepLocation, r.locate)
	loc := r.rep.Location
	objs := []*unstructured.Unstructured{
		r.canary.Objects()[0],
		r.canary.BackupObject(verify.BackupOptions{StorageLocation: loc, FSBackup: r.fsBackup}),
		r.canary.RestoreObject(),
	}
	if r.DPT {
		objs = append(objs, r.canary.DataProtectionTest(loc, "", r.Timeout))
	}
	_ = r.step(ctx, verify.StepCanary, func(ctx context.Context, s *verify.Step) error { // the last step: its verdict is in the report
		var accepted, skipped []string
		for _, obj := range objs {
			res, _, _ := gvrOf(obj)
			var ri dynamic.ResourceInterface = r.dyn.Resource(res)
			if obj.GetNamespace() != "" {
				ri = r.dyn.Resource(res).Namespace(obj.GetNamespace())
			}
			what := strings.ToLower(obj.GetKind()) + "/" + obj.GetName()
			_, err := ri.Create(ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: manifests.ManagedByValue})
			switch {
			case err == nil:
				accepted = append(accepted, what)
			case obj.GetKind() == "DataProtectionTest" && kube.IsTypeMissing(err):
				skipped = append(skipped, what+" (API not served)")
			default:
				return fmt.Errorf("%s: %w", what, kube.Explain(err, res, obj.GetName()))
			}
		}
		s.Message = "accepted with dryRun=All: " + strings.Join(accepted, ", ")
		if len(skipped) > 0 {
			s.Message += "; not sent: " + strings.Join(skipped, ", ")
		}
		return nil
	})
}
