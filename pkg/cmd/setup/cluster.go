package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/acm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/checks"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/install"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/olm"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Values of --install-operator and --credentials.
const (
	Auto         = "auto"
	CredsSecret  = "secret"
	CredsOLM     = "subscription"
	installTrue  = "true"
	installFalse = "false"
)

// ClusterOptions are the flags of setup's cluster side.
type ClusterOptions struct {
	OADPVersion      string
	Bucket           string
	DPAName          string
	CloudStorageName string
	Prefix           string
	Snapshots        string
	SnapshotRegion   string
	BackupImages     bool
	FSBackup         bool
	CPURequest       string
	CPULimit         string
	MemoryRequest    string
	MemoryLimit      string
	NodeSelector     map[string]string

	InstallOperator string
	Package         string
	Channel         string
	CatalogSource   string
	CatalogNS       string
	Credentials     string
	RoleARN         string
	Approval        string
	DataMover       bool

	PrintFlags     *printer.ObjectFlags
	ForceConflicts bool
	Wait           bool
	Timeout        time.Duration

	printer printers.ResourcePrinter
	// changed says whether a flag was given: a default is not an answer
	// that wins over ACM's hint (acm.go).
	changed func(flag string) bool
	// subscriptionEnv is the operator's env from ACM's hint.
	subscriptionEnv map[string]string
}

func (c *ClusterOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.OADPVersion, "oadp-version", "", "OADP minor version to write the DPA for: 1.2 to 1.6 (default: the installed operator's, else the newest Red Hat supports on this OpenShift version)")
	fs.StringVar(&c.Bucket, "bucket", "", "S3 bucket setup makes, or adopts when this account owns it in the cluster's region (with --cloudstorage, the one the CloudStorage creates; default: <cluster-name>-oadp)")
	fs.StringVar(&c.CloudStorageName, "cloudstorage-name", "", "name of the CloudStorage (default: the bucket name)")
	fs.StringVar(&c.DPAName, "dpa-name", "", "name of the DataProtectionApplication (default: <cluster-name>-dpa)")
	fs.StringVar(&c.Prefix, "prefix", manifests.DefaultPrefix, "object prefix of the backups in the bucket")
	fs.StringVar(&c.Snapshots, "snapshots", manifests.SnapshotsCSI, "volume snapshots: csi (plugins openshift, aws, csi) or native (plugins openshift, aws, and an EBS snapshot location)")
	fs.StringVar(&c.SnapshotRegion, "snapshot-region", "", "region of the EBS snapshot location with --snapshots=native (must be the cluster's; default: the cluster's)")
	fs.BoolVar(&c.BackupImages, "backup-images", true, "back up internal registry images")
	fs.BoolVar(&c.FSBackup, "fs-backup", false, "run OADP's node agent with Kopia, for file-system backup of volumes no snapshot covers ('backup --default-volumes-to-fs-backup'; OADP 1.3+, Restic is not supported on STS)")
	fs.StringVar(&c.CPURequest, "velero-cpu-request", "", "CPU request of the Velero pod, e.g. 200m")
	fs.StringVar(&c.CPULimit, "velero-cpu-limit", "", "CPU limit of the Velero pod, e.g. 1")
	fs.StringVar(&c.MemoryRequest, "velero-memory-request", "", "memory request of the Velero pod, e.g. 256Mi")
	fs.StringVar(&c.MemoryLimit, "velero-memory-limit", "", "memory limit of the Velero pod, e.g. 1024Mi")
	fs.StringToStringVar(&c.NodeSelector, "velero-node-selector", nil, "node selector of the Velero pod, e.g. node-role.kubernetes.io/infra=")
	fs.Lookup("velero-node-selector").DefValue = "" // pflag would print an empty map as "(default [])"
	fs.StringVar(&c.InstallOperator, "install-operator", Auto, "install the OADP operator through OLM: auto (only when its CRDs are absent), true or false")
	fs.StringVar(&c.Package, "package", "", "OLM package of the operator (default: "+manifests.PackageName+", or the community "+manifests.CommunityPackageName+" on OKD)")
	fs.StringVar(&c.Channel, "channel", "", "OLM channel (default: stable-1.x for OADP up to 1.4, stable from 1.5)")
	fs.StringVar(&c.CatalogSource, "catalog-source", "", "catalog source of the operator, e.g. a mirrored catalog in restricted networks (default: "+manifests.DefaultCatalogSource+", or "+manifests.CommunityCatalogSource+" for the community package)")
	fs.StringVar(&c.CatalogNS, "catalog-source-namespace", manifests.DefaultCatalogNS, "namespace of the catalog source")
	fs.StringVar(&c.Credentials, "credentials", Auto, "who writes the cloud-credentials secret: auto, secret (the plugin) or subscription (ROLEARN in the Subscription; the Cloud Credential Operator writes it, OpenShift 4.14+)")
	fs.StringVar(&c.Approval, "approval", olm.Manual, "installPlanApproval of the Subscription setup makes: Manual (setup approves only the InstallPlan of the version it installs; upgrades wait for you, since a new version can need IAM actions the role lacks) or Automatic")
	fs.BoolVar(&c.DataMover, "data-mover", false, "turn on OADP's built-in Data Mover: the node agent with Kopia moves CSI snapshots' data to the bucket ('backup --snapshot-move-data'; OADP 1.3+, --snapshots=csi)")
	fs.StringVar(&c.RoleARN, "role-arn", "", "use this existing IAM role and skip the IAM steps (for roles made by hand, e.g. from --output-dir)")
	fs.BoolVar(&c.ForceConflicts, "force-conflicts", false, "take over fields of existing objects that another manager owns")
	fs.BoolVar(&c.Wait, "wait", true, "wait for the operator, the DPA's Reconciled condition and the storage location to be Available")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "how long each wait may take")
}

