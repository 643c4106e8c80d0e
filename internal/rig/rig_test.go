package rig

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A rig that fails halfway (here: no CRD fixtures after the servers are up)
// stops what it started and removes its directory.
func TestFailedStartLeavesNothing(t *testing.T) {
	if _, err := BinDir(); err != nil {
		SkipOrFail(t, err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("OADP_STS_CRDS", t.TempDir())
	r, err := Start(context.Background(), Options{NoMoto: true})
	if err == nil {
		r.Stop()
		t.Fatal("Start succeeded without CRD fixtures")
	}
	if !IsMissing(err) {
		t.Fatalf("error %v, want the missing fixtures", err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "oadp-sts-rig-*"))
	if len(left) > 0 {
		entries, _ := os.ReadDir(left[0])
		t.Errorf("the failed rig left %v behind (%d entries)", left, len(entries))
	}
}
