package velerorun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/download"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// Details is what `describe --details` adds: the files Velero wrote to the
// storage location for a backup or restore, and its volume data transfers.
type Details struct {
	// Resources is a backup's resource list.
	Resources velero.ResourceList `json:"resources,omitempty"`
	// Volumes is a backup's volume infos: how each volume was protected.
	Volumes []velero.VolumeInfo `json:"volumes,omitempty"`
	// PodVolumeBackups or PodVolumeRestores (file-system backup).
	PodVolumes []velero.Transfer `json:"podVolumes,omitempty"`
	// DataUploads or DataDownloads (Data Mover).
	DataTransfers []velero.Transfer `json:"dataTransfers,omitempty"`
	Results       *velero.Results   `json:"results,omitempty"`
	// Unavailable says what could not be read, and why.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// detailsTimeout bounds each DownloadRequest of --details and of the
// failure summary: Velero answers in milliseconds when it runs.
const detailsTimeout = 20 * time.Second

// FetchDetails reads the details of u (a Backup or Restore). Nothing here
// fails the command: what cannot be read is said in Unavailable.
//
//nolint:funlen // one read per file Velero stores beside a backup, in the order describe prints them
func FetchDetails(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured, insecure bool) *Details {
	d := &Details{Unavailable: map[string]string{}}
	ns, name := u.GetNamespace(), u.GetName()
	isBackup := u.GetKind() != "Restore"
	var mu sync.Mutex
	unavailable := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		d.Unavailable[what] = err.Error()
	}
	var wg sync.WaitGroup
	list := func(what string, r schema.GroupVersionResource, label string, into *[]velero.Transfer) {
		wg.Go(func() {
			l, err := dyn.Resource(r).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: label + "=" + name})
			if err != nil {
				if !kube.IsTypeMissing(err) {
					unavailable(what, kube.Explain(err, r, ""))
				}
				return
			}
			for i := range l.Items {
				*into = append(*into, velero.ReadTransfer(&l.Items[i]))
			}
		})
	}
	if isBackup {
		list("podVolumes", gvr.PodVolumeBackup, velero.LabelBackupName, &d.PodVolumes)
		list("dataTransfers", gvr.DataUpload, velero.LabelBackupName, &d.DataTransfers)
	} else {
		list("podVolumes", gvr.PodVolumeRestore, "velero.io/restore-name", &d.PodVolumes)
		list("dataTransfers", gvr.DataDownload, "velero.io/restore-name", &d.DataTransfers)
	}

	if phase := velero.ReadStatus(u).Phase; !velero.Terminal(phase) || phase == velero.PhaseFailedValidation {
		why := "Velero uploads it when the " + kindNoun(u) + " ends"
		if phase == velero.PhaseFailedValidation {
			why = "Velero stores nothing for a " + kindNoun(u) + " that failed validation"
		}
		for _, f := range files(isBackup) {
			unavailable(f, errors.New(why))
		}
		wg.Wait()
		return d
	}
	opts := download.Options{Timeout: detailsTimeout, InsecureSkipTLSVerify: insecure}
	var err error
	if opts.CACert, err = download.LocationCACert(ctx, dyn, ns, locationOf(ctx, dyn, u)); err != nil {
		for _, f := range files(isBackup) {
			unavailable(f, err)
		}
		wg.Wait()
		return d
	}
	get := func(what, target string, parse func([]byte) error) {
		wg.Go(func() {
			b, err := download.Fetch(ctx, dyn, ns, target, name, opts)
			if errors.Is(err, download.ErrNotFound) {
				err = fmt.Errorf("not in the storage location (Velero writes it only when there is something to say, and older Velero versions not at all)")
			}
			if err == nil {
				err = parse(b)
			}
			if err != nil {
				unavailable(what, err)
			}
		})
	}
	resultsTarget := velero.TargetRestoreResults
	if isBackup {
		resultsTarget = velero.TargetBackupResults
		get("resources", velero.TargetBackupResourceList, func(b []byte) (err error) {
			d.Resources, err = velero.ParseResourceList(b)
			return err
		})
		get("volumes", velero.TargetBackupVolumeInfos, func(b []byte) (err error) {
			d.Volumes, err = velero.ParseVolumeInfos(b)
			return err
		})
	}
	get("results", resultsTarget, func(b []byte) (err error) {
		d.Results, err = velero.ParseResults(b)
		return err
	})
	wg.Wait()
	return d
}