func (c *ClusterOptions) validate() error {
	var errs []string
	if p, err := c.PrintFlags.Printer(); err != nil {
		errs = append(errs, err.Error())
	} else {
		c.printer = p
	}
	switch c.InstallOperator {
	case Auto, installTrue, installFalse:
	default:
		errs = append(errs, fmt.Sprintf("--install-operator must be auto, true or false, not %q", c.InstallOperator))
	}
	switch c.Credentials {
	case Auto, CredsSecret, CredsOLM:
	default:
		errs = append(errs, fmt.Sprintf("--credentials must be auto, secret or subscription, not %q", c.Credentials))
	}
	if c.Credentials == CredsOLM && c.InstallOperator == installFalse {
		errs = append(errs, "--credentials=subscription needs the plugin to install the operator (the ROLEARN is read when it starts): drop --install-operator=false")
	}
	// The same checks as manifests.ValidateOptions, here for what the flags
	// alone decide, so they are refused before anything is read.
	if c.DataMover && c.Snapshots == manifests.SnapshotsNative {
		errs = append(errs, "--data-mover moves the data of CSI snapshots: use it with --snapshots=csi, not --snapshots=native")
	}
	if c.DataMover && c.OADPVersion != "" && versions.CompareMinor(c.OADPVersion, "1.3") < 0 {
		errs = append(errs, "--data-mover needs OADP 1.3 or later: OADP 1.2's Data Mover (VolSync, features.dataMover) was a Technology Preview that later versions cannot restore from")
	}
	if a, ok := olm.NormalizeApproval(c.Approval); ok {
		c.Approval = a
	} else {
		errs = append(errs, fmt.Sprintf("--approval must be Manual or Automatic, not %q", c.Approval))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Sprintf("--timeout must be positive, not %s", c.Timeout))
	}
	if name, _ := record.RoleNameOf(c.RoleARN); c.RoleARN != "" && name == "" {
		errs = append(errs, fmt.Sprintf("--role-arn %q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", c.RoleARN))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// clusterState is what setup reads of the cluster before deciding.
type clusterState struct {
	oadp     *clusterfacts.OADP
	credsAPI bool // cloudcredential.openshift.io credentialsrequests served
	// evidence is what an earlier setup left: its record, or its objects.
	evidence record.Evidence
	// hint is ACM's ConfigMap in its backup namespace (nil when absent);
	// hintRead is whether it was looked for.
	hint     *acm.Hint
	hintRead bool
}

// needsClusterRead says whether the cluster side must read the cluster: an
// offline client dry run with every choice given reads nothing.
func (o *Options) needsClusterRead() bool {
	c := o.Cluster
	return o.DryRun != DryRunClient || c.OADPVersion == "" || c.InstallOperator == Auto || c.Credentials == Auto || o.facts.ClusterRead
}

// readCluster learns the installed operator and whether the CCO flow is possible.
func (o *Options) readCluster(ctx context.Context) (*clusterState, error) {
	st := &clusterState{oadp: &clusterfacts.OADP{}}
	if !o.needsClusterRead() {
		return st, nil
	}
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return nil, err
	}
	var (
		wg                       sync.WaitGroup
		oadpErr, credErr, recErr error
		hintErr                  error
	)
	wg.Go(func() { st.evidence, recErr = record.Read(ctx, dyn, o.factory.Namespace()) })
	if o.factory.Namespace() == acm.BackupNamespace {
		wg.Go(func() { st.hint, st.hintRead, hintErr = readHint(ctx, dyn) })
	}
	wg.Go(func() { st.oadp, oadpErr = clusterfacts.DiscoverOADP(ctx, dyn, o.factory.Namespace()) })
	wg.Go(func() {
		_, err := dyn.Resource(gvr.CredentialsReq).Namespace("openshift-cloud-credential-operator").List(ctx, metav1.ListOptions{Limit: 1})
		switch {
		case err == nil:
			st.credsAPI = true
		case kube.IsTypeMissing(err):
		default:
			credErr = kube.Explain(err, gvr.CredentialsReq, "")
		}
	})
	wg.Wait()
	return st, errors.Join(oadpErr, credErr, recErr, hintErr)
}

