package kube

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Str reads a string field, "" when absent or of another type.
func Str(obj map[string]any, fields ...string) string {
	s, _, _ := unstructured.NestedString(obj, fields...)
	return s
}

// Int reads an integer field, 0 when absent.
func Int(obj map[string]any, fields ...string) int64 {
	v, found, _ := unstructured.NestedFieldNoCopy(obj, fields...)
	if !found {
		return 0
	}
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

// Condition returns the condition of the given type from status.conditions.
func Condition(obj map[string]any, condType string) (status, reason, message string, found bool) {
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || Str(m, "type") != condType {
			continue
		}
		return Str(m, "status"), Str(m, "reason"), Str(m, "message"), true
	}
	return "", "", "", false
}
