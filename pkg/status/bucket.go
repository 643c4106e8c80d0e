package status

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// CheckBucketHardening is the check of the bucket setup made (or adopted):
// its public access block, encryption, tags and region.
const CheckBucketHardening = "bucket hardening"

// Hardening is the bucket a velero location of our DPA names, as read with
// the user's credentials (bucket.Read), and what setup wants of it.
type Hardening struct {
	Want  bucket.Want
	State bucket.State
	Err   error
}

// Scope is the IAM scope of the chain's setup: the bucket and prefix of our
// DPA's velero location, with its snapshot mode and KMS key; nil when the
// DPA uses a CloudStorage (the chapter's policy) or there is no DPA.
func (c *Chain) Scope() *iam.Scope {
	for i := range c.DPAs {
		locs, _, _ := unstructured.NestedSlice(c.DPAs[i].Object, "spec", "backupLocations")
		for _, l := range locs {
			m, _ := l.(map[string]any)
			vel, ok := m["velero"].(map[string]any)
			if !ok {
				continue
			}
			b := kube.Str(vel, "objectStorage", "bucket")
			if b == "" {
				continue
			}
			// A ReadOnly location reads another cluster's backups: its role
			// is judged by the read-only scope, so the writes it lacks on
			// purpose are no fault.
			return &iam.Scope{Bucket: b, Prefix: kube.Str(vel, "objectStorage", "prefix"),
				NativeSnapshots: c.SnapshotMode == manifests.SnapshotsNative, KMSKeyARN: kube.Str(vel, "config", "kmsKeyId"),
				ReadOnly: kube.Str(vel, "accessMode") == manifests.AccessReadOnly}
		}
	}
	return nil
}

// scopedPolicyActions compares the live policy with the one the scope needs:
// what it lacks fails, what it grants beyond warns.
func (c *chain) scopedPolicyActions(s *iam.Scope) Check {
	sc := *s
	sc.Partition = c.in.AWS.Partition
	want := iam.ScopedPolicy(sc)
	rep, err := iam.CompareScope(c.Policy.Document, want)
	if err != nil {
		return Check{Name: CheckPolicyActions, Result: Failed, Message: "unreadable document", Cause: err.Error(),
			Fix: "run '" + c.setupFix() + "' to put the document back"}
	}
	list := func(gs []iam.Grant) string {
		out := make([]string, len(gs))
		for i, g := range gs {
			out[i] = g.String()
		}
		return strings.Join(out, ", ")
	}
	switch {
	case len(rep.Missing) > 0:
		return Check{Name: CheckPolicyActions, Result: Failed, Message: fmt.Sprintf("%d of %d grants missing", len(rep.Missing), len(want.Grants())),
			Cause: fmt.Sprintf("the default version (%s) of policy %s does not allow %s", c.Policy.VersionID, c.PolicyName, list(rep.Missing)),
			Fix:   "run '" + c.setupFix() + "' to put the bucket's document back ('kubectl oadp-sts policy --bucket " + s.Bucket + readOnlyFlag(s) + "' prints it)"}
	case len(rep.Extra) > 0 && s.ReadOnly:
		return Check{Name: CheckPolicyActions, Result: Warning, Message: fmt.Sprintf("%d grants beyond reading bucket %s", len(rep.Extra), s.Bucket),
			Cause: fmt.Sprintf("policy %s also allows %s, which a cluster restoring read-only from bucket %s does not need (and which could change the other cluster's backups)", c.PolicyName, list(rep.Extra), s.Bucket),
			Fix:   "run '" + c.setupFix() + "' to make the read-only document the default version again"}
	case len(rep.Extra) > 0:
		return Check{Name: CheckPolicyActions, Result: Warning, Message: fmt.Sprintf("%d grants beyond bucket %s", len(rep.Extra), s.Bucket),
			Cause: fmt.Sprintf("policy %s also allows %s, which this setup (bucket %s, %s snapshots) does not need", c.PolicyName, list(rep.Extra), s.Bucket, printSnapshots(s)),
			Fix:   "run '" + c.setupFix() + "' to make the scoped document the default version again"}
	}
	if s.ReadOnly {
		return Check{Name: CheckPolicyActions, Result: OK, Message: fmt.Sprintf("reads bucket %s, writes only restores/ (version %s)", s.Bucket, c.Policy.VersionID)}
	}
	return Check{Name: CheckPolicyActions, Result: OK, Message: fmt.Sprintf("only bucket %s (version %s)", s.Bucket, c.Policy.VersionID)}
}

func printSnapshots(s *iam.Scope) string {
	if s.NativeSnapshots {
		return "native"
	}
	return "CSI"
}

// hardeningCheck says what setup would fix on the bucket it made.
func (c *chain) hardeningCheck() (Check, bool) {
	h := c.Hardening
	if h == nil {
		return Check{}, false
	}
	name := CheckBucketHardening + " " + h.Want.Name
	if h.Err != nil {
		return Check{Name: name, Result: Warning, Message: "cannot read the bucket's settings", Cause: h.Err.Error(),
			Fix: "grant the calling identity s3:GetBucketPublicAccessBlock, s3:GetEncryptionConfiguration, s3:GetBucketTagging and s3:GetBucketVersioning"}, true
	}
	if !h.State.Exists && !h.State.Forbidden {
		return Check{}, false // the bucket check already says it is missing
	}
	fixes, refusal := bucket.Drift(h.Want, h.State)
	if refusal != "" {
		return Check{Name: name, Result: Failed, Message: "not a bucket setup may use", Cause: refusal,
			Fix: "point the DPA at a bucket of this account in " + h.Want.Region + ": '" + c.setupFix() + " --bucket NEW_NAME'"}, true
	}
	if len(fixes) > 0 {
		what := make([]string, len(fixes))
		for i, f := range fixes {
			what[i] = string(f)
		}
		return Check{Name: name, Result: Warning, Message: "drifted: " + strings.Join(what, ", "),
			Cause: fmt.Sprintf("bucket %s no longer has the %s setup gave it", h.Want.Name, strings.Join(what, ", ")),
			Fix:   "run '" + c.setupFix() + "': it puts the " + strings.Join(what, ", ") + " back"}, true
	}
	if h.Want.From != "" {
		return Check{Name: name, Result: OK, Message: "another cluster's (" + h.Want.From + "), read-only here: its settings are that cluster's"}, true
	}
	enc := "SSE-S3"
	if h.State.Encryption == bucket.SSEKMS {
		enc = "SSE-KMS " + h.State.KMSKey
	}
	return Check{Name: name, Result: OK, Message: "public access blocked, " + enc}, true
}

func readOnlyFlag(s *iam.Scope) string {
	if s.ReadOnly {
		return " --read-only"
	}
	return ""
}
