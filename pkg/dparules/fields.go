package dparules

import (
	"time"
)

// Readers of the DPA's unstructured fields that treat a missing or
// mistyped field as its zero value, as the operator's typed structs do.

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func strAt(m map[string]any, path ...string) string {
	for _, p := range path[:len(path)-1] {
		m = asMap(m[p])
	}
	s, _ := m[path[len(path)-1]].(string)
	return s
}

func boolAt(m map[string]any, key string) bool {
	b, _ := m[key].(bool)
	return b
}

func sliceAt(m map[string]any, key string) []any {
	s, _ := m[key].([]any)
	return s
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// duration reads a metav1.Duration field ("2m0s").
func duration(m map[string]any, key string) (time.Duration, bool) {
	s, ok := m[key].(string)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, false
	}
	return d, true
}
