package cleanup

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// runFleet is Run on every cluster the command line names. On a terminal
// without --yes every cluster's plan is shown first and one question asked
// for the whole set; without a terminal each cluster deletes only with
// --yes, as cleanup alone does.
func (o *Options) runFleet(cmd *cobra.Command, row fleetrun.ReportRow) error {
	if err := fleetrun.RefuseOneClusterFlags(cmd, "cluster-name", "cluster-id", "role-name", "policy-name"); err != nil {
		return err
	}
	r := &fleetrun.Runner{Verb: "cleanup", Flags: &o.Fleet, Factory: o.factory, IOStreams: o.IOStreams,
		Confirm: "Delete all of the above", Yes: o.Yes, DryRun: o.DryRun, Row: row, IsTerminal: o.isTerminal,
		Job: func(ctx context.Context, c fleetrun.Cluster) (*status.Report, error) {
			co := *o
			co.factory, co.IOStreams = c.Factory, c.IOStreams
			co.isTerminal = func() bool { return false }
			if c.Plan {
				co.DryRun = "client"
			}
			co.Yes = o.Yes || c.Confirmed
			return nil, co.Run(ctx)
		},
	}
	return r.Run(cmd.Context())
}
