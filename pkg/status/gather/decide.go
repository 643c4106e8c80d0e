package gather

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// The decisions between the reads: pure, table-tested in decide_test.go.

// roleAndPolicy are the role and policy to check: the flags', else the ones
// setup recorded (rec is record.Decide's answer for both), else the defaults
// of the cluster's name. No role when no cluster name is known at all.
func roleAndPolicy(rec record.Names, cluster *clusterfacts.Facts) (role, policy string) {
	role, policy = rec.RoleName, rec.PolicyName
	name := rec.ClusterName
	if name == "" && cluster != nil {
		name = cluster.Name
	}
	if role == "" && name != "" {
		role = iam.DefaultRoleName(name)
	}
	if policy == "" {
		policy = iam.DefaultPolicyName
	}
	return role, policy
}

// oadpSubscription is the Subscription to the OADP operator, by its package
// name (the community operator's too), nil when there is none.
func oadpSubscription(subs []unstructured.Unstructured) *unstructured.Unstructured {
	for i := range subs {
		if name := kube.Str(subs[i].Object, "spec", "name"); name == manifests.PackageName || name == "oadp-operator" {
			return &subs[i]
		}
	}
	return nil
}

// dpaSecretNames are the secrets the DPAs name, each once, in order.
func dpaSecretNames(dpas []unstructured.Unstructured) []string {
	var names []string
	for i := range dpas {
		for _, n := range dparules.SecretNames(&dpas[i]) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// snapshotPlan is what setup's storage check judges the cluster against:
// the plan of the namespace's DPA; with several, of the first by name (they
// share one Velero). ok is false without a DPA.
func snapshotPlan(dpas []unstructured.Unstructured) (plan checks.SnapshotPlan, ok bool) {
	if len(dpas) == 0 {
		return checks.SnapshotPlan{}, false
	}
	first := slices.MinFunc(dpas, func(a, b unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })
	return checks.PlanFor(&first), true
}

// bucketsNamed are the buckets the CloudStorages and the AWS locations name,
// by name, each with what names it and the region each location expects.
func bucketsNamed(cloudStorages, bsls []unstructured.Unstructured) []status.Bucket {
	var out []status.Bucket
	note := func(name, from string) *status.Bucket {
		i := slices.IndexFunc(out, func(b status.Bucket) bool { return b.Name == name })
		if i < 0 {
			out = append(out, status.Bucket{Name: name, LocationRegions: map[string]string{}})
			i = len(out) - 1
		}
		out[i].From = append(out[i].From, from)
		return &out[i]
	}
	for _, cs := range cloudStorages {
		if name := kube.Str(cs.Object, "spec", "name"); name != "" {
			note(name, "cloudstorage/"+cs.GetName())
		}
	}
	for _, l := range bsls {
		provider := kube.Str(l.Object, "spec", "provider")
		name := kube.Str(l.Object, "spec", "objectStorage", "bucket")
		if name == "" || (provider != "aws" && provider != "velero.io/aws") {
			continue
		}
		from := "backupstoragelocation/" + l.GetName()
		note(name, from).LocationRegions[from] = kube.Str(l.Object, "spec", "config", "region")
	}
	slices.SortFunc(out, func(a, b status.Bucket) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// bucketRegion maps GetBucketLocation's answer to a region: S3 answers ""
// for us-east-1 and "EU" for the oldest eu-west-1 buckets.
func bucketRegion(constraint string) string {
	switch constraint {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	}
	return constraint
}

// claims reads a JWT's iss, sub and aud without verifying it: STS verifies.
// aud is a string or a list of them.
func claims(token string) (iss, sub string, aud []string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", nil
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(b, &c) != nil {
		return "", "", nil
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		aud = []string{one}
	} else if json.Unmarshal(c.Aud, &aud) != nil {
		aud = nil
	}
	return c.Iss, c.Sub, aud
}
