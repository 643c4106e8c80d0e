// Package status implements `kubectl oadp-sts status`.
package status

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

var (
	long = templates.LongDesc(`
		Check every link of the AWS STS chain OADP depends on, live, and print the
		fix of each broken one. Only reads: nothing is changed in the cluster or in
		AWS (except the token --assume-role asks for, see below).

		The cluster: OpenShift version, cluster ID, platform and region, the
		service-account issuer and the credentials mode. AWS: the caller, and the
		IAM OIDC provider for the cluster's issuer with the client ID openshift.
		IAM: the role (--role-name, else the one setup recorded on the namespace,
		else CLUSTER_NAME-openshift-oadp-aws-cloud-credentials), its trust policy (this cluster's OIDC provider, exactly the
		two OADP service accounts of the namespace, no aud other than openshift),
		the policy (--policy-name, the recorded one, or OadpVer1) attached with every action OADP
		needs, and the role's ownership tags. Credentials: the cloud-credentials
		secret (key credentials, role_arn, token file, region) and the
		Subscription's ROLEARN. Operator: the ClusterServiceVersion and its phase,
		the DataProtectionApplication's Reconciled condition and the operator's
		rules for the installed version. Storage: each BackupStorageLocation's
		phase, message and last validation, each bucket's existence and region.
		Then the last backups and restores.

		Before setup, the checks of objects setup makes are skipped: status then
		says whether the cluster is ready for 'kubectl oadp-sts setup'. The
		cluster is read first: AWS is asked in the cluster's region when the AWS
		configuration names none, and a cluster on another platform gets no AWS
		call at all, only one line saying why.

		--assume-role proves the trust end to end: it asks the API server for a
		token of the velero service account (a TokenRequest, audience openshift:
		the one create status makes, and only with this flag) and calls STS
		AssumeRoleWithWebIdentity with it.

		With --context given more than once, --all-contexts or --contexts-matching,
		status checks each cluster at once (--parallel, 4 by default), then prints
		a summary table and every pair of clusters that share one OIDC issuer; -o
		json is then a list, one element per cluster.

		Exit codes: 0 ready; 2 a check failed (each failure is printed with its
		cause and fix); 1 the facts could not be read at all. Several clusters:
		the worst of theirs (1, then 4, 5, 3, 2, then 0).`)

	example = templates.Examples(`
		# Check the current cluster, AWS account and OADP set up
		kubectl oadp-sts status

		# The same as JSON, for scripts: every check with its result, cause and fix
		kubectl oadp-sts status -o json

		# Also assume the role with the velero service account's token
		kubectl oadp-sts status --assume-role

		# Three clusters at once, then a summary table
		kubectl oadp-sts status --context prod-east --context prod-west --context dr`)
)

// Options are the status command's inputs.
type Options struct {
	Gather GatherOptions
	Output string
	Fleet  fleetrun.Flags

	factory *cmdutil.Factory
	genericiooptions.IOStreams
}

// GatherOptions name the objects to check.
type GatherOptions struct {
	ClusterName string
	RoleName    string
	PolicyName  string
	// AssumeRole makes the one create status may make: a TokenRequest.
	AssumeRole bool
}

// NewCmd returns the status command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Check every link of OADP's AWS STS chain, with the fix of each broken one",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if o.Fleet.Fleet(f) {
				return o.RunFleet(cmd.Context())
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Gather.ClusterName, "cluster-name", "", "name used for IAM and bucket names (default: the one setup recorded, else the cluster's infrastructure name)")
	fs.StringVar(&o.Gather.RoleName, "role-name", "", "name of the IAM role to check (default: the one setup recorded, else <cluster-name>"+iam.RoleSuffix+")")
	fs.StringVar(&o.Gather.PolicyName, "policy-name", "", "name of the IAM permissions policy to check (default: the one setup recorded, else "+iam.DefaultPolicyName+")")
	fs.BoolVar(&o.Gather.AssumeRole, "assume-role", false, "also request a token for the velero service account (a TokenRequest: the only create status makes) and assume the role with it through STS")
	fs.StringVarP(&o.Output, "output", "o", "", "output format: json or yaml")
	o.Fleet.AddFlags(cmd, f)
	return cmd
}

// Validate checks the flags.
func (o *Options) Validate() error {
	if o.Gather.RoleName != "" {
		if err := iam.ValidateRoleName(o.Gather.RoleName, "set another --role-name"); err != nil {
			return err
		}
	}
	if o.Gather.PolicyName != "" {
		if err := iam.ValidatePolicyName(o.Gather.PolicyName, "set another --policy-name"); err != nil {
			return err
		}
	}
	if err := o.Fleet.Validate(o.factory); err != nil {
		return err
	}
	return printer.ValidateFormat(o.Output)
}

// Run reads the facts, prints the report and fails when a check failed.
func (o *Options) Run(ctx context.Context) error {
	_, err := o.run(ctx, o.factory, o.IOStreams, o.Output)
	return err
}

