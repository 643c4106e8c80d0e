package verify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	statuscmd "github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/exitcode"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/velero"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/wait"
)

// run is one verify run: the canary, the clients, and the report it fills.
type run struct {
	*Options
	canary *verify.Canary
	start  time.Time
	rep    *verify.Report
	broken []status.Check

	dyn  dynamic.Interface
	kube kubernetes.Interface
	// location is the BSL gone through, read once.
	location *unstructured.Unstructured
	fsBackup bool
	// checksum is what the writer pod wrote, with --volume.
	checksum string
	created  bool
}

// errStop ends the round trip after a step that did not hold.
var errStop = errors.New("stop")

// roundTrip runs every step, then cleanup whatever happened.
func (r *run) roundTrip(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	err := r.clients()
	if err == nil {
		// An earlier run's backup may still be in progress: waiting for it
		// to end is bounded like any cleanup.
		lctx, lcancel := context.WithTimeout(wctx, r.CleanupTimeout)
		_ = r.step(lctx, verify.StepLeftovers, r.leftovers) // in the report either way; a leftover does not stop the round trip
		lcancel()
		steps := []struct {
			name string
			fn   func(context.Context, *verify.Step) error
		}{
			{verify.StepChain, r.chain},
			{verify.StepLocation, r.locate},
			{verify.StepCanary, r.createCanary},
			{verify.StepVolume, r.writeVolume},
			{verify.StepBackup, r.backup},
			{verify.StepBucket, r.bucket},
			{verify.StepRestore, r.restore},
			{verify.StepCompare, r.compare},
			{verify.StepDPT, r.dpt},
		}
		for _, s := range steps {
			if s.name == verify.StepVolume && r.Volume == "" {
				continue
			}
			if r.step(wctx, s.name, s.fn) != nil {
				break
			}
		}
	} else {
		r.rep.Steps = append(r.rep.Steps, verify.Step{Name: verify.StepLeftovers, Result: verify.Error, Started: r.start, Message: err.Error()})
	}
	if r.dyn != nil {
		// Cleanup gets its own time: the round trip's may be spent, or Ctrl-C
		// may have cancelled it.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), r.CleanupTimeout)
		defer ccancel()
		if r.created {
			fmt.Fprintf(r.ErrOut, "Cleaning up: the canary namespaces, the restore, and the backup with its data through a DeleteBackupRequest (at most %s).\n", r.CleanupTimeout)
		}
		_ = r.step(cctx, verify.StepCleanup, r.cleanup) // the last step: its verdict is in the report
	}
}

func (r *run) clients() error {
	var err error
	if r.dyn, err = r.factory.Dynamic(); err != nil {
		return err
	}
	r.kube, err = r.factory.Kube()
	return err
}

// step runs fn as the named step, times it, classifies how it ended and
// prints its line at once.
func (r *run) step(ctx context.Context, name string, fn func(context.Context, *verify.Step) error) error {
	s := verify.Step{Name: name, Started: time.Now(), Result: verify.OK}
	err := fn(ctx, &s)
	s.Seconds = time.Since(s.Started).Seconds()
	if err != nil && !errors.Is(err, errStop) {
		var ie *wait.InterruptedError
		var te *wait.TimeoutError
		switch {
		case errors.As(err, &ie), ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) && errors.Is(err, context.Canceled):
			s.Result = verify.Interrupted
		case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
			s.Result = verify.Timeout
		default:
			s.Result = verify.Error
		}
		msg := err.Error()
		if s.Result == verify.Interrupted {
			// Not "it continues in the background": cleanup comes next.
			msg = "interrupted (Ctrl-C); cleaning up"
		}
		if s.Message == "" {
			s.Message = msg
		} else {
			s.Message += ": " + msg
		}
	}
	if errors.Is(err, errStop) && s.Result == verify.OK {
		s.Result = verify.Failed
	}
	r.rep.Steps = append(r.rep.Steps, s)
	r.printStep(s)
	if s.Result == verify.OK || s.Result == verify.Warning || s.Result == verify.Skipped {
		return nil
	}
	return errStop
}

