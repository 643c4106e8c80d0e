package status_test

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
)

func deleteProvider() *iam.DeleteOpenIDConnectProviderInput {
	return &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(rig.OIDCProviderARN())}
}
