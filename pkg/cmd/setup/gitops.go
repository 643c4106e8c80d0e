package setup

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gitops"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/record"
)

// validateFormat refuses a --format that would write nothing, or nothing known.
func (o *Options) validateFormat() error {
	if o.Format == "" {
		return nil
	}
	if !slices.Contains(gitops.Formats, o.Format) {
		return fmt.Errorf("--format must be %s, not %q", strings.Join(gitops.Formats, " or "), o.Format)
	}
	if o.OutputDir == "" {
		return fmt.Errorf("--format %s writes files into --output-dir: add --output-dir DIR (with --dry-run=client)", o.Format)
	}
	return nil
}

// gitopsCluster is this cluster's input to the GitOps writer: the objects
// setup would apply, named by the cluster's name, which the role and bucket
// are named by too (a kubeconfig context's name can hold '/' and ':').
func gitopsCluster(mo manifests.Options) gitops.Cluster {
	values := map[string]string{
		"CLUSTER_NAME": mo.ClusterName, "CLUSTER_ID": mo.ClusterID, "REGION": mo.Region,
		"ROLE_ARN": mo.RoleARN, "BUCKET": mo.Bucket, "DPA_NAME": mo.DPAName,
		"POLICY_NAME": mo.NamespaceAnnotations[record.AnnotationPolicyName],
	}
	if mo.CloudStorageName != mo.Bucket {
		values["CLOUDSTORAGE_NAME"] = mo.CloudStorageName
	}
	return gitops.Cluster{Name: mo.ClusterName, Objects: manifests.Build(mo), Values: values}
}

// writeGitOps writes --format's files beside the IAM plan.
func (o *Options) writeGitOps(mo manifests.Options) error {
	if o.Format == "" {
		return nil
	}
	if mo.ClusterName == "" {
		return errors.New("--format names each cluster's directory by the cluster's name, and there is none: set --cluster-name")
	}
	c := gitopsCluster(mo)
	if o.GitOps != nil {
		// A fleet writes every cluster's at once, against one base.
		o.GitOps(c)
		return nil
	}
	return o.writeGitOpsFor([]gitops.Cluster{c})
}

// writeGitOpsFor writes --format's files for clusters and says how to apply them.
func (o *Options) writeGitOpsFor(clusters []gitops.Cluster) error {
	paths, err := gitops.Write(o.OutputDir, o.Format, clusters)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "wrote %d %s files to %s:\n", len(paths), o.Format, o.OutputDir)
	for _, p := range paths {
		fmt.Fprintf(o.ErrOut, "  %s\n", p)
	}
	for _, c := range clusters {
		switch o.Format {
		case gitops.FormatKustomize:
			fmt.Fprintf(o.ErrOut, "apply on cluster %s, once its IAM plan is applied: kubectl apply -k %s/clusters/%s\n", c.Name, o.OutputDir, c.Name)
		case gitops.FormatACM:
			fmt.Fprintf(o.ErrOut, "apply on the ACM hub, once the IAM plan is applied: kubectl apply -k %s/acm (its Placement for %s selects the ManagedCluster labelled name=%s)\n", o.OutputDir, c.Name, c.Name)
		}
	}
	return nil
}
