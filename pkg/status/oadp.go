package status

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Check names of the cluster side.
const (
	CheckSecret          = "credentials secret"
	CheckSubscription    = "subscription ROLEARN"
	CheckOperator        = "operator"
	CheckDPAReconciled   = "dpa reconciled"
	CheckDPARules        = "dpa rules"
	CheckLocation        = "storage location"
	CheckBucket          = "bucket"
	CheckSnapshots       = "volume snapshots"
	CheckRecentBackups   = "recent backups"
	CheckRecentRestores  = "recent restores"
	CheckAssumeRole      = "assume role"
	subscriptionEnvName  = "ROLEARN"
	credentialsRequestNS = "openshift-cloud-credential-operator"
	credentialsRequest   = "oadp-aws-credentials-request"
)

// subscriptionRoleARN is the ROLEARN the Subscription hands the operator.
func subscriptionRoleARN(sub *unstructured.Unstructured) string {
	if sub == nil {
		return ""
	}
	env, _, _ := unstructured.NestedSlice(sub.Object, "spec", "config", "env")
	for _, e := range env {
		if m, ok := e.(map[string]any); ok && kube.Str(m, "name") == subscriptionEnvName {
			return kube.Str(m, "value")
		}
	}
	return ""
}

func (c *chain) credentialChecks() {
	add := func(ch Check) { c.add(checkIn(AreaCredentials, ch)) }
	add(c.secretCheck())
	add(c.subscriptionCheck())
}

func (c *chain) secretCheck() Check {
	name := manifests.SecretName
	subARN := subscriptionRoleARN(c.Subscription)
	switch {
	case c.SecretErr != nil:
		return Check{Name: CheckSecret, Result: Warning, Message: "cannot read secret " + name, Cause: c.SecretErr.Error(),
			Fix: "ask a cluster-admin for get on secrets in " + c.Namespace}
	case c.Secret == nil && subARN != "":
		return Check{Name: CheckSecret, Result: Failed, Message: name + " missing",
			Cause: fmt.Sprintf("no secret %s in %s: with ROLEARN in the Subscription the Cloud Credential Operator writes it from CredentialsRequest %s/%s", name, c.Namespace, credentialsRequestNS, credentialsRequest),
			Fix:   fmt.Sprintf("check 'oc get credentialsrequest -n %s %s -o yaml' and the cloud-credential-operator's logs; or run '%s --credentials=secret'", credentialsRequestNS, credentialsRequest, c.setupFix())}
	case c.Secret == nil && c.setUp():
		return Check{Name: CheckSecret, Result: Failed, Message: name + " missing",
			Cause: fmt.Sprintf("no secret %s in %s, which the DataProtectionApplication and the CloudStorage read", name, c.Namespace),
			Fix:   "run '" + c.setupFix() + "' to write it"}
	case c.Secret == nil:
		return Check{Name: CheckSecret, Result: Skipped, Message: "no secret " + name + ": not set up yet, run '" + c.setupFix() + "'"}
	}
	data, ok := c.Secret.Data[manifests.SecretKey]
	if !ok {
		keys := make([]string, 0, len(c.Secret.Data))
		for k := range c.Secret.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return Check{Name: CheckSecret, Result: Failed, Message: "no key " + manifests.SecretKey,
			Cause: fmt.Sprintf("secret %s has no key %q (it has %s); the DPA's credential and the CloudStorage read that key, so Velero finds no credentials",
				name, manifests.SecretKey, printer.OrNone(strings.Join(keys, ", "))),
			Fix: fmt.Sprintf("rename the key to %q, or run '%s' to rewrite the secret", manifests.SecretKey, c.setupFix())}
	}
	profile := parseProfile(string(data), "default")
	want := c.expectedRoleARN()
	fix := "run '" + c.setupFix() + "' to rewrite the secret"
	if subARN != "" {
		fix = "the Cloud Credential Operator writes this secret from the Subscription's ROLEARN: correct ROLEARN, or run '" + c.setupFix() + " --credentials=secret'"
	}
	var failed, warned []string
	switch got := profile["role_arn"]; {
	case profile == nil:
		failed = append(failed, "it has no [default] profile")
	case got == "":
		failed = append(failed, "its profile has no role_arn")
	case want != "" && got != want:
		failed = append(failed, fmt.Sprintf("its role_arn is %s, but the role is %s", got, want))
	}
	if profile != nil {
		if tf := profile["web_identity_token_file"]; tf != manifests.WebIdentityToken {
			failed = append(failed, fmt.Sprintf("its web_identity_token_file is %q, but OADP mounts the token at %s", tf, manifests.WebIdentityToken))
		}
		switch region := profile["region"]; {
		case region == "" && subARN != "":
			// The Cloud Credential Operator's STS secret never has a region
			// (its fixed template); the DPA and the CloudStorage carry it.
		case region == "":
			warned = append(warned, fmt.Sprintf("it names no region (backups can end PartiallyFailed validating the location; add region = %s)", c.in.Cluster.Region))
		case c.in.Cluster.Region != "" && region != c.in.Cluster.Region:
			failed = append(failed, fmt.Sprintf("its region is %s, but the cluster is in %s", region, c.in.Cluster.Region))
		}
	}
	problems := append(failed, warned...)
	switch {
	case len(failed) > 0:
		return Check{Name: CheckSecret, Result: Failed, Message: name + "/" + manifests.SecretKey,
			Cause: "secret " + name + ": " + strings.Join(problems, "; "), Fix: fix}
	case len(warned) > 0:
		return Check{Name: CheckSecret, Result: Warning, Message: name + "/" + manifests.SecretKey,
			Cause: "secret " + name + ": " + strings.Join(problems, "; "), Fix: fix}
	}
	region := profile["region"]
	if region == "" {
		region = "none (written by the Cloud Credential Operator, which names none; the DPA and CloudStorage carry it)"
	}
	return Check{Name: CheckSecret, Result: OK, Message: fmt.Sprintf("%s/%s: role_arn %s, region %s", name, manifests.SecretKey, profile["role_arn"], region)}
}

