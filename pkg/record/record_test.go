package record

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

const (
	ns      = "openshift-adp"
	roleARN = "arn:aws:iam::123456789012:role/mycluster-openshift-oadp-aws-cloud-credentials"
)

var recorded = Record{ClusterName: "mycluster", RoleARN: roleARN, PolicyName: "OadpMycluster",
	Bucket: "mycluster-backups", CloudStorage: "mycluster-cs", DPA: "mycluster-dpa"}

func TestAnnotationsRoundTrip(t *testing.T) {
	for _, r := range []Record{recorded, {RoleARN: roleARN, ExternalRole: true}, {Bucket: "a-oadp", BucketFrom: "id-a", Prefix: "velero"}, {}} {
		a := r.Annotations()
		if got := FromAnnotations(a); got != r {
			t.Errorf("FromAnnotations(%v) = %+v, want %+v", a, got, r)
		}
		for k, v := range a {
			if v == "" || !strings.HasPrefix(k, "oadp-sts.openshift.io/") {
				t.Errorf("annotation %s=%q: want a non-empty value under oadp-sts.openshift.io/", k, v)
			}
		}
	}
	if a := (Record{}).Annotations(); len(a) != 0 {
		t.Errorf("an empty record writes %v", a)
	}
}

//nolint:funlen // the table is the test: one case a line
func TestDecide(t *testing.T) {
	withRecord := Evidence{Namespace: ns, Recorded: recorded}
	// What a setup made before the record existed, or by hand: the objects.
	objects := Evidence{Namespace: ns,
		SecretRoleARN: "arn:aws:iam::123456789012:role/oadp/byhand",
		DPAs:          []DPA{{Name: "velero-dpa", CloudStorages: []string{"velero-cs"}}},
		CloudStorages: []CloudStorage{{Name: "other-cs", Bucket: "other"}, {Name: "velero-cs", Bucket: "velero-bucket"}},
	}
	// The first cluster's location, as setup --from-cluster reads it.
	first := &Location{Context: "a", ClusterID: "id-a", Bucket: "a-oadp", Prefix: "velero", Region: "us-east-2"}
	restoreRecord := Evidence{Namespace: ns, Recorded: Record{ClusterName: "b", Bucket: "a-oadp", BucketFrom: "id-a", Prefix: "velero", DPA: "b-dpa"}}
	cases := []struct {
		name    string
		flags   Flags
		ev      Evidence
		want    Names // From is checked only for the fields listed in wantFrom
		from    map[string]string
		wantErr []string
	}{
		{name: "nothing recorded, no flags: the defaults stay the caller's", ev: Evidence{Namespace: ns},
			want: Names{}},
		{name: "the record, no flags", ev: withRecord,
			want: Names{ClusterName: "mycluster", RoleName: "mycluster-openshift-oadp-aws-cloud-credentials", RolePath: "/", RoleARN: roleARN,
				PolicyName: "OadpMycluster", Bucket: "mycluster-backups", CloudStorage: "mycluster-cs", DPA: "mycluster-dpa"},
			from: map[string]string{FieldRole: "annotation oadp-sts.openshift.io/role-arn on namespace openshift-adp"}},
		{name: "flags equal to the record", ev: withRecord,
			flags: Flags{ClusterName: "mycluster", RoleName: "mycluster-openshift-oadp-aws-cloud-credentials", PolicyName: "OadpMycluster", Bucket: "mycluster-backups", DPA: "mycluster-dpa"},
			want: Names{ClusterName: "mycluster", RoleName: "mycluster-openshift-oadp-aws-cloud-credentials", RolePath: "/", RoleARN: roleARN,
				PolicyName: "OadpMycluster", Bucket: "mycluster-backups", CloudStorage: "mycluster-cs", DPA: "mycluster-dpa"},
			from: map[string]string{FieldRole: "--role-name", FieldBucket: "--bucket"}},
		{name: "a role flag against the record", ev: withRecord, flags: Flags{RoleName: "other"},
			wantErr: []string{"--role-name other", "mycluster-openshift-oadp-aws-cloud-credentials", "annotation oadp-sts.openshift.io/role-arn on namespace openshift-adp", "drop --role-name"}},
		{name: "a cluster name against the record", ev: withRecord, flags: Flags{ClusterName: "prod"},
			wantErr: []string{"--cluster-name prod", "cluster name setup made here is mycluster"}},
		{name: "a policy flag against the record", ev: withRecord, flags: Flags{PolicyName: "OadpVer1"},
			wantErr: []string{"--policy-name OadpVer1", "OadpMycluster"}},
		{name: "a bucket flag against the record", ev: withRecord, flags: Flags{Bucket: "b2"},
			wantErr: []string{"--bucket b2", "mycluster-backups"}},
		{name: "a dpa flag against the record", ev: withRecord, flags: Flags{DPA: "d2"},
			wantErr: []string{"--dpa-name d2", "mycluster-dpa"}},
		{name: "a cloudstorage flag against the record", ev: withRecord, flags: Flags{CloudStorage: "c2"},
			wantErr: []string{"--cloudstorage-name c2", "mycluster-cs"}},
		{name: "a role path against the recorded role's", ev: withRecord, flags: Flags{RolePath: "/oadp/"},
			wantErr: []string{"--role-path /oadp/", "role path setup made here is /"}},
		{name: "the record of a role given by --role-arn", ev: Evidence{Namespace: ns, Recorded: Record{RoleARN: roleARN, ExternalRole: true}},
			want: Names{RoleName: "mycluster-openshift-oadp-aws-cloud-credentials", RolePath: "/", RoleARN: roleARN, ExternalRole: true}},
		{name: "--role-arn against the record", ev: withRecord, flags: Flags{RoleARN: "arn:aws:iam::123456789012:role/x"},
			wantErr: []string{"--role-arn arn:aws:iam::123456789012:role/x", roleARN}},
		{name: "no record: the objects name everything", ev: objects,
			want: Names{RoleName: "byhand", RolePath: "/oadp/", RoleARN: "arn:aws:iam::123456789012:role/oadp/byhand",
				DPA: "velero-dpa", CloudStorage: "velero-cs", Bucket: "velero-bucket"},
			from: map[string]string{FieldRole: "role_arn of secret openshift-adp/cloud-credentials", FieldDPA: "the namespace's one DataProtectionApplication of ours",
				FieldCloudStorage: "the location of dataprotectionapplication/velero-dpa", FieldBucket: "spec.name of cloudstorage/velero-cs"}},
		{name: "no record: the Subscription's ROLEARN before the secret the operator writes from it",
			ev:   Evidence{Namespace: ns, SubscriptionRoleARN: roleARN, SecretRoleARN: "arn:aws:iam::123456789012:role/stale"},
			want: Names{RoleName: "mycluster-openshift-oadp-aws-cloud-credentials", RolePath: "/", RoleARN: roleARN},
			from: map[string]string{FieldRole: "ROLEARN of the Subscription in openshift-adp"}},
		{name: "no record, --cluster-name: its defaults win over the objects", ev: objects, flags: Flags{ClusterName: "mycluster"},
			want: Names{ClusterName: "mycluster"}},
		{name: "no record: a flag against the objects", ev: objects, flags: Flags{DPA: "second"},
			wantErr: []string{"--dpa-name second", "velero-dpa", "the namespace's one DataProtectionApplication of ours"}},
		{name: "no record: two DPAs of ours name none", ev: Evidence{Namespace: ns, DPAs: []DPA{{Name: "a"}, {Name: "b"}}},
			want: Names{}},
		{name: "--from-cluster: its bucket and prefix, read-only", ev: Evidence{Namespace: ns}, flags: Flags{From: first},
			want: Names{Bucket: "a-oadp", Prefix: "velero", BucketFrom: "id-a"},
			from: map[string]string{FieldBucket: "--from-cluster", FieldPrefix: "--from-cluster"}},
		{name: "--from-cluster with the same --bucket and --prefix", ev: Evidence{Namespace: ns}, flags: Flags{From: first, Bucket: "a-oadp", Prefix: "velero"},
			want: Names{Bucket: "a-oadp", Prefix: "velero", BucketFrom: "id-a"}},
		{name: "--from-cluster against --bucket", ev: Evidence{Namespace: ns}, flags: Flags{From: first, Bucket: "b-oadp"},
			wantErr: []string{"--bucket b-oadp", "the bucket --from-cluster a names is a-oadp", "drop --bucket"}},
		{name: "--from-cluster against --prefix", ev: Evidence{Namespace: ns}, flags: Flags{From: first, Prefix: "other"},
			wantErr: []string{"--prefix other", "the prefix --from-cluster a names is velero"}},
		{name: "--from-cluster on a cluster set up on its own bucket", ev: withRecord, flags: Flags{From: first},
			wantErr: []string{"--from-cluster a (bucket a-oadp)", "the bucket setup made here is mycluster-backups", "cleanup"}},
		{name: "--from-cluster naming the bucket this cluster made as its own", ev: Evidence{Namespace: ns, Recorded: Record{Bucket: "a-oadp"}}, flags: Flags{From: first},
			wantErr: []string{"--from-cluster a", "a-oadp as its own"}},
		{name: "--from-cluster again: the record agrees", ev: restoreRecord, flags: Flags{From: first},
			want: Names{ClusterName: "b", Bucket: "a-oadp", Prefix: "velero", BucketFrom: "id-a", DPA: "b-dpa"}},
		{name: "--from-cluster naming another prefix than the recorded one", ev: restoreRecord, flags: Flags{From: &Location{Context: "a", Bucket: "a-oadp", Prefix: "p2"}},
			wantErr: []string{"--from-cluster a (prefix p2)", "prefix setup made here is velero"}},
		{name: "a rerun without --from-cluster keeps the other cluster's location", ev: restoreRecord,
			want: Names{ClusterName: "b", Bucket: "a-oadp", Prefix: "velero", BucketFrom: "id-a", DPA: "b-dpa"}},
		{name: "a rerun with another --prefix than the other cluster's", ev: restoreRecord, flags: Flags{Prefix: "mine"},
			wantErr: []string{"--prefix mine", "velero"}},
		{name: "no record: one CloudStorage of ours without a DPA", ev: Evidence{Namespace: ns, CloudStorages: []CloudStorage{{Name: "cs", Bucket: "bkt"}}},
			want: Names{CloudStorage: "cs", Bucket: "bkt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.flags, tc.ev)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error; got %+v", got)
				}
				if !IsConflict(err) {
					t.Errorf("error %v is not a ConflictError", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if msg := err.Error(); strings.ToLower(msg[:1]) != msg[:1] && msg[0] != '-' {
					t.Errorf("error not lower-case: %q", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			from := got.From
			got.From, got.namespace, got.recorded = nil, "", nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide =\n %+v\nwant\n %+v", got, tc.want)
			}
			for f, src := range tc.from {
				if from[f] != src {
					t.Errorf("From[%s] = %q, want %q (all: %v)", f, from[f], src, maps.Collect(maps.All(from)))
				}
			}
		})
	}
}

func TestRoleNameOf(t *testing.T) {
	for in, want := range map[string][2]string{
		"arn:aws:iam::123456789012:role/r":                  {"r", "/"},
		"arn:aws-us-gov:iam::123456789012:role/oadp/team/r": {"r", "/oadp/team/"},
		"arn:aws:iam::123456789012:policy/p":                {"", ""},
		"not an arn":                                        {"", ""},
	} {
		name, path := RoleNameOf(in)
		if name != want[0] || path != want[1] {
			t.Errorf("RoleNameOf(%q) = %q, %q; want %q, %q", in, name, path, want[0], want[1])
		}
	}
}

func TestFound(t *testing.T) {
	n, err := Decide(Flags{PolicyName: "OadpMycluster"}, Evidence{Namespace: ns, Recorded: Record{RoleARN: roleARN, PolicyName: "OadpMycluster"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "role mycluster-openshift-oadp-aws-cloud-credentials (from the record on namespace openshift-adp)"
	if got := n.Found(); got != want {
		t.Errorf("Found() = %q, want %q", got, want)
	}
	n, _ = Decide(Flags{}, Evidence{Namespace: ns, DPAs: []DPA{{Name: "d", CloudStorages: []string{"c"}}}})
	if got, want := n.Found(), "cloudstorage c, dpa d (from the location of dataprotectionapplication/d; the namespace's one DataProtectionApplication of ours)"; got != want {
		t.Errorf("Found() = %q, want %q", got, want)
	}
	if got := (Names{}).Found(); got != "" {
		t.Errorf("nothing found: %q", got)
	}
}