func (r *run) printStep(s verify.Step) {
	w := r.Out
	if r.Output != "" {
		w = r.ErrOut
	}
	secs := fmt.Sprintf("%.1fs", s.Seconds)
	fmt.Fprintf(w, "%-9s %-11s %6s  %s\n", s.Name, s.Result, secs, s.Message)
	if s.Result != verify.OK && s.Result != verify.Skipped {
		if s.Cause != "" && s.Cause != s.Message {
			fmt.Fprintf(w, "%29s %s\n", "cause:", s.Cause)
		}
		if s.Fix != "" {
			fmt.Fprintf(w, "%29s %s\n", "fix:", s.Fix)
		}
	}
}

// finish decides the verdict, prints it and returns the exit code's error.
func (r *run) finish() error {
	rep := r.rep
	rep.Seconds = time.Since(r.start).Seconds()
	rep.OverheadSeconds = verify.Overhead(rep.Seconds, rep.Backup, rep.Restore)
	if rep.DryRun != "" {
		rep.Verdict = dryRunVerdict(rep.Steps)
	} else {
		rep.Verdict = verify.Decide(verify.Evidence{Steps: rep.Steps, Broken: r.broken, Location: rep.Location, Seconds: rep.Seconds})
	}
	line := rep.Verdict.Line
	if len(rep.LeftBehind) > 0 {
		line += fmt.Sprintf("; left behind: %s (the next 'kubectl oadp-sts verify%s' or 'kubectl oadp-sts cleanup' removes it)", strings.Join(rep.LeftBehind, ", "), cmdutil.NamespaceFlag(rep.Namespace))
	}
	if r.Output != "" {
		if err := printer.Print(r.Out, r.Output, rep); err != nil {
			return err
		}
		fmt.Fprintln(r.ErrOut, line)
	} else {
		fmt.Fprintln(r.Out, line)
	}
	if rep.Verdict.Code == exitcode.OK {
		return nil
	}
	return exitcode.WithCode(rep.Verdict.Code, cmdutil.Silent{Err: errors.New(line)})
}

func dryRunVerdict(steps []verify.Step) verify.Verdict {
	for _, s := range steps {
		if s.Result != verify.OK && s.Result != verify.Skipped {
			return verify.Verdict{Code: exitcode.Error, Link: s.Name, Cause: s.Message,
				Line: "dry run (server): " + s.Name + " would be refused: " + s.Message}
		}
	}
	return verify.Verdict{Verified: false, Code: exitcode.OK,
		Line: "dry run (server): the API server accepts every object verify creates; nothing was stored and no data moved"}
}

// chain runs status's checks, with --assume-role: the links the verdict names.
func (r *run) chain(ctx context.Context, s *verify.Step) error {
	rep, err := statuscmd.Gather(ctx, r.factory, statuscmd.GatherOptions{AssumeRole: true})
	if err != nil {
		return err
	}
	r.broken = rep.Failed()
	if len(r.broken) == 0 {
		s.Message = fmt.Sprintf("status: every link holds (%s)", plural(len(rep.Checks), "check"))
		return nil
	}
	names := make([]string, len(r.broken))
	for i, c := range r.broken {
		names[i] = c.Name
	}
	// Not the end of the run: Velero's own errors in the steps below are
	// the proof either way.
	s.Result = verify.Warning
	s.Message = "status finds broken links: " + strings.Join(names, ", ")
	s.Cause, s.Fix = r.broken[0].Cause, r.broken[0].Fix
	return nil
}

