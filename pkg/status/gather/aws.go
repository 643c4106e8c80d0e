package gather

import (
	"cmp"
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// awsDeps are the reads the AWS side waits on.
type awsDeps struct {
	cluster             *future[*clusterfacts.Facts]
	names               *future[record.Names]
	bsls, cloudStorages *future[listed]
	dpas                *future[listed]
	storage             *future[storageRead]
	token               *future[tokenRead] // nil without --assume-role
}

// awsRead is everything read of AWS. err is the caller or provider that
// could not be read: a failed check, not a failed run.
type awsRead struct {
	facts       *awsfacts.Facts
	err         error
	role        *status.Role
	roleErr     error
	attached    []string
	attachedErr error
	policy      *status.Policy
	policyErr   error
	otherRoles  []status.ListedRole
	otherErr    error
	buckets     []status.Bucket
	hardening   *status.Hardening
	assume      *assumeRead
}

// assumeRead is STS's answer to the velero token, for a role that exists.
type assumeRead struct {
	roleARN, assumedARN string
	err                 error
}

// into puts what was read into the chain.
func (a awsRead) into(ch *status.Chain) {
	ch.Role, ch.RoleErr = a.role, a.roleErr
	ch.Attached, ch.AttachedErr = a.attached, a.attachedErr
	ch.Policy, ch.PolicyErr = a.policy, a.policyErr
	ch.OtherRoles, ch.OtherRolesErr = a.otherRoles, a.otherErr
	ch.Buckets = a.buckets
	ch.Hardening = a.hardening
	if ch.AssumeRole != nil && a.assume != nil {
		ch.AssumeRole.RoleARN, ch.AssumeRole.AssumedARN, ch.AssumeRole.Err = a.assume.roleARN, a.assume.assumedARN, a.assume.err
	}
}

// readAWS waits for the cluster, then reads the caller and, at the same
// time, what needs no account ID: the role (and assuming it), its attached
// policies and the buckets' regions. The OIDC provider and the policy, whose
// ARNs hold the account ID, follow the caller. So status costs three AWS
// round trips in sequence (the caller, GetPolicy and its default version)
// however far away AWS is. The cluster comes first because it decides the
// AWS side: its region is the AWS client's when the user's configuration
// names none, and a cluster of another platform gets no AWS look-up at all.
func readAWS(ctx context.Context, c Clients, d awsDeps) (awsRead, error) {
	cluster, err := d.cluster.wait()
	if err != nil || cluster.Platform != "AWS" {
		return awsRead{}, nil
	}
	clients, err := c.AWS(ctx, cluster.Region)
	if err != nil {
		return awsRead{err: err}, nil
	}
	// The names come from setup's record, read with the cluster.
	rec, recErr := d.names.wait()
	if recErr != nil {
		// Gather fails with the record's error.
		return awsRead{}, nil
	}
	roleName, policyName := roleAndPolicy(rec, cluster)
	byName := readByName(ctx, clients, d, roleName, cluster.Region)
	// The shared-issuer check's roles need no account ID either: the list
	// starts with the caller, so it adds no round trip in sequence unless
	// the path holds more than one page of roles.
	others := start(func() ([]status.ListedRole, error) { return listRoles(ctx, clients.IAM, cmp.Or(rec.RolePath, "/")) })

	id, err := awsfacts.WhoAmI(ctx, clients.STS)
	if err != nil {
		// Reads without a caller only repeat its error: the report names it once.
		byName.wait()
		_, _ = others.wait()
		return awsRead{err: err}, nil
	}
	out := awsRead{facts: &awsfacts.Facts{Identity: id}}
	var provider *future[*awsfacts.Facts]
	if cluster.OIDCIssuer != "" {
		provider = start(func() (*awsfacts.Facts, error) {
			return awsfacts.DiscoverProvider(ctx, clients.IAM, id, cluster.OIDCIssuer)
		})
	}
	policy := start(func() (*status.Policy, error) {
		return readPolicy(ctx, clients.IAM, iam.PolicyARN(id.Partition, id.AccountID, policyName))
	})
	// The bucket a velero location of our DPA names, and its settings
	// setup hardens (made or adopted by setup; none on the chapter's path).
	hardening := start(func() (*status.Hardening, error) {
		dpas, _ := d.dpas.wait()
		st, _ := d.storage.wait()
		return readHardening(ctx, clients.S3, id, cluster, &status.Chain{DPAs: dpas, SnapshotMode: st.mode}, rec.BucketAdopted, rec.BucketFrom), nil
	})
	byName.into(&out)
	out.otherRoles, out.otherErr = others.wait()
	out.policy, out.policyErr = policy.wait()
	out.hardening, _ = hardening.wait()
	if provider != nil {
		if af, err := provider.wait(); err != nil {
			out.facts, out.err = nil, err
		} else {
			out.facts = af
		}
	}
	return out, nil
}

// nameReads are the AWS reads that need only names, not the caller's
// account: they start with the caller's identity.
type nameReads struct {
	role     *future[roleRead]
	attached *future[[]string]
	buckets  *future[[]status.Bucket]
}

type roleRead struct {
	role   *status.Role
	assume *assumeRead
}

func readByName(ctx context.Context, clients *awsclient.Clients, d awsDeps, roleName, region string) *nameReads {
	r := &nameReads{}
	if roleName != "" {
		r.role = start(func() (roleRead, error) {
			rr, err := readRole(ctx, clients.IAM, roleName)
			if rr == nil || err != nil || d.token == nil {
				return roleRead{role: rr}, err
			}
			t, terr := d.token.wait()
			return roleRead{role: rr, assume: assume(ctx, clients.STS, rr.ARN, t, terr)}, nil
		})
		r.attached = start(func() ([]string, error) { return attachedPolicies(ctx, clients.IAM, roleName) })
	}
	r.buckets = start(func() ([]status.Bucket, error) {
		cs, _ := d.cloudStorages.wait()
		bsls, _ := d.bsls.wait()
		// The partition follows from the cluster's region; the caller's
		// would cost a round trip first.
		return readBuckets(ctx, clients.S3, iam.PartitionForRegion(region), bucketsNamed(cs, bsls)), nil
	})
	return r
}

// wait lets every read finish.
func (r *nameReads) wait() {
	if r.role != nil {
		_, _ = r.role.wait()
		_, _ = r.attached.wait()
	}
	_, _ = r.buckets.wait()
}

// into puts what was read into out.
func (r *nameReads) into(out *awsRead) {
	if r.role == nil {
		out.roleErr = errors.New("no cluster name to derive the role name from: pass --role-name or --cluster-name")
	} else {
		rr, err := r.role.wait()
		out.role, out.roleErr, out.assume = rr.role, err, rr.assume
		out.attached, out.attachedErr = r.attached.wait()
	}
	out.buckets, _ = r.buckets.wait()
}

// readRole reads the role; nil when there is none.
func readRole(ctx context.Context, c awsclient.IAMAPI, name string) (*status.Role, error) {
	out, err := c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: &name})
	switch {
	case awsclient.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, awsclient.Explain("read IAM role "+name+" (iam get-role)", err)
	}
	return &status.Role{ARN: aws.ToString(out.Role.Arn), Trust: aws.ToString(out.Role.AssumeRolePolicyDocument), Tags: out.Role.Tags,
		Created: aws.ToTime(out.Role.CreateDate)}, nil
}

