package iam

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestScopedPolicyNamesOnlyTheBucket(t *testing.T) {
	cases := []struct {
		name   string
		scope  Scope
		want   []string // grants that must be there
		absent []string // action prefixes that must not
	}{
		{"csi, prefix", Scope{Partition: "aws", Bucket: "b1", Prefix: "velero"},
			[]string{"s3:ListBucket on arn:aws:s3:::b1", "s3:PutObject on arn:aws:s3:::b1/velero/*"},
			[]string{"ec2:", "kms:", "s3:CreateBucket", "s3:DeleteBucket"}},
		{"no prefix", Scope{Partition: "aws-us-gov", Bucket: "b2"},
			[]string{"s3:GetObject on arn:aws-us-gov:s3:::b2/*"}, []string{"ec2:"}},
		{"native", Scope{Bucket: "b3", Prefix: "/p/", NativeSnapshots: true},
			[]string{"ec2:CreateSnapshot on *", "s3:DeleteObject on arn:aws:s3:::b3/p/*"}, []string{"kms:"}},
		{"kms", Scope{Bucket: "b4", KMSKeyARN: "arn:aws:kms:eu-west-1:123456789012:key/k"},
			[]string{"kms:GenerateDataKey* on arn:aws:kms:eu-west-1:123456789012:key/k"}, []string{"ec2:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, g := range ScopedPolicy(c.scope).Grants() {
				got = append(got, g.String())
				if g.Resource == "*" && !strings.HasPrefix(g.Action, "ec2:") {
					t.Errorf("%s: only EC2 may be on *", g)
				}
				for _, a := range c.absent {
					if strings.HasPrefix(g.Action, a) {
						t.Errorf("%s: not wanted in this mode", g)
					}
				}
			}
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s in %v", w, got)
				}
			}
		})
	}
}

func TestCompareScope(t *testing.T) {
	want := ScopedPolicy(Scope{Partition: "aws", Bucket: "b", Prefix: "velero"})
	cases := []struct {
		name           string
		live           string
		missing, extra []string
	}{
		{"exact", want.JSON(), nil, nil},
		{"url-encoded, as IAM returns it", url.PathEscape(want.JSON()), nil, nil},
		{"the chapter's policy: everything on *", PermissionsPolicy().JSON(), nil,
			[]string{"s3:CreateBucket on *", "s3:GetObject on *", "ec2:CreateVolume on *"}},
		{"wildcard that covers", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/velero/*"]}]}`,
			nil, []string{"s3:Get* on arn:aws:s3:::b"}},
		{"object actions on the bucket only", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b"}}`,
			[]string{"s3:GetObject on arn:aws:s3:::b/velero/*"}, []string{"s3:* on arn:aws:s3:::b"}},
		{"denied", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/velero/*"]},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`,
			[]string{"s3:DeleteObject on arn:aws:s3:::b/velero/*"}, []string{"s3:* on arn:aws:s3:::b"}},
		{"conditional allow does not count", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`,
			[]string{"s3:ListBucket on arn:aws:s3:::b"}, nil},
		{"another bucket", strings.ReplaceAll(want.JSON(), ":::b", ":::other"),
			[]string{"s3:ListBucket on arn:aws:s3:::b"}, []string{"s3:ListBucket on arn:aws:s3:::other"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := CompareScope(c.live, want)
			if err != nil {
				t.Fatal(err)
			}
			str := func(gs []Grant) []string {
				var out []string
				for _, g := range gs {
					out = append(out, g.String())
				}
				return out
			}
			missing, extra := str(rep.Missing), str(rep.Extra)
			for _, m := range c.missing {
				if !slices.Contains(missing, m) {
					t.Errorf("missing should list %s; it is %v", m, missing)
				}
			}
			if c.missing == nil && len(missing) > 0 {
				t.Errorf("nothing should be missing, got %v", missing)
			}
			for _, e := range c.extra {
				if !slices.Contains(extra, e) {
					t.Errorf("extra should list %s; it is %v", e, extra)
				}
			}
			if c.extra == nil && len(extra) > 0 {
				t.Errorf("nothing should be extra, got %v", extra)
			}
		})
	}
}

func TestScopedPolicyNameFitsIAM(t *testing.T) {
	n := ScopedPolicyName(strings.Repeat("a", 200))
	if err := ValidatePolicyName(n, ""); err != nil {
		t.Error(err)
	}
	if ScopedPolicyName("c1") != "c1"+PolicySuffix || ScopedPolicyName("c1") == ScopedPolicyName("c2") {
		t.Errorf("per-cluster names: %s, %s", ScopedPolicyName("c1"), ScopedPolicyName("c2"))
	}
}

// A restore cluster's scope reads the prefix and writes only under
// restores/; judged against it, its own document is whole, and a writer's
// document has more than it needs, never less. Judged as a writer's, the
// reader's document lacks the writes: which is why status must judge it by
// the location's access mode.
func TestReaderScope(t *testing.T) {
	reader := Scope{Partition: "aws", Bucket: "b1", Prefix: "velero", ReadOnly: true}
	var got []string
	for _, g := range ScopedPolicy(reader).Grants() {
		got = append(got, g.String())
	}
	want := []string{
		"s3:GetBucketLocation on arn:aws:s3:::b1", "s3:ListBucket on arn:aws:s3:::b1",
		"s3:GetObject on arn:aws:s3:::b1/velero/*",
		"s3:PutObject on arn:aws:s3:::b1/velero/restores/*", "s3:DeleteObject on arn:aws:s3:::b1/velero/restores/*",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reader grants\n got %v\nwant %v", got, want)
	}
	if g := ScopedPolicy(Scope{Bucket: "b1", ReadOnly: true}).Grants(); g[3].Resource != "arn:aws:s3:::b1/restores/*" {
		t.Errorf("no prefix: restores at %s, want arn:aws:s3:::b1/restores/*", g[3].Resource)
	}

	readerDoc := ScopedPolicy(reader).JSON()
	writer := reader
	writer.ReadOnly = false
	writerDoc := ScopedPolicy(writer).JSON()

	if rep, err := CompareScope(readerDoc, ScopedPolicy(reader)); err != nil || len(rep.Missing)+len(rep.Extra) > 0 {
		t.Errorf("reader judged as reader: %+v, %v; want nothing missing or extra", rep, err)
	}
	rep, err := CompareScope(writerDoc, ScopedPolicy(reader))
	if err != nil || len(rep.Missing) > 0 || !slices.Contains(rep.Extra, Grant{"s3:DeleteObject", "arn:aws:s3:::b1/velero/*"}) {
		t.Errorf("writer judged as reader: %+v, %v; want nothing missing, DeleteObject on the prefix extra", rep, err)
	}
	rep, err = CompareScope(readerDoc, ScopedPolicy(writer))
	if err != nil || !slices.Contains(rep.Missing, Grant{"s3:PutObject", "arn:aws:s3:::b1/velero/*"}) {
		t.Errorf("reader judged as writer: %+v, %v; want PutObject on the prefix missing", rep, err)
	}
}