func (c *chain) subscriptionCheck() Check {
	got := subscriptionRoleARN(c.Subscription)
	want := c.expectedRoleARN()
	switch {
	case c.SubscriptionErr != nil:
		return Check{Name: CheckSubscription, Result: Warning, Message: "cannot read subscriptions", Cause: c.SubscriptionErr.Error(),
			Fix: "ask a cluster-admin for list on subscriptions.operators.coreos.com in " + c.Namespace}
	case c.Subscription == nil:
		return Check{Name: CheckSubscription, Result: Skipped, Message: "no Subscription " + manifests.PackageName + " in " + c.Namespace + ": the secret carries the role"}
	case got == "":
		return Check{Name: CheckSubscription, Result: Skipped, Message: "subscription/" + c.Subscription.GetName() + " sets no ROLEARN: the secret carries the role"}
	case want != "" && got != want:
		return Check{Name: CheckSubscription, Result: Failed, Message: got,
			Cause: fmt.Sprintf("subscription/%s gives the operator ROLEARN %s, but the role is %s", c.Subscription.GetName(), got, want),
			Fix:   fmt.Sprintf("set ROLEARN to %s in the Subscription's spec.config.env (OLM restarts the operator and the Cloud Credential Operator rewrites the secret)", want)}
	}
	return Check{Name: CheckSubscription, Result: OK, Message: got}
}

