package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Fleet is several rig clusters, each with its own API server, etcd,
// identity (cluster ID, infrastructure name, region, OIDC issuer) and
// kubeconfig context, sharing one moto: the clusters of one AWS account.
// Its Kubeconfig holds every cluster's context, as an administrator's does.
type Fleet struct {
	Dir        string
	Kubeconfig string
	Rigs       []*Rig
}

// StartFleet starts one cluster per identity (FleetIdentity(i) for a zero
// one); the first runs moto for all. Identities may share an issuer, as
// clusters sharing a registered ROSA OIDC configuration do. On error,
// everything already started is stopped.
func StartFleet(ctx context.Context, opts Options, ids ...Identity) (f *Fleet, err error) {
	if len(ids) == 0 {
		return nil, errors.New("a fleet needs at least one cluster")
	}
	for i := range ids {
		if ids[i].IssuerHost == "" {
			ids[i] = FleetIdentity(i)
		}
	}
	dir, err := os.MkdirTemp("", "oadp-sts-rig-fleet-")
	if err != nil {
		return nil, err
	}
	f = &Fleet{Dir: dir, Rigs: make([]*Rig, len(ids))}
	defer func() {
		if err != nil {
			f.Stop()
			f = nil
		}
	}()
	first := opts
	first.Identity, first.AWS = ids[0], nil
	if f.Rigs[0], err = Start(ctx, first); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", ids[0].Context, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i := 1; i < len(ids); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := opts
			o.Identity, o.AWS = ids[i], f.Rigs[0]
			r, err := Start(ctx, o)
			if err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", ids[i].Context, err)
				return
			}
			f.Rigs[i] = r
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, f.writeKubeconfig()
}

func (f *Fleet) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	for _, r := range f.Rigs {
		ca, err := os.ReadFile(filepath.Join(r.Dir, "certs", "apiserver.crt"))
		if err != nil {
			return err
		}
		r.addToKubeconfig(cfg, ca)
	}
	cfg.CurrentContext = f.Rigs[0].Identity.Context
	f.Kubeconfig = filepath.Join(f.Dir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, f.Kubeconfig)
}

// Stop stops every cluster (moto's last) and removes the fleet's directory.
func (f *Fleet) Stop() {
	if f == nil {
		return
	}
	for i := len(f.Rigs) - 1; i >= 0; i-- {
		f.Rigs[i].Stop()
	}
	if os.Getenv("OADP_STS_RIG_KEEP") == "" {
		os.RemoveAll(f.Dir)
	}
}

// Contexts are the fleet's kubeconfig context names, in order.
func (f *Fleet) Contexts() []string {
	out := make([]string, len(f.Rigs))
	for i, r := range f.Rigs {
		out[i] = r.Identity.Context
	}
	return out
}

// Rig is the cluster of the named context, nil if none.
func (f *Fleet) Rig(context string) *Rig {
	for _, r := range f.Rigs {
		if r.Identity.Context == context {
			return r
		}
	}
	return nil
}

// AWS is the rig that runs the fleet's moto (for IAM(), S3(), RecordAWS).
func (f *Fleet) AWS() *Rig { return f.Rigs[0] }

// Env is the environment a plugin process needs to use the fleet: the
// kubeconfig with every context, and AWS at the one moto with no region of
// its own, so each cluster's region comes from the cluster, as for a user
// whose AWS configuration names none.
func (f *Fleet) Env() map[string]string {
	env := f.Rigs[0].Env()
	env["KUBECONFIG"] = f.Kubeconfig
	env["AWS_REGION"] = ""
	return env
}

// UseEnv points the process environment at the fleet for the rest of the test.
func (f *Fleet) UseEnv(t testing.TB) {
	t.Helper()
	for k, v := range f.Env() {
		t.Setenv(k, v)
	}
}

// ResetAWS empties the one moto and makes every cluster's OIDC provider again.
func (f *Fleet) ResetAWS(ctx context.Context) error {
	if err := f.AWS().motoPost(ctx, "/moto-api/reset"); err != nil {
		return err
	}
	for _, r := range f.Rigs {
		if err := r.CreateOIDCProvider(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Fresh is Rig.Fresh for every cluster at once: the seeded objects back,
// setup's names forgotten, and AWS emptied once, before the test and when it ends.
func (f *Fleet) Fresh(t testing.TB) {
	t.Helper()
	reset := func() {
		ctx := context.Background()
		for _, r := range f.Rigs {
			if err := r.Seed(ctx); err != nil {
				t.Errorf("reseed %s: %v", r.Identity.Context, err)
			}
			if err := r.forgetSetup(ctx); err != nil {
				t.Errorf("forget the last setup on %s: %v", r.Identity.Context, err)
			}
		}
		if err := f.ResetAWS(ctx); err != nil {
			t.Errorf("reset AWS: %v", err)
		}
	}
	reset()
	t.Cleanup(reset)
}

// StopAPIServer kills the cluster's API server, so it becomes unreachable
// (a cluster lost mid-run); RestartAPIServer brings it back on its port.
func (r *Rig) StopAPIServer() { r.apiProc.stop() }
