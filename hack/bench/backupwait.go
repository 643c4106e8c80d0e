package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// backupWaitBudget is how soon `backup --wait` must notice that Velero
// finished the backup.
const backupWaitBudget = 100 * time.Millisecond

// backupWait measures the reaction of `backup hello-world` (the built
// plugin, stderr a pipe so it prints one line per change) to the status
// change that ends the backup: from the moment the bench, playing Velero,
// sends the Completed status to the moment the plugin's line saying
// Completed arrives. The median and worst of the runs are printed against
// the budget.
func (b *bench) backupWait(ctx context.Context) error {
	const ns = "openshift-adp"
	for _, n := range []string{ns, "hello-world"} {
		_, err := b.r.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
		"metadata": map[string]any{"name": "bench-dpa-1", "namespace": ns},
		"spec":     map[string]any{"provider": "aws", "default": true, "objectStorage": map[string]any{"bucket": "bench", "prefix": "velero"}},
		"status":   map[string]any{"phase": "Available"},
	}}
	bsls := b.r.Dynamic.Resource(gvr.BSL).Namespace(ns)
	if _, err := bsls.Create(ctx, bsl, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	backups := b.r.Dynamic.Resource(gvr.Backup).Namespace(ns)
	var lat []time.Duration
	for i := 0; i < b.runs; i++ {
		_ = backups.Delete(ctx, "hello-world", metav1.DeleteOptions{})
		if err := wait.Deleted(ctx, backups, "hello-world", wait.Options{What: "bench backup", Timeout: 30 * time.Second}); err != nil {
			return err
		}
		d, err := b.backupWaitOnce(ctx)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	med, worst := lat[len(lat)/2], lat[len(lat)-1]
	verdict := "within"
	if worst > backupWaitBudget {
		verdict = "NOT within"
	}
	fmt.Printf("\nbackup --wait reaction to Completed (status write sent -> plugin's line): median %s, worst %s over %d runs: %s the %s budget\n",
		med.Round(100*time.Microsecond), worst.Round(100*time.Microsecond), len(lat), verdict, backupWaitBudget)
	return nil
}

func (b *bench) backupWaitOnce(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	backups := b.r.Dynamic.Resource(gvr.Backup).Namespace("openshift-adp")
	c := b.pluginCmd("backup", "hello-world", "--timeout", "1m")
	stderr, err := c.StderrPipe()
	if err != nil {
		return 0, err
	}
	c.Stdout = nil
	if err := c.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = c.Wait() }() // its exit is not what is measured
	seen := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasSuffix(sc.Text(), "Completed  10/10 items") {
				seen <- time.Now()
			}
		}
	}()
	// Play Velero: once the Backup exists and the plugin's watch is up
	// (it starts before the create), finish the backup.
	if _, err := wait.For(ctx, backups, "hello-world", func(*unstructured.Unstructured) (bool, error) { return true, nil }, wait.Options{}); err != nil {
		return 0, err
	}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{
		"phase": "Completed", "progress": map[string]any{"itemsBackedUp": 10, "totalItems": 10},
		"startTimestamp": time.Now().UTC().Format(time.RFC3339), "completionTimestamp": time.Now().UTC().Format(time.RFC3339),
	}})
	sent := time.Now()
	if _, err := backups.Patch(ctx, "hello-world", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return 0, err
	}
	select {
	case at := <-seen:
		return at.Sub(sent), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("the plugin never reported Completed")
	}
}
