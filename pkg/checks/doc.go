// Package checks holds the checks setup and status share, so each rule has
// one home: whether the snapshot mode fits the cluster's storage (storage
// classes, the classes PVCs use, VolumeSnapshotClasses per CSI driver), and
// what Velero's error text most likely means on STS.
//
// Reads take the dynamic client they use and return what they read with
// each part's error; the decisions (SnapshotPlan.Warnings, LikelyCauses) are
// pure. It must not write anything, wait, or word a report: setup prints the
// warnings, status turns them into a check.
package checks
