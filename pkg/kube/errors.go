// Package kube holds small helpers over client-go: turning API errors into
// messages a user can act on, and reading unstructured fields.
package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrUnreachable is wrapped by Explain when the API server cannot be reached.
var ErrUnreachable = errors.New("cluster unreachable")

// IsTypeMissing reports whether err is the API server saying the resource type
// itself does not exist (no CRD or API group), as opposed to a missing object.
func IsTypeMissing(err error) bool {
	var st apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d == nil || d.Name == ""
}

// IsUnreachable reports whether err means no API server answered.
func IsUnreachable(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var ue *url.Error
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

// Explain turns an API error about resource r into a lower-case message that
// names the fix; it never surfaces a bare "the server could not find the
// requested resource".
func Explain(err error, r schema.GroupVersionResource, name string) error {
	if err == nil {
		return nil
	}
	what := r.Resource
	if r.Group != "" {
		what += "." + r.Group
	}
	if name != "" {
		what += " " + fmt.Sprintf("%q", name)
	}
	switch {
	case IsUnreachable(err):
		return fmt.Errorf("%w: %s (check --kubeconfig, --context and that the API server is up)", ErrUnreachable, strings.TrimSpace(err.Error()))
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster rejected our credentials reading %s: log in again ('oc login') or fix --kubeconfig", what)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "being terminated"):
		return fmt.Errorf("%s: its namespace is being deleted; wait until it is gone, then run again", what)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to read or change %s: ask a cluster-admin for access, or use an account that has it (--as, --context)", what)
	case IsTypeMissing(err):
		return fmt.Errorf("the API %s is not served by this cluster", r.GroupVersion().String()+"/"+r.Resource)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s not found", what)
	}
	return fmt.Errorf("cannot read %s: %w", what, err)
}
