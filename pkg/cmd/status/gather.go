package status

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/dparules"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/install"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// Gather reads the cluster, AWS and the OADP namespace, and builds the report.
// Every read starts as soon as what it needs is known: the cluster and the
// namespace's objects at once, the AWS caller once the cluster's platform and
// region are known, IAM once the caller is, the buckets once the locations are. An unreadable cluster is an error;
// unreadable AWS becomes a failed check so the cluster facts still print.
func Gather(ctx context.Context, f *cmdutil.Factory, o GatherOptions) (*status.Report, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	ns := f.Namespace()
	ch := &status.Chain{Namespace: ns, SetupCommand: setupCommand(ns, o), Now: time.Now()}
	g := &gatherer{f: f, dyn: dyn, ns: ns, opts: o, chain: ch}

	// Each wait group is complete before anyone waits on it.
	g.recordWG.Go(func() {
		g.names, g.recErr = record.Resolve(ctx, dyn, ns, record.Flags{ClusterName: o.ClusterName, RoleName: o.RoleName, PolicyName: o.PolicyName})
	})
	g.namespaceReads(ctx)
	g.clusterWG.Go(func() { g.cluster, g.clErr = clusterfacts.Discover(ctx, dyn, o.ClusterName) })
	var all sync.WaitGroup
	all.Go(func() { g.oadp, g.oadpErr = clusterfacts.DiscoverOADP(ctx, dyn, ns) })
	all.Go(func() { g.awsChain(ctx) })
	all.Wait()
	g.clusterWG.Wait()
	g.nsWG.Wait()
	g.recordWG.Wait()

	if g.recErr != nil {
		return nil, g.recErr
	}
	if g.clErr != nil {
		return nil, g.clErr
	}
	if g.oadpErr != nil {
		return nil, g.oadpErr
	}
	if ch.RoleName == "" {
		g.useNames()
	}
	return status.Build(status.Inputs{Cluster: g.cluster, OADP: g.oadp, AWS: g.aws, AWSErr: g.awsErr, Chain: ch}), nil
}

type gatherer struct {
	f     *cmdutil.Factory
	dyn   dynamic.Interface
	ns    string
	opts  GatherOptions
	chain *status.Chain

	// recordWG covers the names an earlier setup recorded.
	recordWG  sync.WaitGroup
	names     record.Names
	recErr    error
	clusterWG sync.WaitGroup
	cluster   *clusterfacts.Facts
	clErr     error
	oadp      *clusterfacts.OADP
	oadpErr   error
	aws       *awsfacts.Facts
	awsErr    error

	// nsWG covers the namespace's objects; tokenWG the velero token.
	nsWG    sync.WaitGroup
	tokenWG sync.WaitGroup
	token   string
}

// namespaceReads starts every read of the OADP namespace.
func (g *gatherer) namespaceReads(ctx context.Context) {
	c := g.chain
	g.nsWG.Go(func() {
		kc, err := g.f.Kube()
		if err != nil {
			c.SecretErr = err
			return
		}
		s, err := kc.CoreV1().Secrets(g.ns).Get(ctx, manifests.SecretName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			c.SecretErr = kube.Explain(err, gvr.Secret, manifests.SecretName)
		default:
			c.Secret = s
		}
	})
	g.nsWG.Go(func() {
		subs, err := g.list(ctx, gvr.Subscription)
		c.SubscriptionErr = err
		for i := range subs {
			if name := kube.Str(subs[i].Object, "spec", "name"); name == manifests.PackageName || name == "oadp-operator" {
				c.Subscription = &subs[i]
				break
			}
		}
	})
	// The storage is read only once a DPA says what to check it against:
	// before setup there is none, and the AWS reads take longer anyway.
	g.nsWG.Go(func() {
		c.DPAs, c.DPAErr = g.list(ctx, gvr.DPA)
		g.dpaSecrets(ctx)
		g.snapshotFit(ctx)
	})
	g.nsWG.Go(func() { c.BSLs, c.BSLErr = g.list(ctx, gvr.BSL) })
	// A CloudStorage that cannot be read only hides a bucket name the
	// locations usually repeat.
	g.nsWG.Go(func() { c.CloudStorages, _ = g.list(ctx, gvr.CloudStorage) })
	var backupErr, restoreErr error
	var veleroWG sync.WaitGroup
	veleroWG.Go(func() { c.Backups, backupErr = g.list(ctx, gvr.Backup) })
	veleroWG.Go(func() { c.Restores, restoreErr = g.list(ctx, gvr.Restore) })
	g.nsWG.Go(func() {
		veleroWG.Wait()
		c.VeleroErr = errors.Join(backupErr, restoreErr)
	})
	if g.opts.AssumeRole {
		c.AssumeRole = &status.AssumeRole{}
		g.tokenWG.Go(func() { g.requestToken(ctx) })
	}
}

