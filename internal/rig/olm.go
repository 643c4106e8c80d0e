package rig

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
)

// StandInOLM is a STAND-IN for OLM v0's catalog operator and package
// server, on the rig's real API server with OLM's real CRDs
// (operator-framework/api): OLM itself does not run here. It plays only
// what setup leans on, the way OLM does it for one package in one
// namespace:
//
//   - the package server's PackageManifest in the catalog namespace, with the
//     channels' entries (a stand-in CRD, since the real one is an aggregated
//     API);
//   - for a Subscription, an InstallPlan in the Subscription's namespace
//     (generateName install-, ownerReference to the Subscription, label
//     operators.coreos.com/<package>.<namespace>) for its startingCSV, else
//     the channel's head: spec.approval from installPlanApproval,
//     spec.approved false and status.phase RequiresApproval with Manual,
//     approved and Installing with Automatic; the Subscription's
//     status.installPlanRef, installplan, currentCSV, state UpgradePending
//     and condition InstallPlanPending;
//   - only once the plan is approved: the bundle's CRDs, a Succeeded CSV,
//     phase Complete, the Subscription's installedCSV; then, when the channel
//     has a CSV after the installed one, the next InstallPlan (an upgrade),
//     which with Manual approval waits like the first.
//
// It does not resolve dependencies, skips or replaces chains (a channel is
// its entries in order), nor run the operator.
type StandInOLM struct {
	Rig       *Rig
	Namespace string
	Package   string
	// CatalogNamespace holds the PackageManifest (openshift-marketplace).
	CatalogNamespace string
	// Channels are each channel's CSV names, oldest first.
	Channels map[string][]string
	// CRDFiles are the bundle's CRDs, applied when a plan completes.
	CRDFiles []string
	// NoPackageServer serves no PackageManifest, as on a cluster whose
	// package server is down or lacks the catalog.
	NoPackageServer bool

	mu        sync.Mutex
	installed bool
}

// PackageManifestCRD is the stand-in for the package server's aggregated
// PackageManifest API: same group, version, kind and namespaced scope; it
// keeps every field and validates none.
var PackageManifestCRD = obj(map[string]any{
	"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
	"metadata": map[string]any{"name": "packagemanifests.packages.operators.coreos.com"},
	"spec": map[string]any{
		"group": "packages.operators.coreos.com", "scope": "Namespaced",
		"names": map[string]any{"kind": "PackageManifest", "listKind": "PackageManifestList", "plural": "packagemanifests", "singular": "packagemanifest"},
		"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
	},
})

// Start serves the PackageManifest and plays OLM until ctx ends; errors are
// reported through errf (a test's t.Errorf).
func (s *StandInOLM) Start(ctx context.Context, errf func(string, ...any)) error {
	if s.CatalogNamespace == "" {
		s.CatalogNamespace = "openshift-marketplace"
	}
	if !s.NoPackageServer {
		if err := s.Rig.ApplyCRDObjects(ctx, PackageManifestCRD); err != nil {
			return err
		}
		if err := s.Rig.Apply(ctx, obj(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": s.CatalogNamespace}})); err != nil {
			return err
		}
		if err := s.Rig.Apply(ctx, s.packageManifest()); err != nil {
			return err
		}
	}
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := s.step(ctx); err != nil && ctx.Err() == nil {
				errf("stand-in OLM: %v", err)
				return
			}
		}
	}()
	return nil
}

func (s *StandInOLM) packageManifest() *unstructured.Unstructured {
	var channels []any
	names := make([]string, 0, len(s.Channels))
	for n := range s.Channels {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		csvs := s.Channels[n]
		var entries []any
		for i := len(csvs) - 1; i >= 0; i-- { // the package server lists the head first
			entries = append(entries, map[string]any{"name": csvs[i], "version": csvVersion(csvs[i])})
		}
		channels = append(channels, map[string]any{"name": n, "currentCSV": csvs[len(csvs)-1], "entries": entries})
	}
	return obj(map[string]any{
		"apiVersion": "packages.operators.coreos.com/v1", "kind": "PackageManifest",
		"metadata": map[string]any{"name": s.Package, "namespace": s.CatalogNamespace},
		"status": map[string]any{"packageName": s.Package, "catalogSource": "redhat-operators", "catalogSourceNamespace": s.CatalogNamespace,
			"defaultChannel": "stable", "channels": channels},
	})
}

func csvVersion(csv string) string {
	if i := strings.LastIndex(csv, ".v"); i >= 0 {
		return csv[i+2:]
	}
	return ""
}

