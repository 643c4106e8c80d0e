package setup

import (
	"fmt"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

// useRecord takes the names an earlier setup recorded (or left evidence of)
// for every name no flag gives, so a rerun without flags converges on the
// same role, policy, bucket, CloudStorage and DPA instead of making a second
// set; a flag that contradicts the record is refused before any change.
func (o *Options) useRecord(ev record.Evidence) error {
	names, err := record.Decide(record.Flags{
		ClusterName: o.Facts.ClusterName, RoleName: o.RoleName, RoleARN: o.Cluster.RoleARN, RolePath: o.RolePath,
		PolicyName: o.PolicyName, Bucket: o.Cluster.Bucket, CloudStorage: o.Cluster.CloudStorageName, DPA: o.Cluster.DPAName,
		Prefix: o.givenPrefix(), From: o.from,
	}, ev)
	if err != nil {
		return err
	}
	if names.ClusterName != "" {
		o.facts.Cluster.Name = names.ClusterName
	}
	if names.ExternalRole && o.Cluster.RoleARN == "" {
		o.Cluster.RoleARN = names.RoleARN
	}
	o.recordedRole = names.From[record.FieldRole]
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&o.RoleName, names.RoleName)
	set(&o.RolePath, names.RolePath)
	set(&o.PolicyName, names.PolicyName)
	set(&o.Cluster.Bucket, names.Bucket)
	set(&o.Cluster.CloudStorageName, names.CloudStorage)
	set(&o.Cluster.DPAName, names.DPA)
	set(&o.RolePath, "/")
	if names.BucketFrom != "" {
		o.Store.from = names.BucketFrom
		if names.Prefix != "" {
			o.Cluster.Prefix = names.Prefix
		}
		fmt.Fprintf(o.ErrOut, "restoring from the backup location of cluster %s: bucket %s, prefix %s, read-only (%s)\n",
			names.BucketFrom, names.Bucket, o.Cluster.Prefix, fromWhere(names, o.FromCluster))
	}
	o.chooseStorage(names.CloudStorage != "")

	if found := names.Found(); found != "" {
		fmt.Fprintf(o.ErrOut, "using what an earlier setup made: %s\n", found)
	}
	return nil
}

// roleARNFrom says where the role ARN setup will not manage came from.
func (o *Options) roleARNFrom() string {
	if o.recordedRole != "" && o.recordedRole != "--role-arn" {
		return "given to an earlier setup with --role-arn, " + o.recordedRole
	}
	return "--role-arn"
}

// givenPrefix is --prefix when given by name, "" for its default.
func (o *Options) givenPrefix() string {
	if o.prefixGiven {
		return o.Cluster.Prefix
	}
	return ""
}

func fromWhere(n record.Names, context string) string {
	if context != "" {
		return "--from-cluster " + context
	}
	return "recorded by an earlier setup"
}
