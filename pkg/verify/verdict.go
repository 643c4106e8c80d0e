package verify

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// Step names, in the order a run takes them.
const (
	StepLeftovers = "leftovers"
	StepChain     = "chain"
	StepLocation  = "location"
	StepCanary    = "canary"
	StepVolume    = "volume"
	StepBackup    = "backup"
	StepBucket    = "bucket"
	StepRestore   = "restore"
	StepCompare   = "compare"
	StepDPT       = "dpt"
	StepCleanup   = "cleanup"
)

// Result is a step's outcome.
type Result string

const (
	OK      Result = "ok"
	Warning Result = "warning"
	Skipped Result = "skipped"
	// Failed: the step ran and the data did not make it (exit 4).
	Failed Result = "failed"
	// Timeout: the step's wait ran out (exit 5).
	Timeout Result = "timeout"
	// Interrupted: Ctrl-C (exit 1).
	Interrupted Result = "interrupted"
	// Error: the plugin could not do the step (an API error, exit 1).
	Error Result = "error"
)

// Step is one line of the run.
type Step struct {
	Name    string    `json:"name"`
	Result  Result    `json:"result"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Message string    `json:"message,omitempty"`
	Cause   string    `json:"cause,omitempty"`
	Fix     string    `json:"fix,omitempty"`
}

// Operation is a Backup or Restore as Velero reported it.
type Operation struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	Items int64  `json:"items"`
	// VeleroSeconds is completion minus start as Velero stamped them.
	VeleroSeconds float64 `json:"veleroSeconds"`
}

// BucketUsage is what the backup wrote under its prefix.
type BucketUsage struct {
	Bucket  string `json:"bucket"`
	Prefix  string `json:"prefix"`
	Objects int    `json:"objects"`
	Bytes   int64  `json:"bytes"`
	// AfterCleanup is how many objects of the run remained after cleanup.
	AfterCleanup int `json:"afterCleanup"`
}

// DPTResult is a DataProtectionTest's status, as the CRD shapes it.
type DPTResult struct {
	Name            string        `json:"name"`
	Phase           string        `json:"phase"`
	ErrorMessage    string        `json:"errorMessage,omitempty"`
	UploadSpeedMbps int64         `json:"uploadSpeedMbps,omitempty"`
	UploadDuration  string        `json:"uploadDuration,omitempty"`
	UploadSuccess   bool          `json:"uploadSuccess"`
	UploadError     string        `json:"uploadError,omitempty"`
	Encryption      string        `json:"encryption,omitempty"`
	Versioning      string        `json:"versioning,omitempty"`
	S3Vendor        string        `json:"s3Vendor,omitempty"`
	SnapshotSummary string        `json:"snapshotSummary,omitempty"`
	Snapshots       []DPTSnapshot `json:"snapshots,omitempty"`
}

// DPTSnapshot is one PVC's CSI snapshot test.
type DPTSnapshot struct {
	PVC           string `json:"pvc"`
	Status        string `json:"status"`
	ReadyDuration string `json:"readyDuration,omitempty"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
}