// manifestOptions decides every cluster-side choice from the facts, the flags
// and what is installed.
func (o *Options) manifestOptions(st *clusterState) (manifests.Options, error) {
	c, f := o.Cluster, o.facts
	hintVersion, err := o.fromACM(&c, st)
	if err != nil {
		return manifests.Options{}, err
	}
	installed := ""
	if st.oadp.Version != "" {
		installed = versions.Minor(st.oadp.Version)
	}
	version := c.OADPVersion
	switch {
	case version == "" && hintVersion != "":
		version = hintVersion
		fmt.Fprintf(o.ErrOut, "oadp version %s: the version of channel %s in configmap %s\n", version, c.Channel, st.hint.Where)
	case version == "" && installed != "":
		version = installed
		fmt.Fprintf(o.ErrOut, "oadp version %s: the installed operator's (%s)\n", version, st.oadp.Version)
	case version == "":
		version = manifests.DefaultOADPVersion(f.Cluster.Version)
		fmt.Fprintf(o.ErrOut, "oadp version %s: the newest Red Hat supports on OpenShift %s (--oadp-version to choose)\n", version, printer.OrNone(f.Cluster.Version))
	case installed != "" && version != installed:
		return manifests.Options{}, fmt.Errorf("--oadp-version %s, but OADP %s is installed (%s): drop --oadp-version or pass %s", version, st.oadp.Version, st.oadp.CSV, installed)
	}
	installOp := c.InstallOperator == installTrue || (c.InstallOperator == Auto && !st.oadp.Installed)
	creds := c.Credentials
	// Without a CloudCredential no Cloud Credential Operator runs in the
	// cluster (a hosted control plane before 4.15): nothing would answer
	// ROLEARN's CredentialsRequest, so the plugin writes the secret.
	noCCO := f.ClusterRead && f.Cluster.NoCloudCredential
	if creds == Auto {
		creds = CredsSecret
		if installOp && st.credsAPI && !noCCO && versions.Compare(f.Cluster.Version, "4.14") >= 0 {
			creds = CredsOLM
		}
	}
	if creds == CredsOLM && noCCO {
		return manifests.Options{}, errors.New("--credentials=subscription needs the Cloud Credential Operator, and this cluster has no CloudCredential object (no operator runs in it to write the secret from ROLEARN): use --credentials=secret")
	}
	pkg := c.Package
	if pkg == "" {
		pkg = manifests.PackageName
		if f.ClusterRead && f.Cluster.OKD {
			pkg = manifests.CommunityPackageName
		}
	}
	if creds == CredsOLM && !installOp {
		return manifests.Options{}, fmt.Errorf("--credentials=subscription needs the operator to be installed by setup, and OADP is already installed: use --credentials=secret")
	}
	mo := manifests.Options{
		Namespace: o.factory.Namespace(), ClusterName: f.Cluster.Name, ClusterID: f.Cluster.ID, Region: f.Cluster.Region,
		RoleARN: o.RoleARN, OADPVersion: version,
		Bucket: c.Bucket, BucketLocation: !o.Store.cloudStorage, KMSKeyARN: o.Store.KMSKeyARN, CloudStorageName: c.CloudStorageName, DPAName: c.DPAName, Prefix: c.Prefix,
		Snapshots: c.Snapshots, SnapshotRegion: c.SnapshotRegion, BackupImages: c.BackupImages, FSBackup: c.FSBackup,
		VeleroRequests: quantities(c.CPURequest, c.MemoryRequest), VeleroLimits: quantities(c.CPULimit, c.MemoryLimit),
		VeleroNodeSelector: c.NodeSelector,
		InstallOperator:    installOp, Package: pkg, Channel: c.Channel, CatalogSource: c.CatalogSource, CatalogSourceNamespace: c.CatalogNS,
		SubscriptionRoleARN: creds == CredsOLM, SubscriptionEnv: c.subscriptionEnv, WriteSecret: creds == CredsSecret, Approval: c.Approval,
		DataMover: c.DataMover,
		// The bucket carries the ownership tags cleanup checks before deleting it.
		Tags: iam.OwnershipTags(f.Cluster.ID),
	}
	if mo.ClusterName == "" && (c.Bucket == "" || c.DPAName == "") {
		return mo, errors.New("no cluster name for the bucket and DPA names: set --cluster-name, or --bucket and --dpa-name")
	}
	mo = mo.WithDefaults()
	if err := o.checkBackupImages(&mo, o.Store.backupImagesAsked); err != nil {
		return mo, err
	}
	rec := record.Record{ClusterName: f.Cluster.Name, RoleARN: o.RoleARN, ExternalRole: c.RoleARN != "",
		Bucket: mo.Bucket, CloudStorage: mo.CloudStorageName, DPA: mo.DPAName, BucketFrom: o.Store.from, Prefix: mo.Prefix}
	mo.ReadOnly = o.Store.from != ""
	if !rec.ExternalRole {
		rec.PolicyName = o.PolicyName
	}
	mo.NamespaceAnnotations = rec.Annotations()
	return mo, manifests.ValidateOptions(mo, f.Cluster.Region)
}

