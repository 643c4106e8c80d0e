package fleetrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/fleet"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// These drive the Runner with jobs that stand in for a verb: what is
// tested is the fleet's own part (the one question, the order of plan and
// run, the summary and the exit code), which needs no cluster; the verbs on
// real clusters are test/fleet's.

func factory(t *testing.T, contexts ...string) *cmdutil.Factory {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for _, name := range contexts {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + name + ".example:6443"}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "t"}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &path
	f := cmdutil.NewFactory(flags, awsclient.NewOptions())
	f.Contexts = contexts
	return f
}

type call struct {
	context         string
	plan, confirmed bool
}

type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) job(fail map[string]error) Job {
	return func(_ context.Context, c Cluster) (*status.Report, error) {
		r.mu.Lock()
		r.calls = append(r.calls, call{c.Context, c.Plan, c.Confirmed})
		r.mu.Unlock()
		if c.Plan {
			fmt.Fprintf(c.ErrOut, "would set up %s\n", c.Context)
		} else {
			fmt.Fprintf(c.ErrOut, "set up %s\n", c.Context)
		}
		return &status.Report{Checks: []status.Check{{Name: status.CheckDPAReconciled, Result: status.OK}}}, fail[c.Context]
	}
}

func (r *recorder) ran(plan bool) []string {
	var out []string
	for _, c := range r.calls {
		if c.plan == plan {
			out = append(out, c.context)
		}
	}
	slices.Sort(out)
	return out
}

func TestConfirmOnceForTheSet(t *testing.T) {
	for _, tc := range []struct {
		answer  string
		planErr bool
		wantRun bool
	}{{"y\n", false, true}, {"n\n", false, false}, {"", false, false}, {"y\n", true, false}} {
		t.Run(fmt.Sprintf("%q plan fails %v", tc.answer, tc.planErr), func(t *testing.T) {
			var out, errOut bytes.Buffer
			rec := &recorder{}
			job := rec.job(nil)
			if tc.planErr {
				inner := job
				job = func(ctx context.Context, c Cluster) (*status.Report, error) {
					rep, err := inner(ctx, c)
					if c.Plan && c.Context == "b" {
						return rep, errors.New("cannot read b's IAM")
					}
					return rep, err
				}
			}
			r := &Runner{Verb: "setup", Flags: &Flags{Parallel: 2}, Factory: factory(t, "a", "b", "c"),
				IOStreams: genericiooptions.IOStreams{In: strings.NewReader(tc.answer), Out: &out, ErrOut: &errOut},
				Confirm:   "Set up OADP as planned above", IsTerminal: func() bool { return true }, Job: job}
			err := r.Run(context.Background())
			t.Logf("stderr:\n%s", errOut.String())
			if got := strings.Join(rec.ran(true), ","); got != "a,b,c" {
				t.Errorf("plans of %s, want every cluster's", got)
			}
			q := "Set up OADP as planned above on the 3 clusters a, b, c? [y/N]"
			if n := strings.Count(errOut.String(), q); n != 1 && !tc.planErr {
				t.Errorf("asked %d times, want once: %q", n, q)
			}
			if i, j := strings.Index(errOut.String(), "would set up c"), strings.Index(errOut.String(), q); !tc.planErr && (i < 0 || j < i) {
				t.Errorf("the plans are not shown before the question")
			}
			ran := rec.ran(false)
			if tc.wantRun {
				if err != nil || strings.Join(ran, ",") != "a,b,c" {
					t.Errorf("err %v, ran %v; want all three run", err, ran)
				}
				for _, c := range rec.calls {
					if !c.plan && !c.confirmed {
						t.Errorf("%s ran unconfirmed: it would ask again", c.context)
					}
				}
				return
			}
			if len(ran) > 0 || err == nil || !strings.Contains(err.Error(), "cancelled") || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("ran %v, err %v; want nothing run and a cancellation", ran, err)
			}
			if tc.planErr && !strings.Contains(errOut.String(), "b: error: cannot read b's IAM") {
				t.Errorf("the failed plan is not named")
			}
		})
	}
}

// Without a terminal nothing is asked: each cluster runs as the verb alone
// would (changing only with --yes); the exit code is the worst, one line
// names the clusters that failed, and -o json is the list.
func TestRunWorstCodeAndList(t *testing.T) {
	var out, errOut bytes.Buffer
	rec := &recorder{}
	job := rec.job(map[string]error{
		"b": exitcode.WithCode(exitcode.Timeout, errors.New("timed out after 10m0s waiting for the DPA\nsecond line")),
		"c": errors.New("lost the cluster"),
	})
	r := &Runner{Verb: "setup", Flags: &Flags{Parallel: 4}, Factory: factory(t, "a", "b", "c", "d"),
		IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, Output: "json",
		Confirm: "Set up", IsTerminal: func() bool { return false }, Job: job}
	err := r.Run(context.Background())
	if exitcode.Code(err) != exitcode.Error || err == nil || !strings.Contains(err.Error(), "2 of 4 clusters did not succeed: b (timed out), c (error)") {
		t.Errorf("err %v (code %d), want exit 1 naming b and c", err, exitcode.Code(err))
	}
	if len(rec.ran(true)) > 0 {
		t.Errorf("planned without a terminal")
	}
	var rows []fleet.Row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out.String())
	}
	if len(rows) != 4 || rows[0].Context != "a" || rows[0].Result != "ok" || rows[0].DPAReconciled != "yes" ||
		rows[1].ExitCode != exitcode.Timeout || rows[1].Error != "timed out after 10m0s waiting for the DPA" || rows[2].Result != "error" {
		t.Errorf("rows %+v", rows)
	}
	for _, c := range []string{"a", "b", "c", "d"} {
		if !strings.Contains(errOut.String(), "=== "+c+" ===\nset up "+c+"\n") {
			t.Errorf("no group of %s's lines:\n%s", c, errOut.String())
		}
	}
	if !strings.Contains(errOut.String(), "set up c\nerror: lost the cluster\n") {
		t.Errorf("c's one error line is not in its group:\n%s", errOut.String())
	}
}

// A panicking job fails its cluster alone; the human summary is a table.
func TestRunPanicFailsAlone(t *testing.T) {
	var out, errOut bytes.Buffer
	r := &Runner{Verb: "status", Flags: &Flags{Parallel: 1}, Factory: factory(t, "a", "b"),
		IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Job: func(_ context.Context, c Cluster) (*status.Report, error) {
			if c.Context == "a" {
				panic("nil map")
			}
			return nil, nil
		}}
	err := r.Run(context.Background())
	if exitcode.Code(err) != exitcode.Error {
		t.Errorf("exit %d, want 1", exitcode.Code(err))
	}
	if !strings.Contains(out.String(), "CONTEXT") || !strings.Contains(out.String(), "error: internal error on a: nil map") || !regexpLine(out.String(), `^b\s.*\sok\s*$`) {
		t.Errorf("summary:\n%s", out.String())
	}
}

func regexpLine(s, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(s, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
