// Package acm is setup's part on an ACM hub whose cluster-backup is enabled
// on STS. There ACM does not install OADP itself (it cannot hand the
// operator a role), so it waits for OADP in open-cluster-management-backup,
// and its cluster-backup chart leaves a ConfigMap there saying how ACM would
// have subscribed: the channel, the package, the catalog source, and the
// proxy env of the hub. setup reads it (ReadHint), and Choose, a pure
// function, weighs it against the flags.
//
// The ConfigMap's keys are the ones the chart writes (channel, name, source,
// sourceNamespace, olmVersion, env_NAME) and the one the cluster-backup
// operator also reads from it off STS (installPlanApproval).
package acm

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
)

const (
	// BackupNamespace is where ACM's cluster-backup wants OADP.
	BackupNamespace = "open-cluster-management-backup"
	// HintName is the ConfigMap the cluster-backup chart leaves there on STS.
	HintName = "acm-redhat-oadp-operator-subscription"

	envPrefix = "env_"
	// roleARNEnv is the env setup itself puts in the Subscription for the
	// Cloud Credential Operator; the hub's hint cannot name the role.
	roleARNEnv = "ROLEARN"
)

// The ConfigMap's keys setup honours.
const (
	KeyChannel         = "channel"
	KeyPackage         = "name"
	KeySource          = "source"
	KeySourceNamespace = "sourceNamespace"
	KeyApproval        = "installPlanApproval"
	KeyOLMVersion      = "olmVersion"
)

// Hint is the ConfigMap as setup reads it. A field is "" when the key is
// absent or empty.
type Hint struct {
	// Where is namespace/name, for the lines that say where a value came from.
	Where           string
	Channel         string
	Package         string
	Source          string
	SourceNamespace string
	Approval        string
	// OLMVersion is the chart's olmVersion: v0 (a Subscription) or v1.
	OLMVersion string
	// Env is the Subscription's spec.config.env, from the env_NAME keys.
	Env map[string]string
	// Unused are the keys setup does not use, sorted.
	Unused []string
	// Bad are the keys whose value setup cannot use, with why.
	Bad map[string]string
}

// ReadHint reads the hint in ns; found is false when there is none.
func ReadHint(ctx context.Context, c dynamic.Interface, ns string) (h Hint, found bool, err error) {
	cm, err := c.Resource(gvr.ConfigMap).Namespace(ns).Get(ctx, HintName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Hint{}, false, nil
	case err != nil:
		return Hint{}, false, kube.Explain(err, gvr.ConfigMap, HintName)
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	return ParseHint(ns+"/"+HintName, data), true, nil
}

// ParseHint reads the ConfigMap's data. It never fails: a key whose value
// cannot go into a Subscription is in Bad, and refused only if it is used
// (a flag may stand in for it).
func ParseHint(where string, data map[string]string) Hint {
	h := Hint{Where: where, Env: map[string]string{}, Bad: map[string]string{}}
	fields := map[string]*string{KeyChannel: &h.Channel, KeyPackage: &h.Package, KeySource: &h.Source,
		KeySourceNamespace: &h.SourceNamespace, KeyApproval: &h.Approval, KeyOLMVersion: &h.OLMVersion}
	for key, raw := range data {
		v := strings.TrimSpace(raw)
		if field, ok := fields[key]; ok {
			if why := badValue(key, v); why != "" {
				h.Bad[key] = why
				continue
			}
			*field = v
			continue
		}
		name, isEnv := strings.CutPrefix(key, envPrefix)
		switch {
		case !isEnv:
			h.Unused = append(h.Unused, key)
		case name == roleARNEnv:
			// setup's role, never the hub's guess at one.
			h.Unused = append(h.Unused, key)
		case len(validation.IsEnvVarName(name)) > 0:
			h.Bad[key] = fmt.Sprintf("%q is not an environment variable name", name)
		case v != "":
			// The chart writes env_NO_PROXY: with nothing after it when
			// the hub's proxy has no exceptions: unset is the same.
			h.Env[name] = v
		}
	}
	if a, ok := olm.NormalizeApproval(h.Approval); ok {
		h.Approval = a
	}
	sort.Strings(h.Unused)
	return h
}

// badValue says why a value cannot go into a Subscription; "" when it can.
func badValue(key, v string) string {
	if v == "" {
		return ""
	}
	var errs []string
	switch key {
	case KeyPackage, KeySource:
		errs = validation.IsDNS1123Subdomain(v)
	case KeySourceNamespace:
		errs = validation.IsDNS1123Label(v)
	case KeyChannel:
		if strings.ContainsAny(v, " \t\r\n/") || len(v) > 253 {
			errs = []string{"a channel name is one word, such as stable or stable-1.4"}
		}
	case KeyApproval:
		if _, ok := olm.NormalizeApproval(v); !ok {
			errs = []string{"it must be Manual or Automatic"}
		}
	case KeyOLMVersion:
		if v != "v0" && v != "v1" {
			errs = []string{"it must be v0 or v1"}
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%q: %s", v, strings.Join(errs, "; "))
}

// envNames are the hint's env variables by name, sorted; values are left
// out of every line setup prints, since a proxy URL can carry a password.
func (h Hint) envNames() []string {
	names := make([]string, 0, len(h.Env))
	for n := range h.Env {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