func quantities(cpu, mem string) map[string]string {
	m := map[string]string{}
	if cpu != "" {
		m["cpu"] = cpu
	}
	if mem != "" {
		m["memory"] = mem
	}
	return m
}

// runCluster applies (or prints) the cluster objects, then waits.
func (o *Options) runCluster(ctx context.Context, mo manifests.Options) error {
	objs := manifests.Build(mo)
	log := o.ErrOut
	if o.DryRun == DryRunClient {
		if o.Cluster.printer != nil {
			return printObjects(o.Out, o.Cluster.printer, o.Cluster.PrintFlags.Stream(), objs)
		}
		for _, obj := range objs {
			fmt.Fprintf(log, "would apply %s/%s\n", strings.ToLower(obj.GetKind()), obj.GetName())
		}
		fmt.Fprintln(log, "dry run: cluster not changed (add -o yaml to print the objects)")
		return nil
	}
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return err
	}
	in := &install.Installer{Client: dyn, Out: log, Live: printer.IsTerminal(log),
		DryRun: o.DryRun == DryRunServer, Force: o.Cluster.ForceConflicts, Timeout: o.Cluster.Timeout, TrustChanged: o.trustChanged}
	if mo.InstallOperator && mo.Approval == olm.Manual {
		in.Approval = &olm.Target{Namespace: mo.Namespace, Subscription: mo.Package, CSV: mo.StartingCSV, Minor: mo.OADPVersion}
	}
	results, err := in.Apply(ctx, objs, mo.InstallOperator)
	if err != nil {
		return err
	}
	if o.Cluster.printer != nil {
		applied := make([]*unstructured.Unstructured, len(results))
		for i, r := range results {
			applied[i] = r.Object
		}
		if err := printObjects(o.Out, o.Cluster.printer, o.Cluster.PrintFlags.Stream(), applied); err != nil {
			return err
		}
	}
	if o.DryRun == DryRunServer {
		fmt.Fprintln(log, "server dry run: the API server accepted every object; nothing was stored")
		return nil
	}
	if !o.Cluster.Wait {
		fmt.Fprintf(log, "not waiting (--wait=false); follow with 'kubectl oadp-sts status'\n")
		return nil
	}
	if mo.InstallOperator {
		csv, err := in.WaitOperator(ctx, mo.Namespace, mo.Package)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "operator %s installed\n", csv)
	}
	if err := in.WaitDPA(ctx, mo.Namespace, mo.DPAName); err != nil {
		return err
	}
	fmt.Fprintf(log, "dataprotectionapplication/%s reconciled\n", mo.DPAName)
	bsl := manifests.BSLName(mo.DPAName)
	if err := in.WaitBSL(ctx, mo.Namespace, bsl); err != nil {
		return err
	}
	fmt.Fprintf(log, "backupstoragelocation/%s Available\n\nOADP is ready. Back up a namespace with:\n  kubectl oadp-sts backup <namespace>\n", bsl)
	return nil
}

