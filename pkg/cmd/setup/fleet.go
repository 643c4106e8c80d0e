package setup

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// oneClusterFlags name one cluster's fact or object; in fleet mode each
// cluster resolves its own.
var oneClusterFlags = []string{"cluster-name", "cluster-id", "oidc-issuer", "region", "openshift-version",
	"role-name", "role-arn", "policy-name", "bucket", "cloudstorage-name", "output-dir"}

// runFleet is Run on every cluster the command line names, each with its
// own factory and lines. On a terminal without --yes every cluster's plan
// is shown first and one question asked for the whole set; without a
// terminal each cluster changes AWS only with --yes, as setup alone does.
// Clusters sharing one OIDC issuer are warned about, and set up anyway: an
// administrator who reused one registered OIDC configuration may mean it.
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
			return nil, co.Run(ctx)
		},
	}
	return r.Run(cmd.Context())
}
