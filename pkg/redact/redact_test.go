package redact

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestSensitive(t *testing.T) {
	token := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJhdWQiOlsib3BlbnNoaWZ0Il19.c2lnbmF0dXJl"
	proto := "k8s\x00\n\x1c\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\x05..."
	for _, tc := range []struct {
		name, s string
		want    bool
	}{
		{"a JWT in JSON", `{"status":{"token":"` + token + `"}}`, true},
		{"a TokenRequest in JSON", `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1"}`, true},
		{"a Secret in JSON", `{"kind":"Secret","data":{"credentials":"cm9sZV9hcm4="}}`, true},
		{"a TokenRequest as protobuf, hex-dumped", hex.Dump([]byte(proto)), true},
		{"a JWT split across hex-dump lines", hex.Dump([]byte("\x01" + token)), true},
		{"STS's answer", "<Credentials><SecretAccessKey>x</SecretAccessKey></Credentials>", true},
		{"a ConfigMap", `{"kind":"ConfigMap","data":{"a":"b"}}`, false},
		{"a Namespace as protobuf", hex.Dump([]byte("k8s\x00\n\x0f\n\x02v1\x12\tNamespace")), false},
	} {
		if got := Sensitive(tc.s); got != tc.want {
			t.Errorf("%s: Sensitive = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFilterReplacesOnlyTheSensitiveValue(t *testing.T) {
	kvs := []any{"verb", "POST", "body", `{"kind":"TokenRequest"}`}
	_, out := filter{}.FilterS("Response Body", kvs)
	if out[1] != "POST" || !strings.HasPrefix(out[3].(string), "<redacted") {
		t.Errorf("FilterS = %v", out)
	}
	if kvs[3] != `{"kind":"TokenRequest"}` {
		t.Errorf("FilterS changed its input: %v", kvs)
	}
}