// dpaSecrets reads the secrets the DPAs name, so the rule engine judges
// them on the cluster's real state.
func (g *gatherer) dpaSecrets(ctx context.Context) {
	c := g.chain
	var names []string
	for i := range c.DPAs {
		for _, n := range dparules.SecretNames(&c.DPAs[i]) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	kc, err := g.f.Kube()
	if err != nil {
		c.DPASecretsErr = err
		return
	}
	c.DPASecrets = map[string]map[string][]byte{}
	for _, n := range names {
		s, err := kc.CoreV1().Secrets(g.ns).Get(ctx, n, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			c.DPASecretsErr = kube.Explain(err, gvr.Secret, n)
			return
		default:
			c.DPASecrets[n] = s.Data
		}
	}
}

// snapshotFit is setup's storage check for the snapshot mode of the
// namespace's DPA; with several, of the first by name (they share one
// Velero).
func (g *gatherer) snapshotFit(ctx context.Context) {
	c := g.chain
	if len(c.DPAs) == 0 {
		return
	}
	dpa := &slices.SortedFunc(slices.Values(c.DPAs), func(a, b unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })[0]
	plan := install.PlanFor(dpa)
	c.SnapshotMode = plan.Mode
	if c.SnapshotMode != "" {
		c.SnapshotWarnings = plan.Warnings((&install.Installer{Client: g.dyn}).ReadStorage(ctx))
	}
}

// list lists a resource in the namespace; an API the cluster does not serve
// is an empty list.
func (g *gatherer) list(ctx context.Context, r schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	l, err := g.dyn.Resource(r).Namespace(g.ns).List(ctx, metav1.ListOptions{})
	switch {
	case kube.IsTypeMissing(err):
		return nil, nil
	case err != nil:
		return nil, kube.Explain(err, r, "")
	}
	return l.Items, nil
}

// requestToken asks for a token of Velero's service account, as the API
// server projects it into Velero's pod.
func (g *gatherer) requestToken(ctx context.Context) {
	a := g.chain.AssumeRole
	kc, err := g.f.Kube()
	if err != nil {
		a.TokenErr = err
		return
	}
	expiry := int64(600) // the API server's minimum
	tr, err := kc.CoreV1().ServiceAccounts(g.ns).CreateToken(ctx, iam.VeleroServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{awsfacts.OpenShiftAudience}, ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		a.TokenErr = fmt.Errorf("no service account %s in %s", iam.VeleroServiceAccount, g.ns)
		return
	case err != nil:
		a.TokenErr = kube.Explain(err, schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts/token"}, iam.VeleroServiceAccount)
		return
	}
	g.token = tr.Status.Token
	a.Issuer, a.Subject, a.Audience = claims(g.token)
}

// claims reads a JWT's iss, sub and aud without verifying it: STS verifies.
func claims(token string) (iss, sub string, aud []string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", nil
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(b, &c) != nil {
		return "", "", nil
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		aud = []string{one}
	} else {
		_ = json.Unmarshal(c.Aud, &aud)
	}
	return c.Iss, c.Sub, aud
}

// awsChain waits for the cluster, then reads the caller, and then the OIDC
// provider, the role, its policies and the buckets, all at once. The cluster
// comes first because it decides the AWS side: its region is the AWS client's
// when the user's configuration names none, and a cluster of another platform
// gets no AWS look-up at all.
func (g *gatherer) awsChain(ctx context.Context) {
	g.clusterWG.Wait()
	if g.clErr != nil || g.cluster.Platform != "AWS" {
		return
	}
	g.f.SetClusterRegion(g.cluster.Region)
	cfg, err := g.f.AWSConfig(ctx)
	if err != nil {
		g.awsErr = err
		return
	}
	clients := awsclient.New(cfg)
	id, err := awsfacts.WhoAmI(ctx, clients.STS)
	if err != nil {
		g.awsErr = err
		return
	}
	g.aws = &awsfacts.Facts{Identity: id}
	g.recordWG.Wait()
	if g.recErr != nil {
		return
	}
	c := g.chain
	g.useNames()
	var wg sync.WaitGroup
	if g.cluster.OIDCIssuer != "" {
		wg.Go(func() {
			af, err := awsfacts.DiscoverProvider(ctx, clients.IAM, id, g.cluster.OIDCIssuer)
			if err != nil {
				g.aws, g.awsErr = nil, err
				return
			}
			g.aws = af
		})
	}
	if c.RoleName == "" {
		c.RoleErr = errors.New("no cluster name to derive the role name from: pass --role-name or --cluster-name")
	} else {
		wg.Go(func() { g.readRole(ctx, clients) })
		wg.Go(func() { c.Attached, c.AttachedErr = attachedPolicies(ctx, clients.IAM, c.RoleName) })
	}
	wg.Go(func() {
		c.Policy, c.PolicyErr = readPolicy(ctx, clients.IAM, iam.PolicyARN(id.Partition, id.AccountID, c.PolicyName))
	})
	wg.Go(func() {
		g.nsWG.Wait()
		c.Buckets = readBuckets(ctx, clients.S3, id.Partition, c)
		c.Hardening = readHardening(ctx, clients.S3, id, g.cluster, c, g.names.BucketAdopted)
	})
	wg.Wait()
}

// useNames sets the role and policy to check: the flags', else the ones
// setup recorded, else the defaults of the cluster's name.
func (g *gatherer) useNames() {
	c, n := g.chain, g.names
	c.RoleName, c.PolicyName = n.RoleName, n.PolicyName
	cluster := n.ClusterName
	if cluster == "" && g.cluster != nil {
		cluster = g.cluster.Name
	}
	if c.RoleName == "" && cluster != "" {
		c.RoleName = iam.DefaultRoleName(cluster)
	}
	if c.PolicyName == "" {
		c.PolicyName = iam.DefaultPolicyName
	}
}

// readRole reads the role, then assumes it when asked.
func (g *gatherer) readRole(ctx context.Context, clients *awsclient.Clients) {
	c := g.chain
	out, err := clients.IAM.GetRole(ctx, &awsiam.GetRoleInput{RoleName: &c.RoleName})
	switch {
	case awsclient.IsNotFound(err):
		return
	case err != nil:
		c.RoleErr = awsclient.Explain("read IAM role "+c.RoleName+" (iam get-role)", err)
		return
	}
	c.Role = &status.Role{ARN: aws.ToString(out.Role.Arn), Trust: aws.ToString(out.Role.AssumeRolePolicyDocument), Tags: out.Role.Tags}
	if c.AssumeRole == nil {
		return
	}
	g.tokenWG.Wait()
	a := c.AssumeRole
	a.RoleARN = c.Role.ARN
	if a.TokenErr != nil {
		return
	}
	res, err := clients.STS.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: &a.RoleARN, RoleSessionName: aws.String("kubectl-oadp_sts-status"), WebIdentityToken: &g.token,
		DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		a.Err = awsclient.Explain("assume "+a.RoleARN+" with the velero token (sts assume-role-with-web-identity)", err)
		return
	}
	if res.AssumedRoleUser != nil {
		a.AssumedARN = aws.ToString(res.AssumedRoleUser.Arn)
	}
}

func attachedPolicies(ctx context.Context, c awsclient.IAMAPI, role string) ([]string, error) {
	var arns []string
	p := awsiam.NewListAttachedRolePoliciesPaginator(c, &awsiam.ListAttachedRolePoliciesInput{RoleName: &role})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		switch {
		case awsclient.IsNotFound(err):
			// No role: the role check says so.
			return nil, nil
		case err != nil:
			return nil, awsclient.Explain("list the policies attached to IAM role "+role, err)
		}
		for _, ap := range out.AttachedPolicies {
			arns = append(arns, aws.ToString(ap.PolicyArn))
		}
	}
	return arns, nil
}

