// Package cmd assembles the plugin's command tree.
package cmd

import (
	"flag"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/backup"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/cleanup"
	completioncmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/completion"
	deletecmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/delete"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/describe"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/get"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/logs"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/policy"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/restore"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/schedule"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/setup"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/status"
	verifycmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/version"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/inputcheck"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/redact"
)

// NewRootCmd builds the whole command tree over the given streams. Nothing is
// global, so tests build as many independent trees as they like.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	awsOpts := awsclient.NewOptions()
	f := cmdutil.NewFactory(configFlags, awsOpts)

	root := &cobra.Command{
		Use:   "kubectl-oadp_sts",
		Short: "Set up and run OADP (Velero) on an AWS STS OpenShift cluster",
		Long: templates.LongDesc(`
			Set up and run OADP, Red Hat's Velero operator, on an OpenShift cluster that
			uses AWS STS: the IAM policy and role trusted by the cluster's OIDC issuer, the
			credentials, the operator, the CloudStorage and the DataProtectionApplication;
			then back up, restore and clean up.

			Works as 'kubectl oadp-sts' and 'oc oadp-sts', with the current kubeconfig
			context and the AWS SDK's default credentials (AWS_PROFILE, --aws-profile).
			The OADP namespace is openshift-adp unless -n says otherwise.`),
		SilenceUsage:  true,
		SilenceErrors: true,
		// Hostile values (empty, multi-line, NUL, not UTF-8, too long) are
		// refused here, before any command reads or writes anything.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := inputcheck.Check(cmd, args); err != nil {
				return err
			}
			return useContexts(cmd, configFlags, f)
		},
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl oadp-sts",
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	flags := root.PersistentFlags()
	// --context is ours: repeatable for the fleet commands. cli-runtime's is
	// a plain string whose last value silently wins.
	configFlags.Context = nil
	configFlags.AddFlags(flags)
	flags.StringArrayVar(&f.Contexts, "context", nil, "the name of the kubeconfig context to use; status, setup, verify and cleanup take it more than once, to run on each cluster (fleet mode)")
	awsOpts.AddFlags(flags)
	addKlogFlags(root)
	completion.RegisterGlobalFlags(root, f)

	getCmd, describeCmd, deleteCmd := get.NewCmd(f, streams), describe.NewCmd(f, streams), deletecmd.NewCmd(f, streams)
	getCmd.AddCommand(schedule.NewGetCmd(f, streams))
	describeCmd.AddCommand(schedule.NewDescribeCmd(f, streams))
	deleteCmd.AddCommand(schedule.NewDeleteCmd(f, streams))
	root.AddCommand(
		status.NewCmd(f, streams),
		setup.NewCmd(f, streams),
		cleanup.NewCmd(f, streams),
		policy.NewCmd(f, streams),
		backup.NewCmd(f, streams),
		restore.NewCmd(f, streams),
		getCmd, describeCmd, deleteCmd,
		schedule.NewCmd(f, streams),
		logs.NewCmd(f, streams),
		verifycmd.NewCmd(f, streams),
		version.NewCmd(streams),
		completioncmd.NewCmd(streams),
	)
	inputcheck.Guard(root)
	return root
}

// useContexts hands one --context to the kubeconfig loader, as kubectl's
// own flag would, and refuses a second one where the command runs on one
// cluster only.
func useContexts(cmd *cobra.Command, configFlags *genericclioptions.ConfigFlags, f *cmdutil.Factory) error {
	switch {
	case len(f.Contexts) == 1:
		configFlags.Context = &f.Contexts[0]
	case len(f.Contexts) > 1 && !fleetrun.IsFleetCommand(cmd):
		return fmt.Errorf("--context is given %d times (%s), but %s runs on one cluster: give one --context (only status, setup, verify and cleanup take several)",
			len(f.Contexts), strings.Join(f.Contexts, ", "), cmd.CommandPath())
	}
	return nil
}

// addKlogFlags exposes klog's -v so `-v=6` shows every API request, as in
// kubectl, with credentials in logged bodies redacted (-v=8 logs them).
func addKlogFlags(root *cobra.Command) {
	redact.Install()
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for _, name := range []string{"v", "vmodule"} {
		if fl := fs.Lookup(name); fl != nil {
			root.PersistentFlags().AddGoFlag(fl)
		}
	}
}