// locate picks the storage location and, with --volume, how the volume
// will move; nothing is created before both are known to work.
func (r *run) locate(ctx context.Context, s *verify.Step) error {
	l, err := r.dyn.Resource(gvr.BSL).Namespace(r.canary.OADPNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return kube.Explain(err, gvr.BSL, "")
	}
	name := r.StorageLocation
	if name == "" {
		name, err = velero.DefaultLocation(l.Items)
	} else {
		err = velero.LocationReady(l.Items, name)
	}
	if name != "" {
		r.rep.Location = name
	}
	if err != nil {
		s.Message = "no location to back up through"
		s.Cause = err.Error()
		s.Fix = "run 'kubectl oadp-sts status" + cmdutil.NamespaceFlag(r.canary.OADPNamespace) + "' for the broken link"
		return errStop
	}
	for i := range l.Items {
		if l.Items[i].GetName() == name {
			r.location = &l.Items[i]
		}
	}
	bucket := kube.Str(r.location.Object, "spec", "objectStorage", "bucket")
	if kube.Str(r.location.Object, "spec", "accessMode") == manifests.AccessReadOnly {
		// Velero refuses a backup to a ReadOnly location: no round trip
		// can be made here, and that is this cluster's role, not a fault.
		s.Message = fmt.Sprintf("backupstoragelocation/%s is ReadOnly", name)
		return fmt.Errorf("verify backs up a canary through backupstoragelocation/%s, which is ReadOnly: this cluster restores another cluster's backups (setup --from-cluster); run verify on the cluster that backs up to bucket %s (--context CONTEXT)", name, printer.OrNone(bucket))
	}
	s.Message = fmt.Sprintf("backupstoragelocation/%s Available (bucket %s, prefix %s)", name, printer.OrNone(bucket), printer.OrNone(kube.Str(r.location.Object, "spec", "objectStorage", "prefix")))
	if r.Volume == "" {
		return nil
	}
	how, err := r.volumePreflight(ctx)
	if err != nil {
		s.Message += "; --volume refused"
		return err
	}
	s.Message += "; the volume moves by " + how
	return nil
}

// volumePreflight decides how the canary volume is backed up, and refuses
// before anything is created when it cannot be: no node to run the writer,
// an unknown storage class, or a DPA with neither the node agent nor CSI.
func (r *run) volumePreflight(ctx context.Context) (string, error) {
	if _, err := r.kube.StorageV1().StorageClasses().Get(ctx, r.Volume, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("--volume %q: no such storage class: list them with 'oc get storageclasses'", r.Volume)
		}
		return "", kube.Explain(err, gvr.StorageClass, r.Volume)
	}
	nodes, err := r.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", kube.Explain(err, corev1.SchemeGroupVersion.WithResource("nodes"), "")
	}
	if !anyReady(nodes.Items) {
		return "", fmt.Errorf("--volume needs a Ready node to run the writer pod, and none of the cluster's %s is: drop --volume, or run verify where workloads run", plural(len(nodes.Items), "node"))
	}
	l, err := r.dyn.Resource(gvr.DPA).Namespace(r.canary.OADPNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", kube.Explain(err, gvr.DPA, "")
	}
	// The node agent is one DaemonSet per namespace, so any DPA that turns it
	// on (or asks for CSI snapshots) decides for the canary: no guess at which
	// DPA OADP acts on.
	if len(l.Items) == 0 {
		return "", fmt.Errorf("--volume needs to know how the DPA moves volumes, and %s has no DataProtectionApplication: run 'kubectl oadp-sts setup' first", r.canary.OADPNamespace)
	}
	for i := range l.Items {
		if manifests.FSBackupEnabled(&l.Items[i]) {
			r.fsBackup = true
			return "file-system backup (Kopia, the node agent)", nil
		}
	}
	for i := range l.Items {
		if manifests.SnapshotMode(&l.Items[i]) == manifests.SnapshotsCSI {
			return "a CSI snapshot", nil
		}
	}
	return "", fmt.Errorf("--volume: dataprotectionapplication/%s runs neither the node agent nor CSI snapshots, so the volume's data would not move: run 'kubectl oadp-sts setup --fs-backup', or drop --volume", l.Items[0].GetName())
}

func anyReady(nodes []corev1.Node) bool {
	for _, n := range nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

// createCanary creates the namespace first, so nothing else lands in a
// namespace of someone else's should the name exist.
func (r *run) createCanary(ctx context.Context, s *verify.Step) error {
	for _, obj := range r.canary.Objects() {
		res, _, _ := gvrOf(obj)
		c := r.dyn.Resource(res)
		var ri dynamic.ResourceInterface = c
		if obj.GetNamespace() != "" {
			ri = c.Namespace(obj.GetNamespace())
		}
		if _, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: manifests.ManagedByValue}); err != nil {
			return fmt.Errorf("create %s %s: %w", strings.ToLower(obj.GetKind()), obj.GetName(), kube.Explain(err, res, obj.GetName()))
		}
		r.created = true
	}
	s.Message = fmt.Sprintf("namespace %s: configmap and secret with %d random bytes", r.canary.Namespace, r.canary.Bytes())
	if r.Volume != "" {
		s.Message += fmt.Sprintf(", pvc %s (%s) and its writer pod", verify.PodName(), r.Volume)
	}
	return nil
}

