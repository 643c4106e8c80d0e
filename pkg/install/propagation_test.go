package install

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Only an AccessDenied after this run made or changed the role is waited
// through; the same message on a role setup did not touch fails at once.
// The message is the real AWS plugin's as Velero reports it (seen in the
// e2e test's Velero log), not one of ours.
func TestMayPropagate(t *testing.T) {
	const denied = "rpc error: code = Unknown desc = failed to refresh cached credentials, failed to retrieve credentials, operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403, RequestID: x, api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
	cases := []struct {
		name    string
		changed time.Time
		msg     string
		want    bool
	}{
		{"role just made, AccessDenied", time.Now().Add(-5 * time.Second), denied, true},
		{"role untouched, AccessDenied", time.Time{}, denied, false},
		{"role just made, another error", time.Now(), "NoSuchBucket: The specified bucket does not exist", false},
	}
	for _, c := range cases {
		i := &Installer{TrustChanged: c.changed}
		if got := i.mayPropagate(c.msg); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNextValidation(t *testing.T) {
	bsl := func(freq string, last time.Time) *unstructured.Unstructured {
		o := map[string]any{"spec": map[string]any{}, "status": map[string]any{}}
		if freq != "" {
			o["spec"].(map[string]any)["validationFrequency"] = freq
		}
		if !last.IsZero() {
			o["status"].(map[string]any)["lastValidationTime"] = last.UTC().Format(time.RFC3339)
		}
		return &unstructured.Unstructured{Object: o}
	}
	cases := []struct {
		name     string
		o        *unstructured.Unstructured
		want     string
		min, max time.Duration
	}{
		{name: "never validated, Velero's default", o: bsl("", time.Time{}), want: "within 1m0s"},
		// lastValidationTime has whole seconds: 20 to 21 s ago.
		{name: "validated 20s ago, every minute", o: bsl("", time.Now().Add(-20*time.Second)), want: ", in ", min: 38 * time.Second, max: 40 * time.Second},
		{name: "validated 20s ago, every 30s", o: bsl("30s", time.Now().Add(-20*time.Second)), want: ", in ", min: 8 * time.Second, max: 10 * time.Second},
		{name: "overdue", o: bsl("10s", time.Now().Add(-time.Minute)), want: "any moment"},
	}
	for _, c := range cases {
		got := nextValidation(c.o)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want it to contain %q", c.name, got, c.want)
			continue
		}
		if c.max > 0 {
			d, err := time.ParseDuration(got[strings.LastIndex(got, " ")+1:])
			if err != nil || d < c.min || d > c.max {
				t.Errorf("%s: %q, want the next validation in %s to %s", c.name, got, c.min, c.max)
			}
		}
	}
}