// assume gives STS the velero token for the role, as Velero's pod does.
// Without a token there is nothing to give: the token check says why.
func assume(ctx context.Context, c awsclient.STSAPI, roleARN string, t tokenRead, tokenErr error) *assumeRead {
	a := &assumeRead{roleARN: roleARN}
	if tokenErr != nil {
		return a
	}
	res, err := c.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: &a.roleARN, RoleSessionName: aws.String("kubectl-oadp_sts-status"), WebIdentityToken: &t.token,
		DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		a.err = awsclient.Explain("assume "+roleARN+" with the velero token (sts assume-role-with-web-identity)", err)
		return a
	}
	if res.AssumedRoleUser != nil {
		a.assumedARN = aws.ToString(res.AssumedRoleUser.Arn)
	}
	return a
}

// listRoles lists the roles at the path of this cluster's role (setup puts
// a fleet's roles at one --role-path), with their trust documents.
func listRoles(ctx context.Context, c awsclient.IAMAPI, pathPrefix string) ([]status.ListedRole, error) {
	var out []status.ListedRole
	// IAM's largest page: an account of hundreds of roles is one round trip.
	p := awsiam.NewListRolesPaginator(c, &awsiam.ListRolesInput{PathPrefix: &pathPrefix, MaxItems: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsclient.Explain("list the IAM roles at path "+pathPrefix+" (iam list-roles)", err)
		}
		for _, r := range page.Roles {
			out = append(out, status.ListedRole{Name: aws.ToString(r.RoleName), ARN: aws.ToString(r.Arn), Trust: aws.ToString(r.AssumeRolePolicyDocument)})
		}
	}
	return out, nil
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

// readBuckets reads the region of each bucket, all at once; each read fills
// only its own bucket.
func readBuckets(ctx context.Context, c awsclient.S3API, partition string, buckets []status.Bucket) []status.Bucket {
	reads := make([]*future[status.Bucket], len(buckets))
	for i, b := range buckets {
		reads[i] = start(func() (status.Bucket, error) {
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
			return b, nil
		})
	}
	out := make([]status.Bucket, len(buckets))
	for i, r := range reads {
		out[i], _ = r.wait()
	}
	return out
}