// parseProfile reads one profile of an AWS shared config or credentials file;
// nil when the file has no such profile.
func parseProfile(file, name string) map[string]string {
	var out map[string]string
	in := false
	for _, line := range strings.Split(file, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[1:len(line)-1]), "profile "))
			in = section == name
			if in && out == nil {
				out = map[string]string{}
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && in {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func (c *chain) operatorChecks() {
	add := func(ch Check) { c.add(checkIn(AreaOperator, ch)) }
	add(c.operatorCheck())
	dpas := c.dpas()
	if len(dpas) == 0 {
		add(c.reconciledCheck(nil))
		add(c.rulesCheck(nil))
		return
	}
	for _, dpa := range dpas {
		add(c.named(c.reconciledCheck(dpa), dpa, len(dpas)))
		add(c.named(c.rulesCheck(dpa), dpa, len(dpas)))
	}
}

// named tells the checks of several DPAs apart.
func (c *chain) named(ch Check, dpa *unstructured.Unstructured, n int) Check {
	if n > 1 {
		ch.Name += " " + dpa.GetName()
	}
	return ch
}

func (c *chain) operatorCheck() Check {
	o := c.in.OADP
	switch {
	case o != nil && o.CSV != "":
		msg := fmt.Sprintf("OADP %s (%s, %s)", printer.OrNone(o.Version), o.CSV, printer.OrNone(o.CSVPhase))
		switch o.CSVPhase {
		case "Succeeded":
			return Check{Name: CheckOperator, Result: OK, Message: msg}
		case "Failed":
			return Check{Name: CheckOperator, Result: Failed, Message: msg,
				Cause: "OLM could not install or run the operator (ClusterServiceVersion " + o.CSV + " Failed)",
				Fix:   fmt.Sprintf("read status.message of 'oc get csv -n %s %s -o yaml' and the operator pod's events", c.Namespace, o.CSV)}
		}
		return Check{Name: CheckOperator, Result: Warning, Message: msg,
			Cause: "the operator is still being installed (ClusterServiceVersion phase " + printer.OrNone(o.CSVPhase) + ")",
			Fix:   "wait for phase Succeeded: 'oc get csv -n " + c.Namespace + " -w'; with installPlanApproval Manual, approve the InstallPlan"}
	case len(c.DPAs) > 0:
		return Check{Name: CheckOperator, Result: Warning, Message: "no ClusterServiceVersion in " + c.Namespace,
			Cause: "a DataProtectionApplication exists but no OADP ClusterServiceVersion in " + c.Namespace + ": the operator was installed without OLM, or not here, so its version is unknown",
			Fix:   "install OADP through OLM in " + c.Namespace + " ('" + c.setupFix() + " --install-operator=true')"}
	case o != nil && o.Installed:
		return Check{Name: CheckOperator, Result: Skipped, Message: "OADP's CRDs are installed, but no operator in " + c.Namespace + ": not set up yet, run '" + c.setupFix() + "'"}
	}
	return Check{Name: CheckOperator, Result: Skipped, Message: "OADP not installed: '" + c.setupFix() + "' installs it"}
}

// dpas are the namespace's DataProtectionApplications by name. The operator
// judges each with the others in view: 1.5 fails them all when there are
// two, 1.4 reconciles each (see dparules.Reconciles).
func (c *chain) dpas() []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(c.DPAs))
	for i := range c.DPAs {
		out[i] = &c.DPAs[i]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// namespace is what the operator sees when it reconciles dpa: the cluster's
// real other DPAs, secrets, CloudStorages and locations.
func (c *chain) namespace(dpa *unstructured.Unstructured) dparules.Namespace {
	ns := dparules.Namespace{DPA: dpa, Secrets: c.DPASecrets, CloudStorages: map[string]*unstructured.Unstructured{}}
	for _, o := range c.dpas() {
		if o.GetName() != dpa.GetName() {
			ns.Others = append(ns.Others, o)
		}
	}
	for i := range c.CloudStorages {
		ns.CloudStorages[c.CloudStorages[i].GetName()] = &c.CloudStorages[i]
	}
	for i := range c.BSLs {
		ns.BSLs = append(ns.BSLs, &c.BSLs[i])
	}
	return ns
}

// bucketRegions answers the operator's bucket-region look-up from the
// regions status read from S3 itself.
type bucketRegions []Bucket

func (b bucketRegions) BucketRegion(_ context.Context, name string) (string, error) {
	for _, x := range b {
		if x.Name == name && x.Exists && x.Region != "" {
			return x.Region, nil
		}
	}
	return "", fmt.Errorf("bucket %s: region unknown", name)
}

func (c *chain) verdict(dpa *unstructured.Unstructured) (dparules.Verdict, bool) {
	v := versions.Minor(c.oadpVersion())
	if v == "" || c.DPASecretsErr != nil {
		return dparules.Verdict{}, false
	}
	return dparules.Judge(context.Background(), c.namespace(dpa), v, bucketRegions(c.Buckets)), true
}

func (c *chain) reconciledCheck(dpa *unstructured.Unstructured) Check {
	switch {
	case c.DPAErr != nil:
		return Check{Name: CheckDPAReconciled, Result: Warning, Message: "cannot read DataProtectionApplications", Cause: c.DPAErr.Error(),
			Fix: "ask a cluster-admin for list on dataprotectionapplications.oadp.openshift.io in " + c.Namespace}
	case dpa == nil:
		return Check{Name: CheckDPAReconciled, Result: Skipped, Message: "no DataProtectionApplication in " + c.Namespace + ": not set up yet, run '" + c.setupFix() + "'"}
	}
	status, reason, msg, found := kube.Condition(dpa.Object, "Reconciled")
	name := "dataprotectionapplication/" + dpa.GetName()
	switch {
	case !found:
		return Check{Name: CheckDPAReconciled, Result: Warning, Message: name + ": no Reconciled condition",
			Cause: "the OADP operator has not reconciled it yet",
			Fix:   "check that the operator runs: 'oc get pods -n " + c.Namespace + "'"}
	case status == "True":
		return Check{Name: CheckDPAReconciled, Result: OK, Message: name + ": " + printer.OrNone(msg)}
	}
	fix := "correct what the operator names, or run '" + c.setupFix() + "' to rewrite the plugin's DPA for the installed OADP version"
	if v, ok := c.verdict(dpa); ok && v.First != nil && v.First.Fix != "" {
		fix = v.First.Fix
		if v.First.Path != "" {
			fix = v.First.Path + ": " + fix
		}
		fix += ", or run '" + c.setupFix() + "' to rewrite the plugin's DPA"
	}
	return Check{Name: CheckDPAReconciled, Result: Failed, Message: fmt.Sprintf("%s: Reconciled %s (%s)", name, status, printer.OrNone(reason)),
		Cause: "the OADP operator rejected it: " + printer.OrNone(msg), Fix: fix}
}

func (c *chain) oadpVersion() string {
	if c.in.OADP == nil {
		return ""
	}
	return c.in.OADP.Version
}

func (c *chain) rulesCheck(dpa *unstructured.Unstructured) Check {
	switch {
	case dpa == nil:
		return Check{Name: CheckDPARules, Result: Skipped, Message: "no DataProtectionApplication"}
	case versions.Minor(c.oadpVersion()) == "":
		return Check{Name: CheckDPARules, Result: Skipped, Message: "the operator's version is unknown (no ClusterServiceVersion)"}
	case c.DPASecretsErr != nil:
		return Check{Name: CheckDPARules, Result: Warning, Message: "cannot read the secrets the DPA names", Cause: c.DPASecretsErr.Error(),
			Fix: "ask a cluster-admin for get on secrets in " + c.Namespace}
	}
	v := versions.Minor(c.oadpVersion())
	verdict, _ := c.verdict(dpa)
	note := ""
	if _, known := dparules.Normalize(v); !known {
		note = fmt.Sprintf(" (the plugin knows the rules of OADP %s to %s; checked with %s's)", dparules.Versions[0], dparules.Versions[len(dparules.Versions)-1], verdict.Version)
	}
	name := "dataprotectionapplication/" + dpa.GetName()
	if f := verdict.First; f != nil {
		cause := f.Cause
		for _, l := range verdict.Later {
			cause += "; after that, rule " + l.Rule + ": " + l.Message
		}
		return Check{Name: CheckDPARules, Result: Failed, Message: fmt.Sprintf("%s: OADP %s would not reconcile it: %s", name, v, f.Message),
			Cause: "rule " + f.Rule + pathOf(f.Path) + ": " + cause + note, Fix: f.Fix}
	}
	if len(verdict.Warnings) > 0 || note != "" {
		var causes, sources []string
		for _, w := range verdict.Warnings {
			causes = append(causes, w.Path+": "+w.Message)
			sources = appendNew(sources, w.Source)
		}
		return Check{Name: CheckDPARules, Result: Warning, Message: fmt.Sprintf("%s follows OADP %s's rules%s", name, v, note),
			Cause: strings.Join(causes, "; "), Fix: strings.TrimPrefix(strings.Join(append([]string{""}, sources...), "; source: "), "; ")}
	}
	return Check{Name: CheckDPARules, Result: OK, Message: fmt.Sprintf("%s follows OADP %s's rules", name, v)}
}

func pathOf(p string) string {
	if p == "" {
		return ""
	}
	return " (" + p + ")"
}

func (c *chain) storageChecks() {
	add := func(ch Check) { c.add(checkIn(AreaStorage, ch)) }
	switch {
	case c.BSLErr != nil:
		add(Check{Name: CheckLocation, Result: Warning, Message: "cannot read BackupStorageLocations", Cause: c.BSLErr.Error(),
			Fix: "ask a cluster-admin for list on backupstoragelocations.velero.io in " + c.Namespace})
	case len(c.BSLs) == 0 && len(c.DPAs) > 0:
		add(Check{Name: CheckLocation, Result: Failed, Message: "no BackupStorageLocation",
			Cause: "the operator has not made the DPA's location yet (it does once the DPA reconciles)",
			Fix:   "see the dpa reconciled check; 'oc get backupstoragelocations -n " + c.Namespace + "'"})
	case len(c.BSLs) == 0:
		add(Check{Name: CheckLocation, Result: Skipped, Message: "no BackupStorageLocation: not set up yet, run '" + c.setupFix() + "'"})
	}
	bsls := slices.Clone(c.BSLs)
	sort.Slice(bsls, func(i, j int) bool { return bsls[i].GetName() < bsls[j].GetName() })
	for i := range bsls {
		add(c.locationCheck(&bsls[i]))
	}
	if len(c.DPAs) > 0 {
		add(c.snapshotCheck())
	}
	switch {
	case !c.awsKnown():
		add(Check{Name: CheckBucket, Result: Skipped, Message: "needs the AWS identity"})
		return
	case len(c.Buckets) == 0:
		add(Check{Name: CheckBucket, Result: Skipped, Message: "no bucket named by a CloudStorage or location: not set up yet, run '" + c.setupFix() + "'"})
	}
	for _, b := range c.Buckets {
		add(c.bucketCheck(b))
	}
	if ch, ok := c.hardeningCheck(); ok {
		add(ch)
	}
}

// snapshotCheck is setup's storage check for the DPA's snapshot mode: a
// mismatch is a warning, since backups of everything but those volumes work.
func (c *chain) snapshotCheck() Check {
	switch {
	case c.SnapshotMode == "":
		return Check{Name: CheckSnapshots, Result: Skipped, Message: "the DPA takes no volume snapshots"}
	case len(c.SnapshotWarnings) == 0 && c.SnapshotMode == manifests.SnapshotsCSI:
		return Check{Name: CheckSnapshots, Result: OK, Message: "csi: Velero has a VolumeSnapshotClass for every CSI driver in use"}
	case len(c.SnapshotWarnings) == 0:
		return Check{Name: CheckSnapshots, Result: OK, Message: "native: EBS snapshots cover the volumes in use"}
	}
	var causes, fixes []string
	msg := "cannot read the cluster's storage to check " + c.SnapshotMode + " snapshots"
	for _, w := range c.SnapshotWarnings {
		causes = append(causes, w.Cause)
		fixes = appendNew(fixes, w.Fix)
		if !w.Unread {
			msg = c.SnapshotMode + " snapshots do not fit the cluster's storage"
		}
	}
	return Check{Name: CheckSnapshots, Result: Warning, Message: msg, Cause: strings.Join(causes, "; "), Fix: strings.Join(fixes, "; ")}
}

func (c *chain) locationCheck(b *unstructured.Unstructured) Check {
	name := CheckLocation + " " + b.GetName()
	phase := kube.Str(b.Object, "status", "phase")
	msg := kube.Str(b.Object, "status", "message")
	validated := "never validated"
	if t, err := time.Parse(time.RFC3339, kube.Str(b.Object, "status", "lastValidationTime")); err == nil {
		validated = "validated " + ago(c.Now, t)
	}
	switch phase {
	case velero.PhaseAvailable:
		return Check{Name: name, Result: OK, Message: "Available, " + validated}
	case velero.PhaseUnavailable:
		return Check{Name: name, Result: Failed, Message: "Unavailable, " + validated,
			Cause: "Velero: " + printer.OrNone(msg) + " (likely: " + strings.Join(checks.LikelyCauses(msg), "; or ") + ")" + c.youngRole(msg),
			Fix:   "fix the failed checks above; if none failed, run 'kubectl oadp-sts status --assume-role' to test the trust end to end (Velero validates the location again within a minute)"}
	}
	return Check{Name: name, Result: Failed, Message: "not validated yet",
		Cause: "Velero has not validated the location (phase " + printer.OrNone(phase) + "): backups cannot use it until it is Available (Velero validates within a minute of starting)",
		Fix:   "check that Velero runs: 'oc get pods -n " + c.Namespace + " -l component=velero'"}
}

func (c *chain) bucketCheck(b Bucket) Check {
	name := CheckBucket + " " + b.Name
	from := strings.Join(b.From, ", ")
	region := c.in.Cluster.Region
	switch {
	case b.Err != nil:
		return Check{Name: name, Result: Warning, Message: "cannot read its location", Cause: b.Err.Error(),
			Fix: "grant the calling identity s3:GetBucketLocation, or use the bucket's account (--aws-profile)"}
	case !b.Exists:
		fix := "create it in " + region + ", or point " + from + " at a bucket that exists"
		for _, f := range b.From {
			if strings.HasPrefix(f, "cloudstorage/") {
				fix = fmt.Sprintf("the operator creates it from %s with the role's credentials and retries every minute; the DPA's Reconciled=True does not mean the bucket exists (the operator makes the location at once). Read the events of 'oc describe %s -n %s': BucketNotFound means STS authentication failed (the role's trust, the token), BucketNotCreated that S3 refused the create", f, f, c.Namespace)
			}
		}
		return Check{Name: name, Result: Failed, Message: "does not exist",
			Cause: fmt.Sprintf("bucket %s (used by %s) does not exist in this account, so Velero reports NoSuchBucket", b.Name, from), Fix: fix}
	case region != "" && b.Region != region:
		return Check{Name: name, Result: Failed, Message: "in " + b.Region,
			Cause: fmt.Sprintf("bucket %s is in %s and the cluster in %s; Velero on STS works in the cluster's region only (cross-region is unsupported)", b.Name, b.Region, region),
			Fix:   fmt.Sprintf("use a bucket in %s: '%s --bucket <new-name>'", region, c.setupFix())}
	}
	var wrong []string
	for _, loc := range manifests.SortedKeys(b.LocationRegions) {
		if r := b.LocationRegions[loc]; r != "" && r != b.Region {
			wrong = append(wrong, fmt.Sprintf("%s says region %s", loc, r))
		}
	}
	if len(wrong) > 0 {
		return Check{Name: name, Result: Failed, Message: "in " + b.Region,
			Cause: fmt.Sprintf("bucket %s is in %s, but %s", b.Name, b.Region, strings.Join(wrong, ", ")),
			Fix:   "set config.region to " + b.Region + " in the DPA's backup location ('" + c.setupFix() + "' does)"}
	}
	return Check{Name: name, Result: OK, Message: "in " + b.Region}
}

// Recent are the last backups and restores.
type Recent struct {
	Backups  []Operation `json:"backups"`
	Restores []Operation `json:"restores"`
}

// Operation is one Backup or Restore as status shows it.
type Operation struct {
	Name             string     `json:"name"`
	Phase            string     `json:"phase"`
	Errors           int64      `json:"errors"`
	Warnings         int64      `json:"warnings"`
	FailureReason    string     `json:"failureReason,omitempty"`
	ValidationErrors []string   `json:"validationErrors,omitempty"`
	Started          *time.Time `json:"started,omitempty"`
	Completed        *time.Time `json:"completed,omitempty"`
}

// RecentCount is how many backups and restores status shows.
const RecentCount = 5

func operations(items []unstructured.Unstructured) []Operation {
	items = slices.Clone(items)
	sort.SliceStable(items, func(i, j int) bool {
		ti, tj := items[i].GetCreationTimestamp(), items[j].GetCreationTimestamp()
		if !ti.Equal(&tj) {
			return tj.Before(&ti)
		}
		return items[i].GetName() > items[j].GetName()
	})
	if len(items) > RecentCount {
		items = items[:RecentCount]
	}
	out := make([]Operation, 0, len(items))
	for i := range items {
		s := velero.ReadStatus(&items[i])
		op := Operation{Name: items[i].GetName(), Phase: s.Phase, Errors: s.Errors, Warnings: s.Warnings,
			FailureReason: s.FailureReason, ValidationErrors: s.ValidationErrors}
		if !s.Started.IsZero() {
			op.Started = &s.Started
		}
		if !s.Finished.IsZero() {
			op.Completed = &s.Finished
		}
		out = append(out, op)
	}
	return out
}

func (c *chain) recentChecks() {
	add := func(ch Check) { c.add(checkIn(AreaRecent, ch)) }
	if c.VeleroErr != nil {
		for _, n := range []string{CheckRecentBackups, CheckRecentRestores} {
			add(Check{Name: n, Result: Warning, Message: "cannot read them", Cause: c.VeleroErr.Error(),
				Fix: "ask a cluster-admin for list on backups.velero.io and restores.velero.io in " + c.Namespace})
		}
		return
	}
	c.recent = &Recent{Backups: operations(c.Backups), Restores: operations(c.Restores)}
	add(c.recentCheck(CheckRecentBackups, "backup", c.recent.Backups))
	add(c.recentCheck(CheckRecentRestores, "restore", c.recent.Restores))
}

func (c *chain) recentCheck(name, kind string, ops []Operation) Check {
	if len(ops) == 0 {
		return Check{Name: name, Result: Skipped, Message: "no " + kind + "s in " + c.Namespace + " yet"}
	}
	bad := 0
	for _, o := range ops {
		if o.Phase != velero.PhaseCompleted && velero.Terminal(o.Phase) {
			bad++
		}
	}
	last := ops[0]
	msg := fmt.Sprintf("last: %s %s", last.Name, last.Phase)
	if last.Completed != nil {
		msg += " " + ago(c.Now, *last.Completed)
	}
	if bad > 0 {
		msg += fmt.Sprintf("; %d of the last %d did not complete", bad, len(ops))
	}
	if last.Phase == velero.PhaseCompleted || !velero.Terminal(last.Phase) {
		return Check{Name: name, Result: OK, Message: msg}
	}
	var why []string
	if last.FailureReason != "" {
		why = append(why, last.FailureReason)
	}
	why = append(why, last.ValidationErrors...)
	if last.Errors > 0 {
		why = append(why, fmt.Sprintf("%d errors, %d warnings", last.Errors, last.Warnings))
	}
	return Check{Name: name, Result: Warning, Message: msg,
		Cause: fmt.Sprintf("%s %s ended %s: %s", kind, last.Name, last.Phase, printer.OrNone(strings.Join(why, "; "))),
		Fix:   fmt.Sprintf("'kubectl oadp-sts describe %s %s' shows its errors; fix the failed checks above first", kind, last.Name)}
}

func (c *chain) assumeRoleCheck() {
	add := func(ch Check) { c.add(checkIn(AreaAssumeRole, ch)) }
	a := c.AssumeRole
	switch {
	case c.roleARN == "":
		add(Check{Name: CheckAssumeRole, Result: Skipped, Message: "needs the role"})
		return
	case a.TokenErr != nil:
		add(Check{Name: CheckAssumeRole, Result: Failed, Message: "no token for service account velero",
			Cause: a.TokenErr.Error(),
			Fix:   "the OADP operator creates the velero service account when it deploys Velero: see the dpa reconciled check"})
		return
	case a.Err != nil:
		causes := checks.LikelyCauses(a.Err.Error())
		add(Check{Name: CheckAssumeRole, Result: Failed, Message: "STS refused the velero token for " + a.RoleARN,
			Cause: a.Err.Error() + c.youngRole(a.Err.Error()),
			Fix:   "likely " + causes[0] + ": fix the failed checks above and run 'kubectl oadp-sts status --assume-role' again"})
		return
	}
	msg := fmt.Sprintf("velero's token (sub %s, aud %s) assumed %s", a.Subject, strings.Join(a.Audience, ","), printer.OrNone(a.AssumedARN))
	if c.trust != nil {
		provider := iam.OIDCProviderARN(c.in.AWS.Partition, c.in.AWS.AccountID, a.Issuer)
		if why := c.trust.admits(clusterfacts.IssuerHost(a.Issuer), a.Subject, a.Audience, provider); len(why) > 0 {
			// Real STS refuses such a token; an endpoint that does not check
			// (an emulator, a proxy) is no proof.
			add(Check{Name: CheckAssumeRole, Result: Warning, Message: msg,
				Cause: "STS answered, but the trust policy does not admit the token: " + strings.Join(why, "; "),
				Fix:   "see the trust checks above; AWS itself would refuse this token"})
			return
		}
	}
	add(Check{Name: CheckAssumeRole, Result: OK, Message: msg})
}

// ago says how long before now t was, coarsely.
func ago(now, t time.Time) string {
	if now.IsZero() {
		return t.UTC().Format(time.RFC3339)
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
