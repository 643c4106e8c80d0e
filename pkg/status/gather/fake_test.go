package gather

import (
	"context"
	"errors"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// A real API server refuses one resource while serving the others only with
// RBAC set up for it, and throttles only under load; client-go's fakes do
// either on demand. The real-server tests of the same gathering are in
// pkg/cmd/status.

var listKinds = map[schema.GroupVersionResource]string{
	gvr.Subscription: "SubscriptionList", gvr.CSV: "ClusterServiceVersionList", gvr.CRD: "CustomResourceDefinitionList",
	gvr.DPA: "DataProtectionApplicationList", gvr.CloudStorage: "CloudStorageList", gvr.BSL: "BackupStorageLocationList",
	gvr.Backup: "BackupList", gvr.Restore: "RestoreList", gvr.Secret: "SecretList", gvr.Namespace: "NamespaceList",
	gvr.StorageClass: "StorageClassList", gvr.VolumeSnapshotClass: "VolumeSnapshotClassList", gvr.PVC: "PersistentVolumeClaimList",
	gvr.InstallPlan: "InstallPlanList", gvr.CredentialsReq: "CredentialsRequestList",
}

// fakeClients are a healthy STS cluster as the rig seeds it, with no AWS
// credentials (the AWS checks fail the same way in every run).
func fakeClients() (Clients, *dynamicfake.FakeDynamicClient, *kubefake.Clientset) {
	cl := rig.STSCluster()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds,
		cl.ClusterVersion, cl.Infrastructure, cl.Authentication, cl.CloudCredential)
	kc := kubefake.NewClientset()
	return Clients{Dynamic: dyn, Kube: kc, AWS: func(context.Context, string) (*awsclient.Clients, error) {
		return nil, errors.New("no AWS credentials in this test")
	}}, dyn, kc
}

func TestOneResourceRefusedOrThrottledIsReportedForItsCheckOnly(t *testing.T) {
	opts := Options{Namespace: "openshift-adp", SetupCommand: "kubectl oadp-sts setup --yes"}
	gather := func(t *testing.T, fault func(*dynamicfake.FakeDynamicClient, *kubefake.Clientset)) *status.Report {
		t.Helper()
		c, dyn, kc := fakeClients()
		if fault != nil {
			fault(dyn, kc)
		}
		r, err := Gather(context.Background(), c, opts)
		if err != nil {
			t.Fatalf("Gather: %v", err)
		}
		return r
	}
	baseline := gather(t, nil)
	if len(baseline.Checks) < 10 {
		t.Fatalf("the baseline report has only %d checks: %+v", len(baseline.Checks), baseline.Checks)
	}
	for _, tc := range []struct {
		name  string
		fault func(*dynamicfake.FakeDynamicClient, *kubefake.Clientset)
		want  []string // the checks that differ from the baseline
	}{
		{"secret forbidden", func(_ *dynamicfake.FakeDynamicClient, kc *kubefake.Clientset) {
			kc.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "cloud-credentials", errors.New("RBAC: no get on secrets"))
			})
		}, []string{status.CheckSecret}},
		{"backups throttled", func(dyn *dynamicfake.FakeDynamicClient, _ *kubefake.Clientset) {
			dyn.PrependReactor("list", "backups", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewTooManyRequests("the server is busy", 1)
			})
		}, []string{status.CheckRecentBackups, status.CheckRecentRestores}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := gather(t, tc.fault)
			var changed []string
			for _, ch := range got.Checks {
				i := slices.IndexFunc(baseline.Checks, func(b status.Check) bool { return b.Area == ch.Area && b.Name == ch.Name })
				if i < 0 || baseline.Checks[i] != ch {
					changed = append(changed, ch.Name)
					if ch.Result != status.Warning || ch.Cause == "" || ch.Fix == "" {
						t.Errorf("%s: %+v, want a warning with the cause and a fix", ch.Name, ch)
					}
				}
			}
			if !slices.Equal(changed, tc.want) || len(got.Checks) != len(baseline.Checks) {
				t.Errorf("checks changed by the fault: %q (of %d, baseline %d), want exactly %q", changed, len(got.Checks), len(baseline.Checks), tc.want)
			}
			if got.Cluster == nil || got.Cluster.Platform != "AWS" {
				t.Errorf("the cluster facts are lost: %+v", got.Cluster)
			}
		})
	}
}