func gvrOf(obj *unstructured.Unstructured) (schema.GroupVersionResource, bool, bool) {
	switch obj.GetKind() {
	case "ConfigMap":
		return gvr.ConfigMap, true, true
	case "Pod":
		return gvr.Pod, true, true
	case "PersistentVolumeClaim":
		return gvr.PVC, true, true
	case "DataProtectionTest":
		return gvr.DataProtectionTest, true, true
	}
	return gvr.ForKind(obj.GroupVersionKind().GroupKind())
}

// writeVolume waits for the writer pod to print its checksum.
func (r *run) writeVolume(ctx context.Context, s *verify.Step) error {
	sum, err := r.podChecksum(ctx, r.canary.Namespace)
	if err != nil {
		return err
	}
	r.checksum = sum
	s.Message = "the writer pod wrote 1 MiB, sha256 " + sum[:12] + "..."
	return nil
}

// podChecksum waits for the writer pod in ns to run, then follows its log to
// the checksum line: a stream, not a poll.
func (r *run) podChecksum(ctx context.Context, ns string) (string, error) {
	pods := r.dyn.Resource(gvr.Pod).Namespace(ns)
	what := "pod " + ns + "/" + verify.PodName()
	_, err := wait.For(ctx, pods, verify.PodName(), func(p *unstructured.Unstructured) (bool, error) {
		switch kube.Str(p.Object, "status", "phase") {
		case "Running":
			return true, nil
		case "Failed", "Succeeded":
			return false, fmt.Errorf("%s ended %s before it printed a checksum", what, kube.Str(p.Object, "status", "phase"))
		}
		return false, nil
	}, r.waitOpts(ctx, what, func(p *unstructured.Unstructured) string {
		return "pod " + kube.Str(p.Object, "status", "phase")
	}))
	if err != nil {
		return "", err
	}
	stream, err := r.kube.CoreV1().Pods(ns).GetLogs(verify.PodName(), &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		return "", fmt.Errorf("read the log of %s: %w", what, err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	for sc.Scan() {
		if sum, ok := verify.ParseChecksum(sc.Text()); ok {
			return sum, nil
		}
	}
	return "", fmt.Errorf("%s printed no checksum (its log ended)", what)
}

// waitOpts are the options of every wait of the round trip: the time left
// of --timeout, progress on stderr.
func (r *run) waitOpts(ctx context.Context, what string, progress func(*unstructured.Unstructured) string) wait.Options {
	o := wait.Options{What: what, Progress: progress, Out: r.ErrOut, Live: printer.IsTerminal(r.ErrOut)}
	if d, ok := ctx.Deadline(); ok {
		// Never zero, which would mean no limit.
		o.Timeout = max(time.Until(d).Round(100*time.Millisecond), time.Millisecond)
	}
	return o
}

func progressText(obj *unstructured.Unstructured) string {
	st := velero.ReadStatus(obj)
	line := st.Phase
	if st.TotalItems > 0 || st.Items > 0 {
		line += fmt.Sprintf("  %d/%d items", st.Items, st.TotalItems)
	}
	return line
}

// operation creates a Backup or Restore and waits for it to end.
func (r *run) operation(ctx context.Context, res schema.GroupVersionResource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	client := r.dyn.Resource(res).Namespace(obj.GetNamespace())
	w, err := wait.Start(ctx, client, obj.GetName())
	if err != nil {
		return nil, kube.Explain(err, res, obj.GetName())
	}
	defer w.Stop()
	if _, err := client.Create(ctx, obj, metav1.CreateOptions{FieldManager: manifests.ManagedByValue}); err != nil {
		return nil, fmt.Errorf("create %s %s: %w", strings.ToLower(obj.GetKind()), obj.GetName(), kube.Explain(err, res, obj.GetName()))
	}
	what := fmt.Sprintf("%s %q", strings.ToLower(obj.GetKind()), obj.GetName())
	fmt.Fprintf(r.ErrOut, "Waiting for %s (Ctrl-C stops verify and cleans up).\n", what)
	return w.For(ctx, func(o *unstructured.Unstructured) (bool, error) {
		return velero.Terminal(velero.ReadStatus(o).Phase), nil
	}, r.waitOpts(ctx, what, progressText))
}

func opOf(obj *unstructured.Unstructured) *verify.Operation {
	st := velero.ReadStatus(obj)
	return &verify.Operation{Name: obj.GetName(), Phase: st.Phase, Items: st.Items, VeleroSeconds: st.Duration(time.Now()).Seconds()}
}

func (r *run) backup(ctx context.Context, s *verify.Step) error {
	obj := r.canary.BackupObject(verify.BackupOptions{StorageLocation: r.rep.Location, FSBackup: r.fsBackup})
	b, err := r.operation(ctx, gvr.Backup, obj)
	if b != nil {
		r.rep.Backup = opOf(b)
	}
	if err != nil {
		return err
	}
	st := velero.ReadStatus(b)
	s.Message = fmt.Sprintf("backup %s %s: %d of %d items, Velero took %.1fs", b.GetName(), st.Phase, st.Items, st.TotalItems, r.rep.Backup.VeleroSeconds)
	if st.Phase == velero.PhaseCompleted {
		return nil
	}
	s.Cause, s.Fix = r.veleroSays(ctx, st, "backup", b.GetName())
	return errStop
}

// veleroSays is the failure in Velero's words: the operation's reason and
// errors, and the location's message when Velero marked it Unavailable.
func (r *run) veleroSays(ctx context.Context, st velero.Status, noun, name string) (cause, fix string) {
	var why []string
	if st.FailureReason != "" {
		why = append(why, st.FailureReason)
	}
	why = append(why, st.ValidationErrors...)
	if st.Errors > 0 {
		why = append(why, fmt.Sprintf("%d errors, %d warnings", st.Errors, st.Warnings))
	}
	if l, err := r.dyn.Resource(gvr.BSL).Namespace(r.canary.OADPNamespace).Get(ctx, r.rep.Location, metav1.GetOptions{}); err == nil {
		if phase := kube.Str(l.Object, "status", "phase"); phase != velero.PhaseAvailable {
			why = append(why, fmt.Sprintf("backupstoragelocation/%s is %s: %s", l.GetName(), printer.OrNone(phase), printer.OrNone(kube.Str(l.Object, "status", "message"))))
		}
	}
	cause = "Velero: " + printer.OrNone(strings.Join(why, "; "))
	fix = fmt.Sprintf("'kubectl oadp-sts describe %s %s%s' and Velero's log ('oc -n %s logs deploy/velero -c velero | grep %s') say more", noun, name, cmdutil.NamespaceFlag(r.canary.OADPNamespace), r.canary.OADPNamespace, name)
	return cause, fix
}

// s3 is the caller's S3 client and the options for the location's region.
func (r *run) s3(ctx context.Context) (awsclient.S3API, func(*s3.Options), error) {
	cfg, err := r.factory.AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	region := kube.Str(r.location.Object, "spec", "config", "region")
	return awsclient.New(cfg).S3, func(o *s3.Options) {
		if region != "" {
			o.Region = region
		}
	}, nil
}

// prefixes are where Velero writes this run's data in the bucket.
func (r *run) prefixes() (bucket string, prefixes []string) {
	bucket = kube.Str(r.location.Object, "spec", "objectStorage", "bucket")
	base := kube.Str(r.location.Object, "spec", "objectStorage", "prefix")
	if base != "" {
		base = strings.TrimSuffix(base, "/") + "/"
	}
	prefixes = []string{base + "backups/" + r.canary.BackupName + "/", base + "restores/" + r.canary.RestoreName + "/"}
	if r.Volume != "" && r.fsBackup {
		prefixes = append(prefixes, base+"kopia/"+r.canary.Namespace+"/")
	}
	return bucket, prefixes
}

// usage counts the objects and bytes under the prefixes.
func (r *run) usage(ctx context.Context, prefixes []string) (objects int, size int64, err error) {
	c, opt, err := r.s3(ctx)
	if err != nil {
		return 0, 0, err
	}
	bucket, _ := r.prefixes()
	for _, p := range prefixes {
		pg := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(p)})
		for pg.HasMorePages() {
			out, err := pg.NextPage(ctx, opt)
			if err != nil {
				return 0, 0, awsclient.Explain("list s3://"+bucket+"/"+p, err)
			}
			for _, o := range out.Contents {
				objects++
				size += aws.ToInt64(o.Size)
			}
		}
	}
	return objects, size, nil
}