func (o *Options) run(ctx context.Context, f *cmdutil.Factory, streams genericiooptions.IOStreams, output string) (*status.Report, error) {
	report, err := Gather(ctx, f, o.Gather)
	if err != nil {
		return nil, err
	}
	if output != "" {
		if err := printer.Print(streams.Out, output, report); err != nil {
			return report, err
		}
	} else {
		PrintHuman(streams.Out, report)
	}
	if failed := report.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, c := range failed {
			names[i] = c.Name
		}
		return report, exitcode.WithCode(exitcode.NotReady,
			cmdutil.Silent{Err: fmt.Errorf("not ready: %s", strings.Join(names, ", "))})
	}
	return report, nil
}

// RunFleet is Run on every cluster the command line names, each with its
// own clients and lines, then the summary and every pair of clusters that
// share an OIDC issuer.
func (o *Options) RunFleet(ctx context.Context) error {
	r := &fleetrun.Runner{Verb: "status", Flags: &o.Fleet, Factory: o.factory, IOStreams: o.IOStreams, Output: o.Output,
		WarnSharedIssuers: true,
		Job: func(ctx context.Context, c fleetrun.Cluster) (*status.Report, error) {
			return o.run(ctx, c.Factory, c.IOStreams, c.Output)
		},
	}
	return r.Run(ctx)
}

// PrintHuman writes the report as aligned sections and a checklist.
func PrintHuman(w io.Writer, r *status.Report) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	c := r.Cluster
	if c.NameFrom != "" && c.NameFrom != "infrastructure name" {
		// On a hosted control plane the name is not the infrastructure
		// name users see elsewhere: say where it came from.
		fmt.Fprintf(tw, "Cluster:\t%s (from the %s)\n", c.Name, c.NameFrom)
	} else {
		fmt.Fprintf(tw, "Cluster:\t%s\n", c.Name)
	}
	fmt.Fprintf(tw, "  ID:\t%s\n", printer.OrNone(c.ID))
	fmt.Fprintf(tw, "  OpenShift:\t%s\n", printer.OrNone(c.Version))
	fmt.Fprintf(tw, "  Platform:\t%s\n", platform(c))
	fmt.Fprintf(tw, "  OIDC issuer:\t%s\n", printer.OrNone(c.OIDCIssuer))
	fmt.Fprintf(tw, "  Credentials mode:\t%s\n", printer.OrNone(c.CredentialsMode))
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
			fmt.Fprintf(tw, "OADP operator:\t%s (%s, %s)\n", printer.OrNone(o.Version), o.CSV, printer.OrNone(o.CSVPhase))
		case o.Installed:
			fmt.Fprintf(tw, "OADP operator:\tinstalled (CRDs present, no CSV found)\n")
		default:
			fmt.Fprintf(tw, "OADP operator:\tnot installed\n")
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Checks:")
	area := ""
	for _, ch := range r.Checks {
		if ch.Area != area {
			area = ch.Area
			fmt.Fprintf(w, "  %s\n", areaTitles[area])
		}
		fmt.Fprintf(w, "    %-8s %s: %s\n", ch.Result, ch.Name, ch.Message)
		if ch.Cause != "" {
			fmt.Fprintf(w, "             cause: %s\n", ch.Cause)
		}
		if ch.Fix != "" {
			fmt.Fprintf(w, "             fix:   %s\n", ch.Fix)
		}
	}
	if rc := r.Recent; rc != nil && (len(rc.Backups) > 0 || len(rc.Restores) > 0) {
		fmt.Fprintln(w)
		printOperations(w, "Recent backups", rc.Backups)
		printOperations(w, "Recent restores", rc.Restores)
	}
	switch {
	case r.Ready && r.SetUp:
		fmt.Fprintln(w, "\nReady: back up with 'kubectl oadp-sts backup <namespace>'.")
	case r.Ready:
		fmt.Fprintln(w, "\nReady: next, run 'kubectl oadp-sts setup'.")
	}
}

// areaTitles head the checklist's groups.
var areaTitles = map[string]string{
	status.AreaCluster:     "Cluster",
	status.AreaAWS:         "AWS",
	status.AreaIAM:         "IAM role and policy",
	status.AreaCredentials: "Credentials",
	status.AreaOperator:    "Operator and DataProtectionApplication",
	status.AreaStorage:     "Storage",
	status.AreaRecent:      "Backups and restores",
	status.AreaAssumeRole:  "End to end",
}

func printOperations(w io.Writer, title string, ops []status.Operation) {
	if len(ops) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tPHASE\tERRORS\tWARNINGS\tSTARTED\tREASON")
	for _, o := range ops {
		started := "<none>"
		if o.Started != nil {
			started = o.Started.Local().Format("2006-01-02 15:04:05")
		}
		reason := o.FailureReason
		if reason == "" && len(o.ValidationErrors) > 0 {
			reason = strings.Join(o.ValidationErrors, "; ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%s\n", o.Name, o.Phase, o.Errors, o.Warnings, started, reason)
	}
	tw.Flush()
}

func platform(c *clusterfacts.Facts) string {
	if c.Region != "" {
		return printer.OrNone(c.Platform) + " (" + c.Region + ")"
	}
	return printer.OrNone(c.Platform)
}
