package setup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gitops"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// oneClusterFlags name one cluster's fact or object; in fleet mode each
// cluster resolves its own.
var oneClusterFlags = []string{"cluster-name", "cluster-id", "oidc-issuer", "region", "openshift-version",
	"role-name", "role-arn", "policy-name", "bucket", "cloudstorage-name"}

// runFleet is Run on every cluster the command line names, each with its
// own factory and lines. On a terminal without --yes every cluster's plan
// is shown first and one question asked for the whole set; without a
// terminal each cluster changes AWS only with --yes, as setup alone does.
// Clusters sharing one OIDC issuer are warned about, and set up anyway: an
// administrator who reused one registered OIDC configuration may mean it.
// With --output-dir each cluster's IAM plan goes into its own directory,
// and with --format every cluster's objects are written at once, as one
// base and an overlay (or a Policy) per cluster.
func (o *Options) runFleet(cmd *cobra.Command, row fleetrun.ReportRow) error {
	if err := fleetrun.RefuseOneClusterFlags(cmd, oneClusterFlags...); err != nil {
		return err
	}
	output := ""
	if o.Cluster.PrintFlags.Set() {
		output = *o.Cluster.PrintFlags.OutputFormat
		if !slices.Contains(printer.Formats, output) {
			return fmt.Errorf("-o %s prints one cluster's objects; with several clusters -o is json or yaml, the list of the clusters' results", output)
		}
	}
	var (
		mu      sync.Mutex
		written []gitops.Cluster
	)
	r := &fleetrun.Runner{Verb: "setup", Flags: &o.Fleet, Factory: o.factory, IOStreams: o.IOStreams, Output: output,
		Confirm: "Set up OADP as planned above", Yes: o.Yes, DryRun: o.DryRun, WarnSharedIssuers: true, Row: row,
		IsTerminal: o.isTerminal,
		Job: func(ctx context.Context, c fleetrun.Cluster) (*status.Report, error) {
			co := *o
			co.factory, co.IOStreams = c.Factory, c.IOStreams
			// One cluster of many never asks: the set was confirmed once, or
			// --yes was given, or there is no one to ask.
			co.isTerminal = func() bool { return false }
			co.Cluster.printer = nil
			if c.Plan {
				co.DryRun = DryRunClient
			}
			co.Yes = o.Yes || c.Confirmed
			co.planPerCluster = o.OutputDir != ""
			if o.Format != "" {
				co.GitOps = func(g gitops.Cluster) {
					mu.Lock()
					written = append(written, g)
					mu.Unlock()
				}
			}
			return nil, co.Run(ctx)
		},
	}
	err := r.Run(cmd.Context())
	if o.Format == "" || len(written) == 0 {
		return err
	}
	// The clusters that failed are left out; those written still share one base.
	slices.SortFunc(written, func(a, b gitops.Cluster) int { return strings.Compare(a.Name, b.Name) })
	return errors.Join(err, o.writeGitOpsFor(written))
}
