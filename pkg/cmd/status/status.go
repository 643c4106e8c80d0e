// Package status implements `kubectl oadp-sts status`.
package status

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

var (
	long = templates.LongDesc(`
		Discover the facts every other command needs, and check that the cluster is
		an AWS STS cluster the plugin can set up. Only reads: nothing is changed in
		the cluster or in AWS.

		From the cluster: OpenShift version, cluster ID, infrastructure name, platform
		and region, the service-account issuer, the credentials mode and the installed
		OADP operator. From AWS: the caller's account, ARN and partition, and the IAM
		OIDC provider for the cluster's issuer.

		Exit codes: 0 ready; 2 a check failed (each failure is printed with its
		cause and fix); 1 the facts could not be read at all.`)

	example = templates.Examples(`
		# Check the current cluster and AWS account
		kubectl oadp-sts status

		# The same as JSON, for scripts
		kubectl oadp-sts status -o json`)
)

// Options are the status command's inputs.
type Options struct {
	ClusterName string
	Output      string

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// NewCmd returns the status command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show the cluster's STS facts and whether it is ready for OADP",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ClusterName, "cluster-name", "", "name used for IAM and bucket names (default: the cluster's infrastructure name)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json or yaml")
	return cmd
}

// Validate checks the flags.
func (o *Options) Validate() error { return printer.ValidateFormat(o.Output) }

// Run reads the facts, prints the report and fails when the cluster is not ready.
func (o *Options) Run(ctx context.Context) error {
	report, err := Gather(ctx, o.factory, o.ClusterName)
	if err != nil {
		return err
	}
	if o.Output != "" {
		if err := printer.Print(o.Out, o.Output, report); err != nil {
			return err
		}
	} else {
		PrintHuman(o.Out, report)
	}
	if failed := report.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, c := range failed {
			names[i] = c.Name
		}
		return cmdutil.WithExitCode(cmdutil.ExitNotReady,
			cmdutil.Silent{Err: fmt.Errorf("not ready: %s", strings.Join(names, ", "))})
	}
	return nil
}

// Gather reads the cluster and AWS facts, with independent reads in parallel.
// An unreadable cluster is an error; unreadable AWS becomes a failed check so
// the cluster facts still print.
func Gather(ctx context.Context, f *cmdutil.Factory, clusterName string) (*status.Report, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	var (
		wg      sync.WaitGroup
		cluster *clusterfacts.Facts
		oadp    *clusterfacts.OADP
		id      awsfacts.Identity
		clErr   error
		oadpErr error
		awsErr  error
		clients *awsclient.Clients
	)
	wg.Go(func() { cluster, clErr = clusterfacts.Discover(ctx, dyn, clusterName) })
	wg.Go(func() { oadp, oadpErr = clusterfacts.DiscoverOADP(ctx, dyn, f.Namespace()) })
	wg.Go(func() {
		cfg, err := f.AWSConfig(ctx)
		if err != nil {
			awsErr = err
			return
		}
		clients = awsclient.New(cfg)
		id, awsErr = awsfacts.WhoAmI(ctx, clients.STS)
	})
	wg.Wait()
	if clErr != nil {
		return nil, clErr
	}
	if oadpErr != nil {
		return nil, oadpErr
	}
	in := status.Inputs{Cluster: cluster, OADP: oadp, AWSErr: awsErr}
	if awsErr == nil {
		in.AWS = &awsfacts.Facts{Identity: id}
		if cluster.OIDCIssuer != "" {
			af, err := awsfacts.DiscoverProvider(ctx, clients.IAM, id, cluster.OIDCIssuer)
			if err != nil {
				in.AWS, in.AWSErr = nil, err
			} else {
				in.AWS = af
			}
		}
	}
	return status.Build(in), nil
}

// PrintHuman writes the report as aligned sections and a checklist.
func PrintHuman(w io.Writer, r *status.Report) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	c := r.Cluster
	fmt.Fprintf(tw, "Cluster:\t%s\n", c.Name)
	fmt.Fprintf(tw, "  ID:\t%s\n", none(c.ID))
	fmt.Fprintf(tw, "  OpenShift:\t%s\n", none(c.Version))
	fmt.Fprintf(tw, "  Platform:\t%s\n", platform(c))
	fmt.Fprintf(tw, "  OIDC issuer:\t%s\n", none(c.OIDCIssuer))
	fmt.Fprintf(tw, "  Credentials mode:\t%s\n", none(c.CredentialsMode))
	if a := r.AWS; a != nil {
		fmt.Fprintf(tw, "AWS account:\t%s (%s)\n", a.AccountID, a.Partition)
		fmt.Fprintf(tw, "  Caller:\t%s\n", a.ARN)
		if a.OIDCProviderARN != "" {
			state := "missing"
			if a.OIDCProviderExists {
				state = "client IDs " + strings.Join(a.OIDCClientIDs, ",")
			}
			fmt.Fprintf(tw, "  OIDC provider:\t%s (%s)\n", a.OIDCProviderARN, state)
		}
	}
	if o := r.OADP; o != nil {
		switch {
		case o.CSV != "":
			fmt.Fprintf(tw, "OADP operator:\t%s (%s, %s)\n", none(o.Version), o.CSV, none(o.CSVPhase))
		case o.Installed:
			fmt.Fprintf(tw, "OADP operator:\tinstalled (CRDs present, no CSV found)\n")
		default:
			fmt.Fprintf(tw, "OADP operator:\tnot installed\n")
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Checks:")
	for _, ch := range r.Checks {
		fmt.Fprintf(w, "  %-8s %s: %s\n", ch.Result, ch.Name, ch.Message)
		if ch.Cause != "" {
			fmt.Fprintf(w, "           cause: %s\n", ch.Cause)
		}
		if ch.Fix != "" {
			fmt.Fprintf(w, "           fix:   %s\n", ch.Fix)
		}
	}
	if r.Ready {
		fmt.Fprintln(w, "\nReady: next, run 'kubectl oadp-sts setup'.")
	}
}

func platform(c *clusterfacts.Facts) string {
	if c.Region != "" {
		return none(c.Platform) + " (" + c.Region + ")"
	}
	return none(c.Platform)
}

func none(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