// Summary is the DPT's results in one line.
func (d *DPTResult) Summary() string {
	var parts []string
	switch {
	case d.UploadSuccess:
		parts = append(parts, fmt.Sprintf("upload %d Mbps (%s)", d.UploadSpeedMbps, orNone(d.UploadDuration)))
	case d.UploadError != "":
		parts = append(parts, "upload failed: "+d.UploadError)
	}
	parts = append(parts, "encryption "+orNone(d.Encryption), "versioning "+orNone(d.Versioning))
	if d.S3Vendor != "" {
		parts = append(parts, "vendor "+d.S3Vendor)
	}
	for _, s := range d.Snapshots {
		p := "snapshot of " + s.PVC + " " + orNone(s.Status)
		if s.ReadyDuration != "" {
			p += " in " + s.ReadyDuration
		}
		if s.ErrorMessage != "" {
			p += ": " + s.ErrorMessage
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// Verdict is the run's one line and its exit code.
type Verdict struct {
	Verified bool   `json:"verified"`
	Code     int    `json:"exitCode"`
	Line     string `json:"line"`
	// Link is the broken link named: a status check's name or a step's.
	Link  string `json:"link,omitempty"`
	Cause string `json:"cause,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

// Report is what a run prints, and -o json gives for monitoring.
type Report struct {
	Canary    string       `json:"canary"`
	Restored  string       `json:"restored"`
	Namespace string       `json:"namespace"`
	Location  string       `json:"location,omitempty"`
	DryRun    string       `json:"dryRun,omitempty"`
	Steps     []Step       `json:"steps"`
	Backup    *Operation   `json:"backup,omitempty"`
	Restore   *Operation   `json:"restore,omitempty"`
	Bucket    *BucketUsage `json:"bucket,omitempty"`
	DPT       *DPTResult   `json:"dataProtectionTest,omitempty"`
	// LeftBehind is what cleanup could not remove; the next verify or
	// cleanup does.
	LeftBehind []string `json:"leftBehind,omitempty"`
	// Seconds is the run's wall time.
	Seconds float64 `json:"seconds"`
	// OverheadSeconds is the wall time minus Velero's backup and restore.
	OverheadSeconds float64 `json:"overheadSeconds"`
	Verdict         Verdict `json:"verdict"`
}

// Step returns the named step, nil when the run did not reach it.
func (r *Report) Step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Compare lists how the restored ConfigMap and Secret differ from the
// canary, byte for byte; none means they came back whole.
func Compare(c *Canary, cm *corev1.ConfigMap, sec *corev1.Secret) []string {
	var diffs []string
	switch cm {
	case nil:
		diffs = append(diffs, "configmap "+configMapName+" was not restored")
	default:
		if !bytes.Equal(cm.BinaryData[KeyBinary], c.Binary) {
			diffs = append(diffs, differs("configmap "+configMapName+" binaryData."+KeyBinary, cm.BinaryData[KeyBinary], c.Binary))
		}
		for k, want := range c.ConfigMap {
			if got, ok := cm.Data[k]; !ok || got != want {
				diffs = append(diffs, differs("configmap "+configMapName+" data."+k, []byte(got), []byte(want)))
			}
		}
	}
	switch {
	case sec == nil:
		diffs = append(diffs, "secret "+secretName+" was not restored")
	case !bytes.Equal(sec.Data[KeyBinary], c.Secret):
		diffs = append(diffs, differs("secret "+secretName+" data."+KeyBinary, sec.Data[KeyBinary], c.Secret))
	}
	return diffs
}

func differs(what string, got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%s came back with %d bytes, %d went in", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("%s differs from byte %d on", what, i)
		}
	}
	return what + " differs"
}

// Evidence is what the verdict is decided from.
type Evidence struct {
	Steps []Step
	// Broken are the checks status failed, in its order: the same links,
	// causes and fixes 'kubectl oadp-sts status' prints.
	Broken []status.Check
	// Location is the storage location the run went through.
	Location string
	// Seconds is the run's wall time so far.
	Seconds float64
}

// Decide turns a run's steps into the verdict. The first step that did not
// hold decides the exit code; the broken link named is status's first failed
// check when there is one (the chain explains Velero's opaque errors), else
// what Velero itself said in the step. A round trip that held while status
// finds a link broken is not verified: the data moved on credentials Velero
// still holds from before the change (AWS SDK web-identity sessions last up
// to an hour) or through an endpoint that does not enforce IAM, and the next
// backup after they expire fails.
func Decide(e Evidence) Verdict {
	first := firstBad(e.Steps)
	link := func(v Verdict, s *Step) Verdict {
		if len(e.Broken) > 0 {
			b := e.Broken[0]
			v.Link, v.Cause, v.Fix = b.Name, b.Cause, b.Fix
			if len(e.Broken) > 1 {
				v.Fix += fmt.Sprintf(" (status finds %d broken links; run 'kubectl oadp-sts status' for all)", len(e.Broken))
			}
			return v
		}
		if s != nil {
			v.Link, v.Cause, v.Fix = s.Name, orDefault(s.Cause, s.Message), s.Fix
		}
		return v
	}
	switch {
	case first == nil && len(e.Broken) == 0:
		return Verdict{Verified: true, Code: exitcode.OK,
			Line: fmt.Sprintf("verified: the canary made the round trip through %s in %.1fs, byte for byte", orNone(e.Location), e.Seconds)}
	case first == nil:
		v := link(Verdict{Code: exitcode.Failed}, nil)
		v.Line = fmt.Sprintf("not verified: the canary made the round trip, but %s is broken: %s; fix: %s (the data moved on credentials Velero still holds, or through an endpoint that does not enforce IAM; the next backup fails once they expire)", v.Link, v.Cause, v.Fix)
		return v
	case first.Result == Interrupted:
		return Verdict{Code: exitcode.Error, Link: first.Name, Cause: first.Message,
			Line: fmt.Sprintf("not verified: interrupted during %s", first.Name)}
	case first.Result == Error:
		return Verdict{Code: exitcode.Error, Link: first.Name, Cause: orDefault(first.Cause, first.Message), Fix: first.Fix,
			Line: fmt.Sprintf("not verified: could not run the %s step: %s", first.Name, join(orDefault(first.Cause, first.Message), first.Fix))}
	case first.Result == Timeout:
		v := link(Verdict{Code: exitcode.Timeout}, first)
		v.Line = fmt.Sprintf("not verified: the %s step timed out (%s)", first.Name, first.Message)
		if len(e.Broken) > 0 {
			v.Line += fmt.Sprintf("; status finds %s broken: %s", v.Link, join(v.Cause, v.Fix))
		}
		return v
	}
	v := link(Verdict{Code: exitcode.Failed}, first)
	v.Line = fmt.Sprintf("not verified: the %s step failed (%s); broken link: %s: %s", first.Name, first.Message, v.Link, join(v.Cause, v.Fix))
	return v
}

// firstBad is the first step of the round trip (or before it) that did not
// hold; cleanup's own trouble is reported as left behind, not as the verdict.
func firstBad(steps []Step) *Step {
	for i := range steps {
		s := &steps[i]
		if s.Name == StepCleanup {
			continue
		}
		switch s.Result {
		case OK, Warning, Skipped:
			continue
		}
		return s
	}
	return nil
}

// Overhead is the wall time the plugin added beyond Velero's own work.
func Overhead(wall float64, ops ...*Operation) float64 {
	for _, o := range ops {
		if o != nil {
			wall -= o.VeleroSeconds
		}
	}
	return max(wall, 0)
}

func join(cause, fix string) string {
	if fix == "" {
		return orNone(cause)
	}
	return orNone(cause) + "; fix: " + fix
}

func orNone(s string) string { return orDefault(s, "none") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