// bucket reads what the backup wrote, with the caller's own AWS identity:
// an independent witness of Velero's Completed.
func (r *run) bucket(ctx context.Context, s *verify.Step) error {
	bucket, prefixes := r.prefixes()
	backupPrefixes := []string{prefixes[0]}
	if len(prefixes) > 2 {
		backupPrefixes = append(backupPrefixes, prefixes[2])
	}
	n, size, err := r.usage(ctx, backupPrefixes)
	r.rep.Bucket = &verify.BucketUsage{Bucket: bucket, Prefix: prefixes[0], Objects: n, Bytes: size}
	if err != nil {
		// The caller may not read the bucket; Velero could. Not the data's fault.
		s.Result = verify.Warning
		s.Message = "cannot read the bucket with your AWS identity"
		s.Cause = err.Error()
		return nil
	}
	s.Message = fmt.Sprintf("%s, %s under s3://%s/%s", plural(n, "object"), humanBytes(size), bucket, prefixes[0])
	if n == 0 {
		s.Cause = "Velero says Completed, yet nothing of the backup is in the bucket the location names"
		s.Fix = "check that the location's bucket and prefix are the ones you read, and Velero's log"
		return errStop
	}
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func (r *run) restore(ctx context.Context, s *verify.Step) error {
	rs, err := r.operation(ctx, gvr.Restore, r.canary.RestoreObject())
	if rs != nil {
		r.rep.Restore = opOf(rs)
	}
	if err != nil {
		return err
	}
	st := velero.ReadStatus(rs)
	s.Message = fmt.Sprintf("restore %s %s: %d of %d items into %s, Velero took %.1fs", rs.GetName(), st.Phase, st.Items, st.TotalItems, r.canary.Restored, r.rep.Restore.VeleroSeconds)
	if st.Phase == velero.PhaseCompleted {
		return nil
	}
	s.Cause, s.Fix = r.veleroSays(ctx, st, "restore", rs.GetName())
	return errStop
}

// compare reads the restored objects back and compares them byte for byte.
func (r *run) compare(ctx context.Context, s *verify.Step) error {
	ns := r.canary.Restored
	cm, err := r.kube.CoreV1().ConfigMaps(ns).Get(ctx, verify.ConfigMapName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, err = nil, nil
	}
	if err != nil {
		return kube.Explain(err, gvr.ConfigMap, verify.ConfigMapName())
	}
	sec, err := r.kube.CoreV1().Secrets(ns).Get(ctx, verify.SecretName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		sec, err = nil, nil
	}
	if err != nil {
		return kube.Explain(err, gvr.Secret, verify.SecretName())
	}
	diffs := verify.Compare(r.canary, cm, sec)
	if r.Volume != "" && len(diffs) == 0 {
		sum, err := r.podChecksum(ctx, ns)
		switch {
		case err != nil:
			return err
		case sum != r.checksum:
			diffs = append(diffs, fmt.Sprintf("the volume's file came back with sha256 %s, %s went in", sum, r.checksum))
		}
	}
	if len(diffs) > 0 {
		s.Message = "what came back differs"
		s.Cause = strings.Join(diffs, "; ")
		s.Fix = "Velero restored other data than it backed up: check 'kubectl oadp-sts describe restore " + r.canary.RestoreName + cmdutil.NamespaceFlag(r.canary.OADPNamespace) + "'"
		return errStop
	}
	s.Message = fmt.Sprintf("configmap and secret identical, byte for byte (%d bytes)", r.canary.Bytes())
	if r.Volume != "" {
		s.Message += "; the volume's checksum matches"
	}
	return nil
}
