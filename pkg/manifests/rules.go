package manifests

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// SupportedOADPVersions are the operator minor versions the plugin knows the
// rules of. 1.6's DPA is shaped as 1.5's (its release notes add only what the
// plugin never writes, such as uploaderType restic being refused).
var SupportedOADPVersions = []string{"1.2", "1.3", "1.4", "1.5", "1.6"}

// SetupNamespace is what the operator sees once setup has written its
// objects: the DPA, the credentials secret (setup's, or the Cloud Credential
// Operator's with the same web-identity profile) and the CloudStorage, alone
// in the namespace.
func SetupNamespace(o Options) dparules.Namespace {
	o = o.WithDefaults()
	ns := dparules.Namespace{
		DPA:           DPA(o),
		Secrets:       map[string]map[string][]byte{SecretName: {SecretKey: []byte(CredentialsFile(o.RoleARN, o.Region))}},
		CloudStorages: map[string]*unstructured.Unstructured{},
	}
	if !o.BucketLocation {
		cs := CloudStorage(o)
		ns.CloudStorages[cs.GetName()] = cs
	}
	return ns
}

// JudgeSetup is the operator's verdict on the objects setup would write.
func JudgeSetup(o Options) dparules.Verdict {
	return dparules.Judge(context.Background(), SetupNamespace(o), o.OADPVersion, nil)
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidateBucketName applies S3's general-purpose bucket naming rules.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket name %q is not valid for S3: %s; choose another with --bucket", name, why)
	}
	switch {
	case len(name) < 3 || len(name) > 63:
		return bad("it must be 3 to 63 characters long")
	case !bucketName.MatchString(name):
		return bad("use only lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit")
	case strings.Contains(name, ".."):
		return bad("it must not contain two adjacent dots")
	case net.ParseIP(name) != nil:
		return bad("it must not look like an IP address")
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-"):
		return bad("that prefix is reserved")
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3"):
		return bad("that suffix is reserved")
	}
	return nil
}

// ValidateOptions checks the options before anything is built or sent.
// clusterRegion is the cluster's region, "" when unknown.
func ValidateOptions(o Options, clusterRegion string) error {
	o = o.WithDefaults()
	var errs []string
	if !slices.Contains(SupportedOADPVersions, o.OADPVersion) {
		errs = append(errs, fmt.Sprintf("unknown OADP version %q: use --oadp-version with one of %s", o.OADPVersion, strings.Join(SupportedOADPVersions, ", ")))
	}
	if o.Snapshots != SnapshotsCSI && o.Snapshots != SnapshotsNative {
		errs = append(errs, fmt.Sprintf("unknown snapshot mode %q: use --snapshots=csi or --snapshots=native", o.Snapshots))
	}
	if o.Snapshots == SnapshotsNative && clusterRegion != "" && o.SnapshotRegion != clusterRegion {
		errs = append(errs, fmt.Sprintf("--snapshot-region %q differs from the cluster's region %q: EBS snapshots live in the volumes' region, and cross-region restore is not supported on STS", o.SnapshotRegion, clusterRegion))
	}
	if o.FSBackup && o.OADPVersion == "1.2" {
		errs = append(errs, "--fs-backup needs OADP 1.3 or later: OADP 1.2 backs up file systems only with Restic, which is not supported on AWS STS")
	}
	if o.DataMover && versions.CompareMinor(o.OADPVersion, "1.3") < 0 {
		errs = append(errs, "--data-mover needs OADP 1.3 or later: OADP 1.2's Data Mover (VolSync, features.dataMover) was a Technology Preview that later versions cannot restore from")
	}
	if o.DataMover && o.Snapshots != SnapshotsCSI {
		errs = append(errs, "--data-mover moves the data of CSI snapshots: use it with --snapshots=csi, not --snapshots="+o.Snapshots)
	}
	if o.Region == "" {
		errs = append(errs, "no AWS region: the cluster reports none; pass --region")
	}
	if err := ValidateBucketName(o.Bucket); err != nil {
		errs = append(errs, err.Error())
	}
	names := map[string]string{"--dpa-name": o.DPAName, "-n": o.Namespace}
	if !o.BucketLocation {
		names["--cloudstorage-name"] = o.CloudStorageName
	}
	for flag, name := range names {
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("%s %q is not a valid name: %s", flag, name, strings.Join(msgs, "; ")))
		}
	}
	for _, res := range []map[string]string{o.VeleroRequests, o.VeleroLimits} {
		for k, v := range res {
			if _, err := resource.ParseQuantity(v); err != nil {
				errs = append(errs, fmt.Sprintf("velero %s %q is not a quantity (examples: 500m, 1, 256Mi)", k, v))
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	if err := JudgeSetup(o).Err(); err != nil {
		return fmt.Errorf("the DataProtectionApplication setup would write is one the operator rejects; this is a bug in the plugin, please report it: %w", err)
	}
	return nil
}
