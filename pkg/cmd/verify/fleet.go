package verify

import (
	"context"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	statuscmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// runFleet is Run on every cluster the command line names, each with its
// own canary (a run ID of its own), factory and lines. A client dry run
// prints each cluster's objects in its group: one List per cluster.
func (o *Options) runFleet(ctx context.Context) error {
	output := o.Output
	if o.DryRun == DryRunClient {
		// The objects are the output: each cluster's List, in its group.
		output = ""
	}
	r := &fleetrun.Runner{Verb: "verify", Flags: &o.Fleet, Factory: o.factory, IOStreams: o.IOStreams, Output: output,
		DryRun: o.DryRun, Row: statuscmd.ReportRow,
		Job: func(ctx context.Context, c fleetrun.Cluster) (*status.Report, error) {
			co := *o
			co.factory, co.IOStreams = c.Factory, c.IOStreams
			if output != "" {
				co.Output = c.Output
			}
			return nil, co.Run(ctx)
		},
	}
	return r.Run(ctx)
}
