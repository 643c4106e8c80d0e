// Package record is the cluster as the record of what setup made: the names
// of the IAM role and policy, the bucket, the CloudStorage and the
// DataProtectionApplication an earlier `setup` chose, with any flags, so that
// `status`, `cleanup`, `backup` and a rerun of `setup` find them without
// being told again.
//
// setup writes the record as annotations on the OADP namespace (Annotations);
// Read reads it back, and when a namespace has none (set up by hand, or by an
// older plugin) it gathers what the cluster itself says: the cloud-credentials
// secret's role_arn or the Subscription's ROLEARN, our DPA, the CloudStorage
// its location names, and that CloudStorage's bucket. Decide, a pure
// function, turns the flags and that evidence into the names a command uses.
//
// The record only names things; it never makes them ours. cleanup still
// deletes an IAM role, policy or bucket only when it carries the ownership
// tags for this cluster (or with --force).
package record

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// The annotations setup writes on the OADP namespace. The prefix is the one
// of the ownership tags, so both read as the plugin's.
// Prefix begins every annotation of setup's record.
const Prefix = "oadp-sts.openshift.io/"

const (
	prefix = Prefix

	AnnotationClusterName  = prefix + "cluster-name"
	AnnotationRoleARN      = prefix + "role-arn"
	AnnotationRoleExternal = prefix + "role-external"
	AnnotationPolicyName   = prefix + "policy-name"
	AnnotationBucket       = prefix + "bucket"
	// AnnotationBucketAdopted marks a bucket setup found rather than made:
	// cleanup never deletes it.
	AnnotationBucketAdopted = prefix + "bucket-adopted"
	AnnotationCloudStorage  = prefix + "cloudstorage"
	AnnotationDPA           = prefix + "dpa"
	// AnnotationBucketFrom names the cluster (its ID) whose backup location
	// this cluster restores from (setup --from-cluster): the bucket is that
	// cluster's, read-only here, never changed or deleted from here.
	AnnotationBucketFrom = prefix + "bucket-from"
	// AnnotationPrefix is that location's prefix, recorded with bucket-from.
	AnnotationPrefix = prefix + "prefix"
)

// Record is what setup made, as it writes it on the namespace.
type Record struct {
	ClusterName string
	RoleARN     string
	// ExternalRole is set when setup was handed the role (--role-arn) and
	// left IAM alone: a rerun must not start managing that role.
	ExternalRole bool
	PolicyName   string
	Bucket       string
	// BucketAdopted: setup used an existing bucket of the account.
	BucketAdopted bool
	CloudStorage  string
	DPA           string
	// BucketFrom is the ID of the cluster whose location Bucket and Prefix
	// are; "" when the bucket is this cluster's.
	BucketFrom string
	Prefix     string
}

// Empty reports whether nothing is recorded.
func (r Record) Empty() bool { return r == Record{} }

// Annotations are the record as setup writes it; empty values are left out.
func (r Record) Annotations() map[string]string {
	out := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set(AnnotationClusterName, r.ClusterName)
	set(AnnotationRoleARN, r.RoleARN)
	if r.ExternalRole {
		out[AnnotationRoleExternal] = "true"
	}
	set(AnnotationPolicyName, r.PolicyName)
	set(AnnotationBucket, r.Bucket)
	if r.BucketAdopted {
		out[AnnotationBucketAdopted] = "true"
	}
	set(AnnotationCloudStorage, r.CloudStorage)
	set(AnnotationDPA, r.DPA)
	if r.BucketFrom != "" {
		set(AnnotationBucketFrom, r.BucketFrom)
		set(AnnotationPrefix, r.Prefix)
	}
	return out
}

// FromAnnotations reads the record back from a namespace's annotations.
func FromAnnotations(a map[string]string) Record {
	return Record{
		ClusterName:   a[AnnotationClusterName],
		RoleARN:       a[AnnotationRoleARN],
		ExternalRole:  a[AnnotationRoleExternal] == "true",
		PolicyName:    a[AnnotationPolicyName],
		Bucket:        a[AnnotationBucket],
		BucketAdopted: a[AnnotationBucketAdopted] == "true",
		CloudStorage:  a[AnnotationCloudStorage],
		DPA:           a[AnnotationDPA],
		BucketFrom:    a[AnnotationBucketFrom],
		Prefix:        a[AnnotationPrefix],
	}
}

// Evidence is what the cluster says about an earlier setup.
type Evidence struct {
	Namespace string
	// Recorded is the namespace's record; zero when it has none.
	Recorded Record
	// SecretRoleARN is the role_arn of the cloud-credentials secret's
	// default profile; SubscriptionRoleARN the Subscription's ROLEARN.
	SecretRoleARN       string
	SubscriptionRoleARN string
	// DPAs are the namespace's DataProtectionApplications the plugin applied
	// (its label and its field manager), CloudStorages likewise.
	DPAs          []DPA
	CloudStorages []CloudStorage
}

