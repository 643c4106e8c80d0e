package setup

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/rig"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
)

// On a terminal setup asks y/N on In; only "y" changes AWS. A terminal cannot
// be had in a test process, so isTerminal stands in for it.
func TestSetupAsksOnATerminal(t *testing.T) {
	r := rig.Get(t)
	r.UseEnv(t)
	for _, tc := range []struct {
		answer  string
		created bool
	}{{"\n", false}, {"n\n", false}, {"", false}, {"y\n", true}} {
		t.Run(strings.TrimSpace(tc.answer), func(t *testing.T) {
			r.Fresh(t)
			var errOut bytes.Buffer
			f := cmdutil.NewFactory(genericclioptions.NewConfigFlags(true), awsclient.NewOptions())
			o := &Options{factory: f, PolicyName: "OadpVer1", RolePath: "/", DryRun: DryRunNone, Store: BucketOptions{CloudStorage: true},
				IOStreams:  genericiooptions.IOStreams{In: strings.NewReader(tc.answer), Out: &bytes.Buffer{}, ErrOut: &errOut},
				isTerminal: func() bool { return true }}
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			err := o.Run(context.Background())
			t.Logf("stderr:\n%s", errOut.String())
			if !strings.Contains(errOut.String(), "Change IAM in AWS account "+rig.AWSAccount+"? [y/N]") {
				t.Errorf("no prompt")
			}
			_, getErr := r.IAM().GetRole(context.Background(), &awsiam.GetRoleInput{RoleName: aws.String(rig.InfraName + "-openshift-oadp-aws-cloud-credentials")})
			if created := getErr == nil; created != tc.created {
				t.Errorf("answer %q: role created %v, want %v", tc.answer, created, tc.created)
			}
			if tc.created && err != nil {
				t.Errorf("err %v", err)
			}
			if !tc.created && (err == nil || !strings.Contains(err.Error(), "setup cancelled: AWS not changed")) {
				t.Errorf("err %v, want cancelled", err)
			}
		})
	}
}
