package iam

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/names"
)

// Scope is what the role needs to reach when setup made (or adopted) the
// bucket itself: that bucket, its prefix, EBS snapshots only in native mode,
// the KMS key only when the bucket is encrypted with one.
type Scope struct {
	Partition string
	Bucket    string
	// Prefix is the DPA's object prefix; "" means the whole bucket.
	Prefix          string
	NativeSnapshots bool
	KMSKeyARN       string
	// ReadOnly is the scope of a cluster that restores from another
	// cluster's location (setup --from-cluster): it reads the backups under
	// the prefix and writes only what Velero writes there on a restore,
	// never a backup, and deletes nothing outside restores/.
	ReadOnly bool
}

// Actions of the scoped policy, by the resource they apply to. Velero's AWS
// object store lists and reads the bucket, and reads, writes and deletes
// objects (multipart for large ones) under the prefix; nothing here creates,
// deletes or reconfigures a bucket, which only the CloudStorage path needs.
var (
	BucketActions = []string{"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"}
	ObjectActions = []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
	// SnapshotActions are the chapter's EC2 actions: the AWS plugin's volume
	// snapshotter, used with --snapshots=native only. EC2 has no per-snapshot
	// ARN before the snapshot exists, so they stay on "*".
	SnapshotActions = []string{
		"ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeVolumeAttribute",
		"ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus", "ec2:CreateTags",
		"ec2:CreateVolume", "ec2:CreateSnapshot", "ec2:DeleteSnapshot",
	}
	// KMSActions let Velero write and read objects of a bucket whose default
	// encryption is SSE-KMS with the key.
	KMSActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}

	// ReaderBucketActions and ReaderObjectActions are a read-only scope's:
	// Velero's location validation lists the prefix, its backup sync lists
	// backups/ and reads each backup's metadata, and a restore reads the
	// backup's contents.
	ReaderBucketActions = []string{"s3:GetBucketLocation", "s3:ListBucket"}
	ReaderObjectActions = []string{"s3:GetObject"}
	// RestoreActions are what a restore writes under <prefix>/restores/:
	// its log, results, restored-resource list and item operations, and
	// what deleting a Restore removes again. The same restores/ directory
	// holds the other cluster's restores: a Restore named as one of those
	// replaces its log.
	RestoreActions = []string{"s3:PutObject", "s3:DeleteObject"}
)

// RestoresDir is the directory under the prefix where Velero keeps restores.
const RestoresDir = "restores"

// BucketARN is the ARN of an S3 bucket in a partition.
func BucketARN(partition, bucket string) string {
	return fmt.Sprintf("arn:%s:s3:::%s", partitionOr(partition), bucket)
}

// ObjectsARN is the ARN pattern of the objects under prefix ("" for all).
func ObjectsARN(partition, bucket, prefix string) string {
	p := strings.Trim(prefix, "/")
	if p == "" {
		return BucketARN(partition, bucket) + "/*"
	}
	return BucketARN(partition, bucket) + "/" + p + "/*"
}

func partitionOr(p string) string {
	if p == "" {
		return "aws"
	}
	return p
}

// ScopedPolicy is the permissions policy of a role that reaches one bucket.
func ScopedPolicy(s Scope) Document {
	if s.ReadOnly {
		return readerPolicy(s)
	}
	st := []Statement{
		{Effect: "Allow", Action: slices.Clone(BucketActions), Resource: BucketARN(s.Partition, s.Bucket)},
		{Effect: "Allow", Action: slices.Clone(ObjectActions), Resource: ObjectsARN(s.Partition, s.Bucket, s.Prefix)},
	}
	if s.NativeSnapshots {
		st = append(st, Statement{Effect: "Allow", Action: slices.Clone(SnapshotActions), Resource: "*"})
	}
	if s.KMSKeyARN != "" {
		st = append(st, Statement{Effect: "Allow", Action: slices.Clone(KMSActions), Resource: s.KMSKeyARN})
	}
	return Document{Version: PolicyVersion, Statement: st}
}