// DPA is one of our DataProtectionApplications and the CloudStorages its
// backup locations refer to.
type DPA struct {
	Name          string
	CloudStorages []string
}

// CloudStorage is one of our CloudStorages and the bucket it names.
type CloudStorage struct {
	Name   string
	Bucket string
}

// Flags are the names a command was given; "" is not given. Commands that
// lack a flag leave its field empty.
type Flags struct {
	ClusterName  string
	RoleName     string
	RoleARN      string // setup --role-arn
	RolePath     string // setup --role-path
	PolicyName   string
	Bucket       string
	CloudStorage string
	DPA          string
	Prefix       string // setup --prefix, when given
	// From is another cluster's location (setup --from-cluster): this
	// cluster restores from its bucket and prefix, read-only.
	From *Location
}

// Location is another cluster's backup location, as read through its
// kubeconfig context.
type Location struct {
	Context   string
	ClusterID string
	Bucket    string
	Prefix    string
	Region    string
	// KMSKeyARN is the location's kmsKeyId: the role must use the key to
	// read what the first cluster wrote with it.
	KMSKeyARN string
}

// Names are what a command uses. A field Decide leaves empty has no flag and
// no record: the command derives it from the cluster name as it always has.
type Names struct {
	// ClusterName is the name the other defaults derive from: the flag's,
	// else the recorded one; empty means the cluster's own.
	ClusterName string
	RoleName    string
	RolePath    string
	// RoleARN is set when the role is known whole (recorded, found in the
	// cluster or given by --role-arn).
	RoleARN      string
	ExternalRole bool
	PolicyName   string
	Bucket       string
	// BucketAdopted: the record says setup found the bucket rather than
	// made it, so it is never deleted.
	BucketAdopted bool
	CloudStorage  string
	DPA           string
	// BucketFrom is the ID of the cluster whose location Bucket and Prefix
	// are (read-only here); "" when the bucket is this cluster's.
	BucketFrom string
	// Prefix is the location's prefix when the flag, the other cluster or
	// the record says it; "" leaves setup's default.
	Prefix string
	// From says where each name came from, by the names of Field*.
	From map[string]string

	namespace string
	recorded  map[string]bool
}

