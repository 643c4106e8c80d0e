// Package awsfacts reads the AWS side of the STS chain: who we are, and
// whether IAM knows the cluster's OIDC issuer. It only reads.
package awsfacts

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
)

// OpenShiftAudience is the audience of the projected tokens OADP's pods use;
// the IAM OIDC provider must list it as a client ID.
const OpenShiftAudience = "openshift"

// Identity is the caller as STS sees it.
type Identity struct {
	AccountID string `json:"accountID"`
	ARN       string `json:"arn"`
	Partition string `json:"partition"`
}

// Facts are the AWS facts `status` prints.
type Facts struct {
	Identity
	OIDCProviderARN    string   `json:"oidcProviderARN,omitempty"`
	OIDCProviderExists bool     `json:"oidcProviderExists"`
	OIDCClientIDs      []string `json:"oidcClientIDs,omitempty"`
}

// HasOpenShiftAudience reports whether the provider lists the "openshift" client ID.
func (f *Facts) HasOpenShiftAudience() bool {
	return slices.Contains(f.OIDCClientIDs, OpenShiftAudience)
}

// WhoAmI calls STS GetCallerIdentity.
func WhoAmI(ctx context.Context, c awsclient.STSAPI) (Identity, error) {
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, awsclient.Explain("read the AWS caller identity (sts get-caller-identity)", err)
	}
	arn := aws.ToString(out.Arn)
	return Identity{AccountID: aws.ToString(out.Account), ARN: arn, Partition: PartitionOf(arn)}, nil
}

// PartitionOf returns the partition of an ARN ("aws", "aws-us-gov", "aws-cn").
func PartitionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 3)
	if len(parts) < 3 || parts[0] != "arn" || parts[1] == "" {
		return "aws"
	}
	return parts[1]
}

// OIDCProviderARN is the IAM OIDC provider ARN for an issuer.
func OIDCProviderARN(partition, account, issuer string) string {
	return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, account, clusterfacts.IssuerHost(issuer))
}

// Discover reads the caller identity, then the OIDC provider for issuer.
func Discover(ctx context.Context, c *awsclient.Clients, issuer string) (*Facts, error) {
	id, err := WhoAmI(ctx, c.STS)
	if err != nil {
		return nil, err
	}
	if issuer == "" {
		return &Facts{Identity: id}, nil
	}
	return DiscoverProvider(ctx, c.IAM, id, issuer)
}

// DiscoverProvider looks up the OIDC provider for issuer with one
// GetOpenIDConnectProvider call on its ARN, never a listing of every provider.
func DiscoverProvider(ctx context.Context, c awsclient.IAMAPI, id Identity, issuer string) (*Facts, error) {
	f := &Facts{Identity: id, OIDCProviderARN: OIDCProviderARN(id.Partition, id.AccountID, issuer)}
	out, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &f.OIDCProviderARN})
	switch {
	case awsclient.IsNotFound(err):
		return f, nil
	case err != nil:
		return nil, awsclient.Explain("read the IAM OIDC provider "+f.OIDCProviderARN, err)
	}
	f.OIDCProviderExists = true
	f.OIDCClientIDs = out.ClientIDList
	return f, nil
}

// CreateProviderHint is the command that creates a missing OIDC provider. Its
// URL is built from the same host as OIDCProviderARN, so the provider it
// creates is the one the checks look up.
func CreateProviderHint(issuer string) string {
	return fmt.Sprintf("create it with 'ccoctl aws create-identity-provider' (self-managed) or 'rosa create oidc-provider' (ROSA), "+
		"or 'aws iam create-open-id-connect-provider --url https://%s --client-id-list openshift --thumbprint-list <sha1 of the issuer CA>'", clusterfacts.IssuerHost(issuer))
}
