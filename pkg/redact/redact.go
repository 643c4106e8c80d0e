// Package redact keeps credentials out of the plugin's -v logs. client-go
// masks the Authorization header, but at -v=8 and above it logs request and
// response bodies whole: a TokenRequest's answer (a service-account token),
// a Secret's data. A klog filter replaces such a body before it is written.
package redact

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/klog/v2"
)

// Install sets the filter on klog, whose state is process-wide; installing
// it again (every NewRootCmd does) changes nothing.
func Install() { klog.SetLogFilter(filter{}) }

type filter struct{}

func (filter) Filter(args []any) []any { return args }

func (filter) FilterF(format string, args []any) (string, []any) { return format, args }

// FilterS redacts the value of every key/value pair (client-go logs bodies
// as "body") that holds a credential.
func (filter) FilterS(msg string, kvs []any) (string, []any) {
	var out []any
	for i := 0; i+1 < len(kvs); i += 2 {
		s, ok := kvs[i+1].(string)
		if ok && Sensitive(s) {
			if out == nil {
				out = append([]any(nil), kvs...)
			}
			out[i+1] = fmt.Sprintf("<redacted by kubectl-oadp_sts: %d characters that hold a credential>", len(s))
		}
	}
	if out == nil {
		return msg, kvs
	}
	return msg, out
}

var (
	// A JWT: a base64url JSON header ({"alg": or {"kid":), payload and signature.
	jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)
	// AWS credentials in an STS answer or a credentials file.
	awsSecret = regexp.MustCompile(`(?i)(SecretAccessKey|SessionToken|aws_secret_access_key|aws_session_token)`)
)

// Sensitive reports whether a logged text holds a credential: a JWT, AWS
// secret keys, a TokenRequest or a Secret, as JSON or as client-go's hex dump
// of a protobuf body.
func Sensitive(s string) bool {
	text := s
	if b, ok := undump(s); ok {
		text = string(b)
	}
	switch {
	case jwt.MatchString(text), awsSecret.MatchString(text):
		return true
	case strings.Contains(text, `"kind":"TokenRequest"`), strings.Contains(text, `"kind":"Secret"`):
		return true
	}
	// A protobuf body's runtime.Unknown names its kind in field 2 of its
	// TypeMeta: 0x12, the length, the name.
	for _, kind := range []string{"TokenRequest", "Secret", "SecretList"} {
		if strings.Contains(text, "\x12"+string(rune(len(kind)))+kind) {
			return true
		}
	}
	return false
}

// undump reverses hex.Dump ("00000000  7b 22 ...  |{"...|"), which client-go
// uses for bodies with control bytes.
func undump(s string) ([]byte, bool) {
	if !strings.HasPrefix(strings.TrimLeft(s, " \t"), "00000000  ") {
		return nil, false
	}
	var out bytes.Buffer
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimLeft(line, " \t")
		if len(line) < 10 {
			continue
		}
		hexPart := line[10:]
		if i := strings.Index(hexPart, "  |"); i >= 0 {
			hexPart = hexPart[:i]
		}
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			return nil, false
		}
		out.Write(b)
	}
	return out.Bytes(), true
}
