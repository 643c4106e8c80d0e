package bucket

import (
	"slices"
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

func TestDecide(t *testing.T) {
	want := Want{Name: "c1-oadp", Region: "eu-west-1", AccountID: "123456789012", ClusterID: "id-1", Tags: iam.OwnershipTags("id-1")}
	kms := want
	kms.KMSKeyARN = "arn:aws:kms:eu-west-1:123456789012:key/k1"
	versioned := want
	versioned.Versioning = true
	hardened := State{Exists: true, Region: "eu-west-1", PublicAccessBlocked: true, Encryption: SSES3, Tags: iam.OwnershipTags("id-1")}
	with := func(f func(*State)) State { s := hardened; s.Tags = hardened.Tags.With(nil); f(&s); return s }
	// The restore cluster's want: the first cluster's bucket, read-only.
	from := want
	from.From = "id-0"
	othersBucket := State{Exists: true, Region: "eu-west-1", Tags: iam.OwnershipTags("id-0")}

	cases := []struct {
		name   string
		want   Want
		state  State
		kind   Kind
		fixes  []Fix
		reason string // in the refusal
	}{
		{"absent: create with everything", want, State{}, Create, []Fix{FixPublicAccess, FixEncryption, FixTags}, ""},
		{"absent, versioned", versioned, State{}, Create, []Fix{FixPublicAccess, FixEncryption, FixTags, FixVersioning}, ""},
		{"another account's", want, State{Forbidden: true}, Refuse, nil, "not this account's"},
		{"another region", want, State{Exists: true, Region: "us-east-1"}, Refuse, nil, "is in region us-east-1, and the cluster is in eu-west-1"},
		{"another cluster's: read-only, nothing fixed", want, with(func(s *State) { s.Tags[iam.TagOwnerClusterID] = "id-2"; s.PublicAccessBlocked = false }), Shared, nil, ""},
		{"another cluster's in another region", want, State{Exists: true, Region: "us-east-1", Tags: iam.OwnershipTags("id-2")}, Refuse, nil, "is in region us-east-1"},
		{"from a cluster: its bucket", from, othersBucket, Shared, nil, ""},
		{"from a cluster: untagged, unhardened, still only read", from, State{Exists: true, Region: "eu-west-1"}, Shared, nil, ""},
		{"from a cluster: its bucket is gone", from, State{}, Refuse, nil, "bucket c1-oadp of cluster id-0 does not exist: run setup on that cluster first"},
		{"from a cluster: another account's", from, State{Forbidden: true}, Refuse, nil, "not this account's"},
		{"from a cluster in another region", from, State{Exists: true, Region: "us-east-1"}, Refuse, nil, "is in region us-east-1, and this cluster is in eu-west-1"},
		{"ours, hardened", want, hardened, Ours, nil, ""},
		{"ours, public access block removed", want, with(func(s *State) { s.PublicAccessBlocked = false }), Ours, []Fix{FixPublicAccess}, ""},
		{"ours, encryption removed", want, with(func(s *State) { s.Encryption = "" }), Ours, []Fix{FixEncryption}, ""},
		{"ours, a tag removed", want, with(func(s *State) { delete(s.Tags, iam.TagManagedBy); s.Tags[iam.TagOwnerClusterID] = "id-1" }), Adopt, nil, ""},
		{"ours, now with a kms key", kms, hardened, Ours, []Fix{FixEncryption}, ""},
		{"ours, another kms key", kms, with(func(s *State) { s.Encryption, s.KMSKey = SSEKMS, "arn:other" }), Ours, []Fix{FixEncryption}, ""},
		{"ours, the kms key", kms, with(func(s *State) { s.Encryption, s.KMSKey = SSEKMS, kms.KMSKeyARN }), Ours, nil, ""},
		{"ours, versioning asked", versioned, hardened, Ours, []Fix{FixVersioning}, ""},
		{"ours, versioning suspended is not undone without the flag", want, with(func(s *State) { s.Versioning = "Suspended" }), Ours, nil, ""},
		{"adopt an account bucket in the region", want, State{Exists: true, Region: "eu-west-1", Tags: iam.Tags{"team": "x"}}, Adopt, []Fix{FixPublicAccess, FixEncryption}, ""},
		{"adopt, KMS-encrypted without the flag", want, State{Exists: true, Region: "eu-west-1", Encryption: SSEKMS, KMSKey: "arn:k"}, Refuse, nil, "pass --kms-key-arn arn:k"},
		{"adopt, KMS-encrypted with its key", kms, State{Exists: true, Region: "eu-west-1", PublicAccessBlocked: true, Encryption: SSEKMS, KMSKey: kms.KMSKeyARN}, Adopt, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Decide(c.want, c.state)
			if p.Kind != c.kind {
				t.Fatalf("kind %s (%s), want %s", p.Kind, p.Reason, c.kind)
			}
			if !slices.Equal(p.Fixes, c.fixes) {
				t.Errorf("fixes %v, want %v", p.Fixes, c.fixes)
			}
			if c.reason != "" && !strings.Contains(p.Reason, c.reason) {
				t.Errorf("reason %q lacks %q", p.Reason, c.reason)
			}
			if (p.Err() != nil) != (c.kind == Refuse) {
				t.Errorf("Err() = %v for kind %s", p.Err(), p.Kind)
			}
			if p.Kind == Adopt && slices.Contains(p.Fixes, FixTags) {
				t.Error("an adopted bucket must never get our ownership tags: cleanup would delete it")
			}
			if p.Kind == Shared && (p.Changes() || p.Owner() == "" || !strings.Contains(p.Line(false), "read-only")) {
				t.Errorf("another cluster's bucket: changes %v, owner %q, line %q; want no change, its owner named", p.Changes(), p.Owner(), p.Line(false))
			}
			if p.Kind == Create && p.Tags[iam.TagOwnerClusterID] != c.want.ClusterID {
				t.Errorf("a new bucket's tags %v lack the owner", p.Tags)
			}
		})
	}
}

func TestOursTagsAreMergedNotReplaced(t *testing.T) {
	w := Want{Name: "b", Region: "r", ClusterID: "id", Tags: iam.OwnershipTags("id").With(iam.Tags{"extra": "v"})}
	st := State{Exists: true, Region: "r", PublicAccessBlocked: true, Encryption: SSES3, Tags: iam.OwnershipTags("id").With(iam.Tags{"team": "t"})}
	p := Decide(w, st)
	if !slices.Contains(p.Fixes, FixTags) || p.Tags["team"] != "t" || p.Tags["extra"] != "v" {
		t.Errorf("PutBucketTagging replaces the whole set, so the plan must keep the user's tags: %v (fixes %v)", p.Tags, p.Fixes)
	}
}
