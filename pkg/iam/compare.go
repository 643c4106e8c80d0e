package iam

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
)

// DecodeDocument parses a policy document as IAM returns it: GetRole and
// GetPolicyVersion give it URL-encoded (RFC 3986), other sources plain JSON.
func DecodeDocument(s string) (any, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") {
		// PathUnescape, not QueryUnescape: a "+" in a document is a plus sign.
		u, err := url.PathUnescape(t)
		if err != nil {
			return nil, fmt.Errorf("policy document is neither JSON nor URL-encoded JSON: %w", err)
		}
		t = u
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return nil, fmt.Errorf("policy document is not valid JSON: %w", err)
	}
	return v, nil
}

// Equal reports whether an IAM document (as returned by IAM, possibly
// URL-encoded) means the same as want. IAM reorders nothing but people and
// other tools do, and the policy grammar treats a one-element list and its
// element alike everywhere, so lists are compared as sets and a scalar as a
// one-element set.
func Equal(got string, want Document) (bool, error) {
	g, err := DecodeDocument(got)
	if err != nil {
		return false, err
	}
	w, err := DecodeDocument(want.JSON())
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(canonical(g), canonical(w)), nil
}

// canonical maps a JSON object to a form where equivalent documents are
// identical: every member becomes a sorted, de-duplicated set of the canonical
// JSON of its elements, a scalar or lone object being a set of one. Statement
// IDs are dropped: they only name.
func canonical(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		if k == "Sid" {
			continue
		}
		out[k] = set(e)
	}
	return out
}

func set(v any) []string {
	elems, ok := v.([]any)
	if !ok {
		elems = []any{v}
	}
	seen := map[string]bool{}
	for _, e := range elems {
		b, _ := json.Marshal(canonical(e))
		seen[string(b)] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
