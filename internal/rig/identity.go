package rig

import "fmt"

// Identity is what tells one rig cluster from another: the facts setup reads
// from the cluster (ID, infrastructure name, version, region, OIDC issuer)
// and the kubeconfig context it is reached by. A fleet gives each of its
// clusters its own, against one moto, as real clusters of one AWS account are.
type Identity struct {
	// Context is the cluster's kubeconfig context name ("rig" alone).
	Context    string
	ClusterID  string
	InfraName  string
	OpenShift  string
	Region     string
	IssuerHost string
}

// DefaultIdentity is the single rig's cluster, as the package constants give it.
func DefaultIdentity() Identity {
	return Identity{Context: "rig", ClusterID: ClusterID, InfraName: InfraName, OpenShift: OpenShiftVer, Region: Region, IssuerHost: IssuerHost}
}

// FleetIdentity is the identity of a fleet's i-th cluster (0-based), named
// by a letter from "a": its own ID, infrastructure name and issuer, and a
// region that alternates, so tests see clusters of one account in two regions.
func FleetIdentity(i int) Identity {
	name := string(rune('a' + i%26))
	if i >= 26 {
		name += fmt.Sprint(i / 26)
	}
	regions := []string{"us-east-2", "us-west-2"}
	region := regions[i%len(regions)]
	infra := "fleet-" + name + "-q4z9m"
	return Identity{
		Context:    name,
		ClusterID:  fmt.Sprintf("%08x-9d2b-4e7a-8c6f-0b1d2e3f4a%02x", 0x1f1ee700+i, i),
		InfraName:  infra,
		OpenShift:  OpenShiftVer,
		Region:     region,
		IssuerHost: "fleet-oidc.s3." + region + ".amazonaws.com/" + infra,
	}
}

// Issuer is the cluster's service-account issuer URL.
func (id Identity) Issuer() string { return "https://" + id.IssuerHost }

// OIDCProviderARN is the ARN of the IAM OIDC provider for the cluster's issuer.
func (id Identity) OIDCProviderARN() string {
	return "arn:aws:iam::" + AWSAccount + ":oidc-provider/" + id.IssuerHost
}

func (id Identity) orDefault() Identity {
	if id.IssuerHost == "" {
		return DefaultIdentity()
	}
	if id.Context == "" {
		id.Context = "rig"
	}
	return id
}
