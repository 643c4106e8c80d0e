package apply_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/apply"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// The real server's field-manager conflict is tested in apply_test.go
// (TestConflictIsReportedNotOverwritten). A conflict without the server's
// list of fields, and a throttle, a real server gives only when it likes;
// the fake gives them on demand.
func TestApplyErrorsTheServerGivesRarely(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "c", "namespace": "fake"},
	}}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"conflict without causes", apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "c", nil),
			[]string{"secret/c exists and another manager owns fields", "--force-conflicts"}},
		{"throttled", apierrors.NewTooManyRequests("the server is busy", 3),
			[]string{"apply secret/c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr.Secret: "SecretList"})
			patches := 0
			c.PrependReactor("patch", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				patches++
				return true, nil, tc.err
			})
			_, err := (&apply.Applier{Client: c}).Apply(context.Background(), secret, nil)
			if err == nil {
				t.Fatal("Apply succeeded against a refusing server")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if patches != 1 {
				t.Errorf("Apply sent %d patches, want 1 (client-go's own retries are for real servers)", patches)
			}
		})
	}
}