// readerPolicy is a read-only scope's document: the bucket listed, the
// prefix read, restores/ written; snapshots and the KMS key as for a writer,
// since restoring volumes from EBS snapshots and reading SSE-KMS objects
// need the same actions.
func readerPolicy(s Scope) Document {
	restores := strings.Trim(strings.Trim(s.Prefix, "/")+"/"+RestoresDir, "/")
	st := []Statement{
		{Effect: "Allow", Action: slices.Clone(ReaderBucketActions), Resource: BucketARN(s.Partition, s.Bucket)},
		{Effect: "Allow", Action: slices.Clone(ReaderObjectActions), Resource: ObjectsARN(s.Partition, s.Bucket, s.Prefix)},
		{Effect: "Allow", Action: slices.Clone(RestoreActions), Resource: ObjectsARN(s.Partition, s.Bucket, restores)},
	}
	if s.NativeSnapshots {
		st = append(st, Statement{Effect: "Allow", Action: slices.Clone(SnapshotActions), Resource: "*"})
	}
	if s.KMSKeyARN != "" {
		st = append(st, Statement{Effect: "Allow", Action: slices.Clone(KMSActions), Resource: s.KMSKeyARN})
	}
	return Document{Version: PolicyVersion, Statement: st}
}

// PolicySuffix follows the cluster name in the per-cluster policy's name.
const PolicySuffix = "-oadp-bucket"

// ScopedPolicyName is the default name of a policy scoped to one cluster's
// bucket: per cluster, since the chapter's shared OadpVer1 would give every
// cluster's role the last cluster's bucket.
func ScopedPolicyName(clusterName string) string {
	return names.Fit(names.DNSLabel(clusterName), PolicySuffix, MaxPolicyNameLen)
}

// Grant is one action on one resource.
type Grant struct{ Action, Resource string }

func (g Grant) String() string { return g.Action + " on " + g.Resource }

// Grants lists what a document this package wrote allows, one action and
// resource at a time.
func (d Document) Grants() []Grant {
	var out []Grant
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range listOf(st.Action) {
			for _, r := range listOf(st.Resource) {
				out = append(out, Grant{a, r})
			}
		}
	}
	return out
}

// ScopeReport compares a live document with the one a mode needs.
type ScopeReport struct {
	// Missing are grants the mode needs that the document does not allow.
	Missing []Grant
	// Extra are grants of the document beyond what the mode needs: an
	// action it does not need, or one it needs on a wider resource.
	Extra []Grant
}

// CompareScope reads a document as IAM returns it (possibly URL-encoded) and
// compares it with want. Allow statements with a Condition count as not
// granting (they may not apply), and unconditional Deny statements remove
// what they match. Matching is IAM's: case-insensitive actions, and * and ?
// wildcards in actions and resources.
func CompareScope(live string, want Document) (ScopeReport, error) {
	v, err := DecodeDocument(live)
	if err != nil {
		return ScopeReport{}, err
	}
	var allow, deny []Grant
	m, _ := v.(map[string]any)
	var stmts []any
	switch s := m["Statement"].(type) {
	case []any:
		stmts = s
	case map[string]any:
		stmts = []any{s}
	}
	for _, e := range stmts {
		st, _ := e.(map[string]any)
		effect, _ := st["Effect"].(string)
		var gs []Grant
		for _, a := range listOf(st["Action"]) {
			for _, r := range listOf(st["Resource"]) {
				gs = append(gs, Grant{a, r})
			}
		}
		switch {
		case effect == "Allow" && st["Condition"] == nil:
			allow = append(allow, gs...)
		case effect == "Deny" && st["Condition"] == nil:
			deny = append(deny, gs...)
		}
	}
	var rep ScopeReport
	need := want.Grants()
	for _, g := range need {
		if !covered(allow, g) || covered(deny, g) {
			rep.Missing = append(rep.Missing, g)
		}
	}
	for _, g := range allow {
		// A live grant is extra unless some needed grant covers it whole.
		if !slices.ContainsFunc(need, func(n Grant) bool { return covers(n, g) }) {
			rep.Extra = append(rep.Extra, g)
		}
	}
	return rep, nil
}

// covered reports whether one of gs allows g.
func covered(gs []Grant, g Grant) bool {
	return slices.ContainsFunc(gs, func(p Grant) bool { return covers(p, g) })
}

// covers reports whether pattern p matches everything g names.
func covers(p, g Grant) bool {
	return match(p.Action, g.Action, true) && match(p.Resource, g.Resource, false)
}

// match is IAM's glob: * any run, ? one character. A pattern covers another
// pattern only when it matches it literally (so "s3:*" covers "s3:Get*" but
// "s3:Get*" does not cover "s3:*").
func match(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// path.Match treats "/" as a separator; IAM does not.
	pattern = strings.ReplaceAll(pattern, "/", "\x00")
	s = strings.ReplaceAll(s, "/", "\x00")
	pattern = strings.NewReplacer("[", `\[`, "]", `\]`).Replace(pattern)
	ok, _ := path.Match(pattern, s)
	return ok
}

func listOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
