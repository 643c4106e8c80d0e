// Package awsfacts reads the AWS side of the STS chain: who we are, and
// whether IAM knows the cluster's OIDC issuer. It only reads.
package awsfacts

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
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
	caller := aws.ToString(out.Arn)
	return Identity{AccountID: aws.ToString(out.Account), ARN: caller, Partition: PartitionOf(caller)}, nil
}

// PartitionOf returns the partition of an ARN ("aws", "aws-us-gov", "aws-cn").
func PartitionOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil || a.Partition == "" {
		return "aws"
	}
	return a.Partition
}

// DiscoverProvider looks up the OIDC provider for issuer with one
// GetOpenIDConnectProvider call on its ARN, never a listing of every provider.
func DiscoverProvider(ctx context.Context, c awsclient.IAMAPI, id Identity, issuer string) (*Facts, error) {
	f := &Facts{Identity: id, OIDCProviderARN: iam.OIDCProviderARN(id.Partition, id.AccountID, issuer)}
	out, err := c.GetOpenIDConnectProvider(ctx, &awsiam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &f.OIDCProviderARN})
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
// URL is built from the same host as iam.OIDCProviderARN, so the provider it
// creates is the one the checks look up.
func CreateProviderHint(issuer string) string {
	return fmt.Sprintf("create it with 'ccoctl aws create-identity-provider' (self-managed) or 'rosa create oidc-provider' (ROSA), "+
		"or 'aws iam create-open-id-connect-provider --url https://%s --client-id-list openshift --thumbprint-list <sha1 of the issuer CA>'", clusterfacts.IssuerHost(issuer))
}