// startingCSV names the CSV of the chosen version the Subscription starts
// at, from the catalog's PackageManifest. Without the package server's API
// (or the package) the Subscription names none, and setup approves only an
// InstallPlan of the chosen minor version.
func (o *Options) startingCSV(ctx context.Context, dyn dynamic.Interface, mo *manifests.Options) error {
	if !mo.InstallOperator {
		return nil
	}
	csv, found, err := olm.ReadStartingCSV(ctx, dyn, mo.CatalogSourceNamespace, mo.Package, mo.Channel, mo.OADPVersion)
	switch {
	case err != nil:
		return err
	case !found:
		fmt.Fprintf(o.ErrOut, "no PackageManifest %s in %s: the Subscription names no startingCSV", mo.Package, mo.CatalogSourceNamespace)
		if mo.Approval == olm.Manual {
			fmt.Fprintf(o.ErrOut, "; setup approves only an InstallPlan of OADP %s", mo.OADPVersion)
		}
		fmt.Fprintln(o.ErrOut)
	default:
		mo.StartingCSV = csv
		fmt.Fprintf(o.ErrOut, "starting CSV %s (%s approval)\n", csv, mo.Approval)
	}
	return nil
}

// storageCheck prints the chapter's storage warnings; they never stop setup.
func (o *Options) storageCheck(ctx context.Context, mo manifests.Options) {
	dyn, err := o.factory.Dynamic()
	if err != nil {
		return
	}
	plan := checks.SnapshotPlan{Mode: mo.Snapshots, FSBackup: mo.FSBackup, NoFSBackup: mo.OADPVersion == "1.2"}
	for _, w := range checks.StorageWarnings(ctx, dyn, plan) {
		fmt.Fprintln(o.ErrOut, "warning: "+w.String())
	}
}

// printObjects writes objs through -o's printer: yaml and name one object
// after another (a multi-document stream 'oc apply -f -' takes), every
// other format one v1 List.
func printObjects(w io.Writer, p printers.ResourcePrinter, stream bool, objs []*unstructured.Unstructured) error {
	cleaned := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		cleaned[i] = clean(o)
	}
	if stream {
		for _, o := range cleaned {
			if err := p.PrintObj(o, w); err != nil {
				return err
			}
		}
		return nil
	}
	return p.PrintObj(printer.List(cleaned), w)
}

// clean drops server-populated metadata so printed objects apply anywhere.
func clean(o *unstructured.Unstructured) *unstructured.Unstructured {
	c := o.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	delete(c.Object, "status")
	return c
}