// readPolicy reads the policy's default version: the document IAM enforces.
func readPolicy(ctx context.Context, c awsclient.IAMAPI, arn string) (*status.Policy, error) {
	out, err := c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: &arn})
	switch {
	case awsclient.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, awsclient.Explain("read IAM policy "+arn, err)
	}
	v, err := c.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: out.Policy.DefaultVersionId})
	if err != nil {
		return nil, awsclient.Explain("read the default version of IAM policy "+arn, err)
	}
	return &status.Policy{ARN: arn, VersionID: aws.ToString(out.Policy.DefaultVersionId), Document: aws.ToString(v.PolicyVersion.Document)}, nil
}

// readBuckets finds the buckets the CloudStorages and the AWS locations name
// and reads the region of each, all at once.
func readBuckets(ctx context.Context, c awsclient.S3API, partition string, ch *status.Chain) []status.Bucket {
	byName := map[string]*status.Bucket{}
	note := func(name, from string) *status.Bucket {
		b := byName[name]
		if b == nil {
			b = &status.Bucket{Name: name, LocationRegions: map[string]string{}}
			byName[name] = b
		}
		b.From = append(b.From, from)
		return b
	}
	for _, cs := range ch.CloudStorages {
		if name := kube.Str(cs.Object, "spec", "name"); name != "" {
			note(name, "cloudstorage/"+cs.GetName())
		}
	}
	for _, l := range ch.BSLs {
		provider := kube.Str(l.Object, "spec", "provider")
		name := kube.Str(l.Object, "spec", "objectStorage", "bucket")
		if name == "" || (provider != "aws" && provider != "velero.io/aws") {
			continue
		}
		from := "backupstoragelocation/" + l.GetName()
		note(name, from).LocationRegions[from] = kube.Str(l.Object, "spec", "config", "region")
	}
	var wg sync.WaitGroup
	for _, b := range byName {
		wg.Go(func() {
			out, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &b.Name}, func(o *s3.Options) {
				// The global endpoint answers for a bucket in any region of
				// the partition; a regional one redirects.
				if partition == "" || partition == "aws" {
					o.Region = "us-east-1"
				}
			})
			switch {
			case awsclient.IsNotFound(err):
			case err != nil:
				b.Err = awsclient.Explain("read the region of bucket "+b.Name+" (s3api get-bucket-location)", err)
			default:
				b.Exists = true
				b.Region = bucketRegion(string(out.LocationConstraint))
			}
		})
	}
	wg.Wait()
	out := make([]status.Bucket, 0, len(byName))
	for _, b := range byName {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// bucketRegion maps GetBucketLocation's answer to a region: S3 answers ""
// for us-east-1 and "EU" for the oldest eu-west-1 buckets.
func bucketRegion(constraint string) string {
	switch constraint {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	}
	return constraint
}

// setupCommand is the setup command for the same namespace and names, for fixes.
func setupCommand(ns string, o GatherOptions) string {
	args := []string{"kubectl oadp-sts setup --yes"}
	if ns != cmdutil.DefaultNamespace {
		args = append(args, "-n "+ns)
	}
	if o.ClusterName != "" {
		args = append(args, "--cluster-name "+o.ClusterName)
	}
	if o.RoleName != "" {
		args = append(args, "--role-name "+o.RoleName)
	}
	if o.PolicyName != "" && o.PolicyName != iam.DefaultPolicyName {
		args = append(args, "--policy-name "+o.PolicyName)
	}
	return strings.Join(args, " ")
}
