package rig

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

var (
	sharedMu   sync.Mutex
	sharedOpts Options
	sharedRig  *Rig
	sharedErr  error
	sharedDone bool

	sharedFleet    *Fleet
	sharedFleetErr error
	fleetDone      bool
)

// Main runs a test package's tests with one shared rig, started by the first
// test that asks for it and stopped when the package's tests end.
//
//	func TestMain(m *testing.M) { rig.Main(m, rig.Options{}) }
func Main(m *testing.M, opts Options) {
	sharedOpts = opts
	code := m.Run()
	sharedMu.Lock()
	sharedRig.Stop()
	sharedFleet.Stop()
	sharedMu.Unlock()
	os.Exit(code)
}

// Get returns the package's shared rig. When a prerequisite is missing the
// test is skipped with the way to get it, except under CI=true, where it fails:
// CI must never pass by skipping the real servers.
func Get(t testing.TB) *Rig {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !sharedDone {
		sharedDone = true
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		start := time.Now()
		sharedRig, sharedErr = Start(ctx, sharedOpts)
		cancel()
		if sharedErr == nil {
			fmt.Fprintf(os.Stderr, "rig: kube-apiserver %s at %s, moto at %s, up in %s\n", KubeVersion, sharedRig.APIServerURL, orNone(sharedRig.AWSEndpoint), time.Since(start).Round(time.Millisecond))
		}
	}
	if sharedErr != nil {
		SkipOrFail(t, sharedErr)
	}
	return sharedRig
}

// GetFleet returns the package's shared fleet, started by the first test
// that asks for it with these identities (FleetIdentity(i) for zero ones;
// later calls get the same fleet) and stopped by Main. Skips and failures are
// as for Get.
func GetFleet(t testing.TB, ids ...Identity) *Fleet {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !fleetDone {
		fleetDone = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		start := time.Now()
		sharedFleet, sharedFleetErr = StartFleet(ctx, sharedOpts, ids...)
		cancel()
		if sharedFleetErr == nil {
			fmt.Fprintf(os.Stderr, "rig: a fleet of %d clusters (%v), moto at %s, up in %s\n", len(ids), sharedFleet.Contexts(), sharedFleet.AWS().AWSEndpoint, time.Since(start).Round(time.Millisecond))
		}
	}
	if sharedFleetErr != nil {
		SkipOrFail(t, sharedFleetErr)
	}
	return sharedFleet
}

// SkipOrFail skips t for a missing prerequisite outside CI and fails it otherwise.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if IsMissing(err) && os.Getenv("CI") != "true" {
		t.Skipf("integration test skipped: %v", err)
	}
	t.Fatalf("test rig: %v", err)
}

// UseEnv points the process environment at the rig for the rest of the test
// (KUBECONFIG, and AWS at moto); tests using it cannot run in parallel.
func (r *Rig) UseEnv(t testing.TB) {
	t.Helper()
	for k, v := range r.Env() {
		t.Setenv(k, v)
	}
}

// Fresh restores the seeded cluster objects, forgets an earlier setup's
// names (forgetSetup) and empties AWS, before the test and when it ends,
// so one test's changes never leak into the next.
func (r *Rig) Fresh(t testing.TB) {
	t.Helper()
	reset := func() {
		ctx := context.Background()
		if err := r.Seed(ctx); err != nil {
			t.Errorf("reseed: %v", err)
		}
		if err := r.forgetSetup(ctx); err != nil {
			t.Errorf("forget the last setup: %v", err)
		}
		if r.AWSEndpoint != "" {
			if err := r.ResetAWS(ctx); err != nil {
				t.Errorf("reset AWS: %v", err)
			}
		}
	}
	reset()
	t.Cleanup(reset)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
