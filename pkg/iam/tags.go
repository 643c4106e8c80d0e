package iam

import (
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The chapter's tags.
const (
	TagClusterID         = "cluster_id"
	TagOpenShiftVersion  = "openshift_version"
	TagOperatorNamespace = "operator_namespace"
	TagOperatorName      = "operator_name"
	OperatorName         = "oadp"
)

// Ownership tags: put on what this plugin creates, and only then. Cleanup
// deletes nothing that lacks them, so a policy or role someone made by hand
// (or another cluster's) is never removed.
const (
	TagOwnerClusterID = "oadp-sts.openshift.io/cluster-id"
	TagManagedBy      = "oadp-sts.openshift.io/managed-by"
	ManagedBy         = "kubectl-oadp_sts"
)

// Tags is a tag set; a map because IAM tag keys are unique.
type Tags map[string]string

// PolicyTags are the chapter's tags of the permissions policy.
func PolicyTags(openshiftVersion, ns string) Tags {
	return Tags{TagOpenShiftVersion: openshiftVersion, TagOperatorNamespace: ns, TagOperatorName: OperatorName}
}

// RoleTags are the chapter's tags of the role.
func RoleTags(clusterID, openshiftVersion, ns string) Tags {
	t := PolicyTags(openshiftVersion, ns)
	t[TagClusterID] = clusterID
	return t
}

// OwnershipTags mark an object as created by this plugin for a cluster.
func OwnershipTags(clusterID string) Tags {
	return Tags{TagOwnerClusterID: clusterID, TagManagedBy: ManagedBy}
}

// Owned reports whether tags say this plugin created the object for clusterID:
// the test `cleanup` must pass before it deletes anything.
func Owned(tags []types.Tag, clusterID string) bool {
	t := FromIAM(tags)
	return t[TagManagedBy] == ManagedBy && t[TagOwnerClusterID] == clusterID && clusterID != ""
}

// With returns t and more merged (more wins).
func (t Tags) With(more Tags) Tags {
	out := Tags{}
	for k, v := range t {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// IAM returns the tags sorted by key, as the SDK takes them. Empty values
// are dropped: a fact that is unknown is not tagged as "".
func (t Tags) IAM() []types.Tag {
	keys := make([]string, 0, len(t))
	for k, v := range t {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]types.Tag, len(keys))
	for i, k := range keys {
		out[i] = types.Tag{Key: aws.String(k), Value: aws.String(t[k])}
	}
	return out
}

// FromIAM turns SDK tags into a Tags.
func FromIAM(tags []types.Tag) Tags {
	out := Tags{}
	for _, tg := range tags {
		out[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return out
}

// Missing returns the tags of want that have is lacks, or has with another
// value when overwrite is set.
func (t Tags) Missing(want Tags, overwrite bool) Tags {
	out := Tags{}
	for k, v := range want {
		if v == "" {
			continue
		}
		cur, ok := t[k]
		if !ok || (overwrite && cur != v) {
			out[k] = v
		}
	}
	return out
}

// Keys returns the sorted keys.
func (t Tags) Keys() []string {
	out := make([]string, 0, len(t))
	for k := range t {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