func files(isBackup bool) []string {
	if isBackup {
		return []string{"resources", "volumes", "results"}
	}
	return []string{"results"}
}

func kindNoun(u *unstructured.Unstructured) string {
	if u.GetKind() == "Restore" {
		return "restore"
	}
	return "backup"
}

// locationOf is the storage location holding u's files: a restore's are
// beside its backup's.
func locationOf(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured) string {
	if u.GetKind() != "Restore" {
		return kube.Str(u.Object, "spec", "storageLocation")
	}
	b, err := dyn.Resource(gvr.Backup).Namespace(u.GetNamespace()).Get(ctx, kube.Str(u.Object, "spec", "backupName"), metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return kube.Str(b.Object, "spec", "storageLocation")
}

// firstErrors is how many of a failed backup's or restore's errors the
// summary shows; the rest are a command away.
const firstErrors = 5

// explainFailure prints, after a backup or restore ended PartiallyFailed or
// Failed, its first errors from Velero's results file and the command that
// prints Velero's whole log of it.
func explainFailure(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured, insecure bool, out io.Writer) {
	k, name, ns := kindNoun(u), u.GetName(), u.GetNamespace()
	s := velero.ReadStatus(u)
	if s.Errors > 0 {
		opts := download.Options{Timeout: detailsTimeout, InsecureSkipTLSVerify: insecure}
		opts.CACert, _ = download.LocationCACert(ctx, dyn, ns, locationOf(ctx, dyn, u))
		target := velero.TargetBackupResults
		if k == "restore" {
			target = velero.TargetRestoreResults
		}
		b, err := download.Fetch(ctx, dyn, ns, target, name, opts)
		var res *velero.Results
		if err == nil {
			res, err = velero.ParseResults(b)
		}
		if err != nil {
			fmt.Fprintf(out, "Velero's results file could not be read (%v).\n", err)
		} else if msgs := res.Errors.Messages(); len(msgs) > 0 {
			fmt.Fprintf(out, "First errors, from Velero's results file:\n")
			for _, m := range msgs[:min(len(msgs), firstErrors)] {
				fmt.Fprintf(out, "  error: %s\n", m)
			}
			if len(msgs) > firstErrors {
				fmt.Fprintf(out, "  ... and %d more: 'kubectl oadp-sts describe %s %s --details%s'\n", len(msgs)-firstErrors, k, name, cmdutil.NamespaceFlag(ns))
			}
		}
	}
	fmt.Fprintf(out, "Velero's log of it: 'kubectl oadp-sts logs %s %s%s'\n", k, name, cmdutil.NamespaceFlag(ns))
}

// WaitReportAndExplain is waitAndReport, plus the first errors and the logs
// command when the backup or restore did not complete.
func WaitReportAndExplain(ctx context.Context, dyn dynamic.Interface, insecure bool, w *wait.Watch, k Kind, name, ns string, timeout time.Duration, out, errOut io.Writer, next string) error {
	err := waitAndReport(ctx, w, k, name, ns, timeout, out, errOut, next)
	switch exitcode.Code(err) {
	case exitcode.PartiallyFailed, exitcode.Failed:
		u, gerr := dyn.Resource(k.GVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if gerr == nil && velero.ReadStatus(u).Phase != velero.PhaseFailedValidation {
			explainFailure(ctx, dyn, u, insecure, out)
		}
	}
	return err
}

// Insecure is kubectl's --insecure-skip-tls-verify, which also skips the
// certificate check of object storage, as the flag of the same name does in
// Velero's CLI.
func Insecure(f *cmdutil.Factory) bool {
	return f.ConfigFlags.Insecure != nil && *f.ConfigFlags.Insecure
}
