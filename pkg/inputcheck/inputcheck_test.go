package inputcheck

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestCheckValue(t *testing.T) {
	cases := []struct {
		value, want string // want "" for accepted
	}{
		{"hello-world", ""},
		{"api-cluster:6443/kube:admin", ""},
		{"", "--x is empty"},
		{"a\nb", "U+000A, a newline) at byte 2"},
		{"a\x00b", "U+0000, NUL"},
		{"a\tb", "a tab"},
		{"\xff", "not valid UTF-8"},
		{"é\u0085", "U+0085"},
		{strings.Repeat("a", 254), "is 254 characters long, more than the 253"},
	}
	for _, tc := range cases {
		err := checkValue("--x", tc.value, DefaultMaxLen, "leave it out")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: refused: %v", tc.value, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got %v, want %q", tc.value, err, tc.want)
		}
	}
}

func TestQuoteCutsLongValues(t *testing.T) {
	if got := Quote("short"); got != `"short"` {
		t.Errorf("Quote(short) = %s", got)
	}
	long := strings.Repeat("é", 100) // two bytes each: the cut must not split one
	got := Quote(long)
	if !strings.HasSuffix(got, "... (200 characters)") || strings.Contains(got, `\x`) || len(got) > 100 {
		t.Errorf("Quote(long) = %s", got)
	}
}

func TestArgName(t *testing.T) {
	for use, want := range map[string]string{
		"restore BACKUP [--name NAME]":   "BACKUP",
		"backup NAMESPACE... [--name N]": "NAMESPACE",
		"backups [NAME]":                 "NAME",
		"status":                         "ARGUMENT",
		"cleanup [--workload NS]...":     "ARGUMENT",
	} {
		if got := ArgName(&cobra.Command{Use: use}); got != want {
			t.Errorf("ArgName(%q) = %s, want %s", use, got, want)
		}
	}
}

func TestKinds(t *testing.T) {
	cases := []struct {
		command, flag, value string
		ok                   bool
	}{
		{"setup", "region", "us-gov-west-1", true},
		{"setup", "region", "us-east", false},
		{"setup", "oidc-issuer", "https://oidc.example.com/c", true},
		{"setup", "oidc-issuer", "http://oidc.example.com/c", false},
		{"backups", "schedule", "hello-nightly", true},
		{"backups", "schedule", "../x", false},
		// schedule create's --schedule is a cron line, judged by Velero's parser in the command.
		{"create", "schedule", "0 1 * * *", true},
		{"backup", "include-resources", "*", true},
		{"backup", "include-resources", "volumesnapshotcontents.snapshot.storage.k8s.io", true},
		{"backup", "include-resources", strings.Repeat("a", 64), false},
		{"setup", "velero-cpu-limit", "500m", true},
		{"setup", "snapshots", "ebs", false},
		{"setup", "bucket", "My_Backups", false},
		{"restore", "namespace-mappings", "a:b", true},
		{"restore", "namespace-mappings", "a", false},
		{"status", "request-timeout", "0", true},
		{"status", "request-timeout", "30s", true},
		{"status", "server", "https://127.0.0.1:6443", true},
		{"status", "server", "127.0.0.1:6443", true},
		{"status", "server", "../x", false},
		{"get", "output", "jsonpath={.items[*].metadata.name}", true},
		{"get", "output", "table", true},
		{"get", "output", "../x", false},
		{"status", "server", "oadp+role=a,b@c", false},
	}
	for _, tc := range cases {
		err := checkKind(tc.command, tc.flag, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("%s --%s=%q: got %v, want ok=%v", tc.command, tc.flag, tc.value, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--"+tc.flag) {
			t.Errorf("%s --%s=%q: %v does not name the flag", tc.command, tc.flag, tc.value, err)
		}
	}
}