// Found describes the names that came from an earlier setup rather than a
// flag, and where from, in one line; "" when there are none.
func (n Names) Found() string {
	values := map[string]string{FieldClusterName: n.ClusterName, FieldRole: n.RoleName, FieldPolicy: n.PolicyName,
		FieldBucket: n.Bucket, FieldCloudStorage: n.CloudStorage, FieldDPA: n.DPA}
	var found, sources []string
	for _, f := range []string{FieldClusterName, FieldRole, FieldPolicy, FieldBucket, FieldCloudStorage, FieldDPA} {
		src := n.From[f]
		if src == "" || strings.HasPrefix(src, "--") {
			continue
		}
		found = append(found, f+" "+values[f])
		if n.recorded[f] {
			src = "the record on namespace " + n.namespace
		}
		if !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return strings.Join(found, ", ") + " (from " + strings.Join(sources, "; ") + ")"
}

// Field names, as Names.From and the conflict errors use them.
const (
	FieldClusterName  = "cluster name"
	FieldRole         = "role"
	FieldPolicy       = "policy"
	FieldBucket       = "bucket"
	FieldCloudStorage = "cloudstorage"
	FieldDPA          = "dpa"
	FieldPrefix       = "prefix"
)

// ConflictError is a flag that names another object than the record.
type ConflictError struct {
	Field     string
	Flag      string
	FlagValue string
	Recorded  string
	Source    string
	// what is the other side when it is not setup's record.
	what string
}

func (e *ConflictError) Error() string {
	if e.what != "" {
		return fmt.Sprintf("%s %s, but %s is %s (%s): drop %s, or give the same value",
			e.Flag, e.FlagValue, e.what, e.Recorded, e.Source, e.Flag)
	}
	return fmt.Sprintf("%s %s, but the %s setup made here is %s (%s): drop %s to use it, or run 'kubectl oadp-sts cleanup' first to start over",
		e.Flag, e.FlagValue, e.Field, e.Recorded, e.Source, e.Flag)
}

// candidate is one value of a name and where it came from; recorded when
// from the record itself rather than the cluster's other objects.
type candidate struct {
	value, source string
	recorded      bool
}

// Decide turns the flags and the evidence into names. For each name: a flag
// is used as given, but when the record (or, without a record, the cluster's
// own objects) names another object, that is an error naming both, so a
// command never acts on one object while setup's is another. Without a flag,
// the record's name is used; without a record, the evidence's, unless
// --cluster-name was given, whose derived defaults then win over a guess.
func Decide(fl Flags, ev Evidence) (Names, error) {
	n := Names{From: map[string]string{}, namespace: ev.Namespace, recorded: map[string]bool{}}
	rec := ev.Recorded
	fromRecord := func(value, key string) candidate { return recordedCandidate(ev, value, key) }
	pick := n.pick
	clusterGiven := fl.ClusterName != ""
	var err error
	if n.ClusterName, err = pick(FieldClusterName, "--cluster-name", fl.ClusterName,
		[]candidate{fromRecord(rec.ClusterName, AnnotationClusterName)}, false); err != nil {
		return Names{}, err
	}
	if err := n.decideRole(fl, ev, clusterGiven); err != nil {
		return Names{}, err
	}

	if n.PolicyName, err = pick(FieldPolicy, "--policy-name", fl.PolicyName,
		[]candidate{fromRecord(rec.PolicyName, AnnotationPolicyName)}, clusterGiven); err != nil {
		return Names{}, err
	}

	// The DPA, the CloudStorage its location names, that CloudStorage's bucket.
	dpaKnown := []candidate{fromRecord(rec.DPA, AnnotationDPA)}
	if rec.DPA == "" && len(ev.DPAs) == 1 {
		dpaKnown = append(dpaKnown, candidate{value: ev.DPAs[0].Name, source: "the namespace's one DataProtectionApplication of ours"})
	}
	if n.DPA, err = pick(FieldDPA, "--dpa-name", fl.DPA, dpaKnown, clusterGiven); err != nil {
		return Names{}, err
	}
	csKnown := []candidate{fromRecord(rec.CloudStorage, AnnotationCloudStorage)}
	if rec.CloudStorage == "" {
		for _, d := range ev.DPAs {
			if d.Name == n.DPA && len(d.CloudStorages) > 0 {
				csKnown = append(csKnown, candidate{value: d.CloudStorages[0], source: "the location of dataprotectionapplication/" + d.Name})
			}
		}
		if len(ev.CloudStorages) == 1 {
			csKnown = append(csKnown, candidate{value: ev.CloudStorages[0].Name, source: "the namespace's one CloudStorage of ours"})
		}
	}
	if n.CloudStorage, err = pick(FieldCloudStorage, "--cloudstorage-name", fl.CloudStorage, csKnown, clusterGiven); err != nil {
		return Names{}, err
	}
	bucketKnown := []candidate{fromRecord(rec.Bucket, AnnotationBucket)}
	if rec.Bucket == "" {
		for _, cs := range ev.CloudStorages {
			if cs.Name == n.CloudStorage {
				bucketKnown = append(bucketKnown, candidate{value: cs.Bucket, source: "spec.name of cloudstorage/" + cs.Name})
			}
		}
	}
	if fl.From != nil {
		return n, n.decideFrom(fl, ev)
	}
	if n.Bucket, err = pick(FieldBucket, "--bucket", fl.Bucket, bucketKnown, clusterGiven); err != nil {
		return Names{}, err
	}
	n.BucketAdopted = rec.BucketAdopted && n.Bucket == rec.Bucket
	if rec.BucketFrom != "" && n.Bucket == rec.Bucket {
		n.BucketFrom = rec.BucketFrom
		if n.Prefix, err = pick(FieldPrefix, "--prefix", fl.Prefix, []candidate{fromRecord(rec.Prefix, AnnotationPrefix)}, false); err != nil {
			return Names{}, err
		}
	} else {
		n.Prefix = fl.Prefix
	}
	return n, nil
}

// decideFrom takes the bucket and prefix of another cluster's location: a
// --bucket or --prefix naming another, or a record of this cluster naming
// another bucket (its own, or a third cluster's), is a conflict, so a
// cluster never ends up half on its own bucket and half on another's.
func (n *Names) decideFrom(fl Flags, ev Evidence) error {
	loc := *fl.From
	flag := "--from-cluster"
	source := fmt.Sprintf("the backup location of context %s", loc.Context)
	if fl.Bucket != "" && fl.Bucket != loc.Bucket {
		return &ConflictError{Field: FieldBucket, Flag: "--bucket", FlagValue: fl.Bucket, Recorded: loc.Bucket, Source: source,
			what: "the bucket --from-cluster " + loc.Context + " names"}
	}
	if fl.Prefix != "" && fl.Prefix != loc.Prefix {
		return &ConflictError{Field: FieldPrefix, Flag: "--prefix", FlagValue: fl.Prefix, Recorded: loc.Prefix, Source: source,
			what: "the prefix --from-cluster " + loc.Context + " names"}
	}
	rec := ev.Recorded
	switch {
	case rec.Bucket != "" && rec.Bucket != loc.Bucket:
		return &ConflictError{Field: FieldBucket, Flag: flag, FlagValue: loc.Context + " (bucket " + loc.Bucket + ")", Recorded: rec.Bucket,
			Source: fmt.Sprintf("annotation %s on namespace %s", AnnotationBucket, ev.Namespace)}
	case rec.BucketFrom != "" && rec.Prefix != loc.Prefix:
		return &ConflictError{Field: FieldPrefix, Flag: flag, FlagValue: loc.Context + " (prefix " + loc.Prefix + ")", Recorded: rec.Prefix,
			Source: fmt.Sprintf("annotation %s on namespace %s", AnnotationPrefix, ev.Namespace)}
	case rec.Bucket == loc.Bucket && rec.BucketFrom == "":
		// This cluster made or adopted the very bucket as its own.
		return &ConflictError{Field: FieldBucket, Flag: flag, FlagValue: loc.Context, Recorded: rec.Bucket + " as its own",
			Source: fmt.Sprintf("annotation %s on namespace %s", AnnotationBucket, ev.Namespace)}
	}
	n.Bucket, n.Prefix, n.BucketFrom = loc.Bucket, loc.Prefix, loc.ClusterID
	n.From[FieldBucket] = flag
	n.From[FieldPrefix] = flag
	return nil
}

// recordedCandidate is a name as setup's record on the namespace has it.
func recordedCandidate(ev Evidence, value, key string) candidate {
	return candidate{value: value, source: fmt.Sprintf("annotation %s on namespace %s", key, ev.Namespace), recorded: true}
}

// pick settles one name: the flag, checked against what is known, else the
// known value unless a given cluster name should derive it (derived).
func (n *Names) pick(field, flag, flagValue string, known []candidate, derived bool) (string, error) {
	var first *candidate
	for i := range known {
		if known[i].value != "" {
			first = &known[i]
			break
		}
	}
	switch {
	case flagValue != "" && first != nil && first.value != flagValue:
		return "", &ConflictError{Field: field, Flag: flag, FlagValue: flagValue, Recorded: first.value, Source: first.source}
	case flagValue != "":
		n.From[field] = flag
		return flagValue, nil
	case first != nil && (!derived || first.recorded):
		n.From[field] = first.source
		n.recorded[field] = first.recorded
		return first.value, nil
	}
	return "", nil
}

// decideRole settles the role: by name (and path), or whole by ARN.
func (n *Names) decideRole(fl Flags, ev Evidence, clusterGiven bool) error {
	rec := ev.Recorded
	var err error
	var roleKnown []candidate
	if rec.RoleARN != "" {
		roleKnown = append(roleKnown, recordedCandidate(ev, rec.RoleARN, AnnotationRoleARN))
	} else {
		roleKnown = append(roleKnown,
			candidate{value: ev.SubscriptionRoleARN, source: "ROLEARN of the Subscription in " + ev.Namespace},
			candidate{value: ev.SecretRoleARN, source: "role_arn of secret " + ev.Namespace + "/cloud-credentials"})
	}
	switch {
	case fl.RoleARN != "":
		if n.RoleARN, err = n.pick(FieldRole, "--role-arn", fl.RoleARN, roleKnown, clusterGiven); err != nil {
			return err
		}
		n.ExternalRole = true
	default:
		byName := make([]candidate, len(roleKnown))
		for i, c := range roleKnown {
			name, _ := RoleNameOf(c.value)
			byName[i] = candidate{value: name, source: c.source, recorded: c.recorded}
		}
		if n.RoleName, err = n.pick(FieldRole, "--role-name", fl.RoleName, byName, clusterGiven); err != nil {
			return err
		}
		// The role as known whole (its path too), even when the flag named it.
		for _, c := range roleKnown {
			if name, _ := RoleNameOf(c.value); c.value != "" && name == n.RoleName {
				n.RoleARN = c.value
				n.ExternalRole = c.value == rec.RoleARN && rec.ExternalRole
				break
			}
		}
	}
	if n.RoleARN != "" {
		name, path := RoleNameOf(n.RoleARN)
		n.RoleName = cmp.Or(n.RoleName, name)
		n.RolePath = path
		if fl.RolePath != "" && fl.RolePath != path && !n.ExternalRole {
			return &ConflictError{Field: "role path", Flag: "--role-path", FlagValue: fl.RolePath, Recorded: path, Source: n.From[FieldRole]}
		}
	}
	n.RolePath = cmp.Or(n.RolePath, fl.RolePath)
	return nil
}

// RoleNameOf splits an IAM role ARN into the role's name and path ("/" when
// it has none); "" when arn is not a role ARN.
func RoleNameOf(roleARN string) (name, path string) {
	a, err := arn.Parse(roleARN)
	if err != nil || !strings.HasPrefix(a.Resource, "role/") {
		return "", ""
	}
	rest := strings.TrimPrefix(a.Resource, "role")
	i := strings.LastIndex(rest, "/")
	return rest[i+1:], rest[:i+1]
}