// step is one pass of the catalog operator over the Subscription.
func (s *StandInOLM) step(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs := s.Rig.Dynamic.Resource(gvr.Subscription).Namespace(s.Namespace)
	sub, err := subs.Get(ctx, s.Package, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	ref, _, _ := unstructured.NestedString(sub.Object, "status", "installPlanRef", "name")
	if ref == "" {
		channel, _, _ := unstructured.NestedString(sub.Object, "spec", "channel")
		csvs := s.Channels[channel]
		if len(csvs) == 0 {
			return nil // OLM: ResolutionFailed; setup's wait times out
		}
		target := csvs[len(csvs)-1]
		if start, _, _ := unstructured.NestedString(sub.Object, "spec", "startingCSV"); start != "" {
			if !slices.Contains(csvs, start) {
				return nil
			}
			target = start
		}
		return s.plan(ctx, sub, target, 1)
	}
	plans := s.Rig.Dynamic.Resource(gvr.InstallPlan).Namespace(s.Namespace)
	ip, err := plans.Get(ctx, ref, metav1.GetOptions{})
	if err != nil {
		return err
	}
	approved, _, _ := unstructured.NestedBool(ip.Object, "spec", "approved")
	phase, _, _ := unstructured.NestedString(ip.Object, "status", "phase")
	if !approved || phase == "Complete" {
		return nil
	}
	csvs, _, _ := unstructured.NestedStringSlice(ip.Object, "spec", "clusterServiceVersionNames")
	if err := s.install(ctx, sub, csvs[0]); err != nil {
		return err
	}
	if err := unstructured.SetNestedField(ip.Object, "Complete", "status", "phase"); err != nil {
		return err
	}
	if _, err := plans.UpdateStatus(ctx, ip, metav1.UpdateOptions{}); err != nil {
		return err
	}
	// The upgrade: the channel's next CSV after the installed one.
	channel, _, _ := unstructured.NestedString(sub.Object, "spec", "channel")
	chain := s.Channels[channel]
	if i := slices.Index(chain, csvs[0]); i >= 0 && i+1 < len(chain) {
		sub, err = subs.Get(ctx, s.Package, metav1.GetOptions{})
		if err != nil {
			return err
		}
		gen, _, _ := unstructured.NestedInt64(sub.Object, "status", "installPlanGeneration")
		return s.plan(ctx, sub, chain[i+1], gen+1)
	}
	return nil
}

// plan makes the InstallPlan for csv and points the Subscription at it.
func (s *StandInOLM) plan(ctx context.Context, sub *unstructured.Unstructured, csv string, gen int64) error {
	approval, _, _ := unstructured.NestedString(sub.Object, "spec", "installPlanApproval")
	if approval == "" {
		approval = "Automatic"
	}
	manual := approval == "Manual"
	ip := obj(map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
		"metadata": map[string]any{"generateName": "install-", "namespace": s.Namespace,
			"labels": map[string]any{fmt.Sprintf("operators.coreos.com/%s.%s", s.Package, s.Namespace): ""},
			"ownerReferences": []any{map[string]any{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
				"name": sub.GetName(), "uid": string(sub.GetUID()), "controller": false, "blockOwnerDeletion": false}}},
		"spec": map[string]any{"approval": approval, "approved": !manual, "clusterServiceVersionNames": []any{csv}, "generation": gen},
	})
	plans := s.Rig.Dynamic.Resource(gvr.InstallPlan).Namespace(s.Namespace)
	created, err := plans.Create(ctx, ip, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	phase := "Installing"
	if manual {
		phase = "RequiresApproval"
	}
	created.Object["status"] = map[string]any{"phase": phase,
		"catalogSources": []any{"redhat-operators"}}
	if _, err := plans.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	st, _, _ := unstructured.NestedMap(sub.Object, "status")
	if st == nil {
		st = map[string]any{}
	}
	st["installPlanRef"] = map[string]any{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
		"name": created.GetName(), "namespace": s.Namespace, "uid": string(created.GetUID()), "resourceVersion": created.GetResourceVersion()}
	st["installplan"] = map[string]any{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan", "name": created.GetName(), "uuid": string(created.GetUID())}
	st["installPlanGeneration"] = gen
	st["currentCSV"] = csv
	st["state"] = "UpgradePending"
	st["lastUpdated"] = now
	if manual {
		st["conditions"] = []any{map[string]any{"type": "InstallPlanPending", "status": "True", "reason": "RequiresApproval", "lastTransitionTime": now}}
	} else {
		delete(st, "conditions")
	}
	sub.Object["status"] = st
	_, err = s.Rig.Dynamic.Resource(gvr.Subscription).Namespace(s.Namespace).UpdateStatus(ctx, sub, metav1.UpdateOptions{})
	return err
}

// install does what the approved plan's steps do: the bundle's CRDs, the
// CSV (replacing the one installed before), the Subscription's installedCSV.
func (s *StandInOLM) install(ctx context.Context, sub *unstructured.Unstructured, csv string) error {
	if !s.installed {
		if err := s.Rig.ApplyCRDFiles(ctx, s.CRDFiles...); err != nil {
			return err
		}
		s.installed = true
	}
	csvs := s.Rig.Dynamic.Resource(gvr.CSV).Namespace(s.Namespace)
	if old, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV"); old != "" && old != csv {
		if err := csvs.Delete(ctx, old, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	c := obj(map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": csv, "namespace": s.Namespace},
		"spec":     map[string]any{"displayName": "OADP Operator (stand-in OLM)", "version": csvVersion(csv), "install": map[string]any{"strategy": "deployment"}},
		"status":   map[string]any{"phase": "Succeeded", "reason": "InstallSucceeded"},
	})
	if err := s.Rig.Apply(ctx, c); err != nil {
		return err
	}
	if err := s.Rig.ApplyStatus(ctx, c); err != nil {
		return err
	}
	if err := unstructured.SetNestedField(sub.Object, csv, "status", "installedCSV"); err != nil {
		return err
	}
	if err := unstructured.SetNestedField(sub.Object, "AtLatestKnown", "status", "state"); err != nil {
		return err
	}
	unstructured.RemoveNestedField(sub.Object, "status", "conditions")
	_, err := s.Rig.Dynamic.Resource(gvr.Subscription).Namespace(s.Namespace).UpdateStatus(ctx, sub, metav1.UpdateOptions{})
	return err
}

// Remove deletes the PackageManifest and its stand-in CRD, so later tests
// see a cluster without a package server again.
func (s *StandInOLM) Remove(ctx context.Context) error {
	err := s.Rig.Dynamic.Resource(gvr.PackageManifest).Namespace(s.CatalogNamespace).Delete(ctx, s.Package, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return s.Rig.DeleteObject(ctx, PackageManifestCRD)
}
