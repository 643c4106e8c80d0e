// Package verify implements `kubectl oadp-sts verify`: a canary backed up
// through the real chain, restored into a second namespace and compared byte
// for byte, then removed with its data.
package verify

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmd/internal/fleetrun"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/cmdutil"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/completion"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/printer"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/verify"
)

// Defaults of the waits.
const (
	DefaultTimeout        = 10 * time.Minute
	DefaultCleanupTimeout = 3 * time.Minute
)

// Dry-run modes, as kubectl spells them (cmdutil.DryRun says what each means).
const (
	DryRunNone   = cmdutil.DryRunNone
	DryRunClient = cmdutil.DryRunClient
	DryRunServer = cmdutil.DryRunServer
)

var (
	long = templates.LongDesc(`
		Prove that a backup's data reaches the bucket and comes back, through the
		real chain: the role's trust, its policy, the credentials, Velero and the
		storage location. A storage location marked Available only shows that the
		bucket could be listed; verify writes, reads back and compares.

		It creates a canary namespace (oadp-sts-verify-RANDOM, labelled as the
		plugin's) with a ConfigMap and a Secret of random content, backs it up
		through the DPA's storage location (or --storage-location), restores it into
		oadp-sts-verify-RANDOM-restored and compares both byte for byte. With
		--volume STORAGECLASS it adds a PVC and a pod that writes 1 MiB of random
		bytes and prints their checksum; the restored pod prints the checksum of
		what came back (file-system backup through the node agent when the DPA runs
		it, else CSI snapshots). Each step is printed with its time, the backup's
		objects and bytes in the bucket, and one verdict line.

		It always cleans up: both namespaces, the restore, and the backup through a
		DeleteBackupRequest so its data leaves the bucket; also on a failure, a
		timeout or Ctrl-C. What an interrupted run could not remove, the next
		verify (or 'kubectl oadp-sts cleanup') removes.

		It also runs the checks of 'kubectl oadp-sts status --assume-role' (one
		TokenRequest): when a step fails, the verdict names the broken link with the
		cause and fix status gives. A round trip that holds while status finds a
		link broken is not verified either: Velero moved the data on credentials it
		still holds, and the next backup fails once they expire.

		On OADP 1.5+, where the DataProtectionTest API is served, --dpt (the default)
		also runs one against the location: upload speed, the bucket's encryption
		and versioning, and with --volume the CSI snapshot's readiness. Where it is
		not served, verify says so and goes on.

		--dry-run=client prints the objects verify would create and contacts
		nothing; --dry-run=server sends the namespace, the Backup, the Restore (and
		the DataProtectionTest where served) with dryRun=All, which proves that the
		caller may create them and that the CRDs accept them, and stores nothing.

		With --context given more than once, --all-contexts or --contexts-matching,
		verify runs on each cluster at once (--parallel, 4 by default), each with
		its own canary, then prints a summary table; -o json is then a list, one
		element per cluster.

		Exit codes: 0 verified; 1 bad input, an API error, or Ctrl-C; 4 the data
		did not make the round trip (or a link is broken); 5 a wait ran out of
		--timeout. Several clusters: the worst of theirs.`)

	example = templates.Examples(`
		# Prove the round trip through the DPA's storage location
		kubectl oadp-sts verify

		# Through another location, with a volume, for monitoring
		kubectl oadp-sts verify --storage-location backup-eu --volume gp3-csi -o json

		# Show what verify would create, create nothing
		kubectl oadp-sts verify --dry-run=client -o yaml`)
)

// Options are verify's inputs.
type Options struct {
	StorageLocation string
	Volume          string
	Timeout         time.Duration
	CleanupTimeout  time.Duration
	DPT             bool
	Output          string
	DryRun          cmdutil.DryRun
	Fleet           fleetrun.Flags

	factory *cmdutil.Factory
	rand    io.Reader
	now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmd returns the verify command.
func NewCmd(f *cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{factory: f, IOStreams: streams, rand: rand.Reader, now: time.Now, DryRun: DryRunNone}
	cmd := &cobra.Command{
		Use:                   "verify [--storage-location BSL] [--volume STORAGECLASS] [--timeout 10m] [--dpt] [-o json|yaml] [--dry-run=none|client|server]",
		DisableFlagsInUseLine: true,
		Short:                 "Back up a canary, restore it and compare it byte for byte, then remove it: proof that backups work",
		Long:                  long,
		Example:               example,
		Args:                  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if o.Fleet.Fleet(f) {
				return o.runFleet(cmd.Context())
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.StorageLocation, "storage-location", "", "the BackupStorageLocation to go through (default: the default one, which setup's DPA makes)")
	fl.StringVar(&o.Volume, "volume", "", "also move a volume: a PVC of this storage class with 1 MiB of random bytes, compared by checksum")
	fl.DurationVar(&o.Timeout, "timeout", DefaultTimeout, "how long the round trip may take before giving up (exit code 5); cleanup has its own --cleanup-timeout")
	fl.DurationVar(&o.CleanupTimeout, "cleanup-timeout", DefaultCleanupTimeout, "how long cleanup may wait for Velero to delete the backup and for the namespaces to go")
	fl.BoolVar(&o.DPT, "dpt", true, "also run a DataProtectionTest against the location where OADP 1.5+ serves the API")
	fl.StringVarP(&o.Output, "output", "o", "", "print the report as json or yaml on stdout (progress stays on stderr)")
	cmdutil.AddDryRunFlag(cmd, &o.DryRun, `"none", "client" or "server": client prints the objects verify would create, server sends them with dryRun=All; neither stores anything`)
	o.Fleet.AddFlags(cmd, f)
	completion.Register(cmd, map[string]cobra.CompletionFunc{
		"storage-location": completion.StorageLocations(f),
		"output":           cobra.FixedCompletions(printer.Formats, cobra.ShellCompDirectiveNoFileComp),
	})
	return cmd
}

// Validate checks every flag before anything is read or created.
func (o *Options) Validate() error {
	if err := o.DryRun.Validate(); err != nil {
		return err
	}
	if err := printer.ValidateFormat(o.Output); err != nil {
		return err
	}
	if err := o.Fleet.Validate(o.factory); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, not %s: give the round trip a duration such as 10m", o.Timeout)
	}
	if o.CleanupTimeout <= 0 {
		return fmt.Errorf("--cleanup-timeout must be positive, not %s: cleanup needs time for Velero to delete the backup's data (3m is the default)", o.CleanupTimeout)
	}
	if o.StorageLocation != "" && len(validation.IsDNS1123Subdomain(o.StorageLocation)) > 0 {
		return fmt.Errorf("--storage-location %q is not a BackupStorageLocation name: list them with 'oc get backupstoragelocations -n openshift-adp' (or your OADP namespace)", o.StorageLocation)
	}
	if o.Volume != "" && len(validation.IsDNS1123Subdomain(o.Volume)) > 0 {
		return fmt.Errorf("--volume %q is not a storage class name: list them with 'oc get storageclasses'", o.Volume)
	}
	return nil
}

// Run makes the canary and runs the steps, or prints what it would create.
func (o *Options) Run(ctx context.Context) error {
	start := o.now()
	id, err := verify.NewRunID(o.rand)
	if err != nil {
		return err
	}
	ns := o.factory.Namespace()
	c, err := verify.NewCanary(id, ns, o.Volume, start.Add(o.Timeout+o.CleanupTimeout), o.rand)
	if err != nil {
		return err
	}
	if o.DryRun == DryRunClient {
		return o.printObjects(c)
	}
	r := &run{Options: o, canary: c, start: start,
		rep: &verify.Report{Canary: c.Namespace, Restored: c.Restored, Namespace: ns}}
	if o.DryRun == DryRunServer {
		r.rep.DryRun = string(DryRunServer)
		r.serverDryRun(ctx)
	} else {
		r.roundTrip(ctx)
	}
	return r.finish()
}

// printObjects writes every object a run creates, in order, as one List.
func (o *Options) printObjects(c *verify.Canary) error {
	objs := c.Objects()
	objs = append(objs, c.BackupObject(verify.BackupOptions{StorageLocation: o.StorageLocation}), c.RestoreObject())
	if o.DPT {
		objs = append(objs, c.DataProtectionTest(o.StorageLocation, "", o.Timeout))
	}
	items := make([]any, len(objs))
	for i, obj := range objs {
		items[i] = obj.Object
	}
	list := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}, "items": items}}
	var p printers.ResourcePrinter = &printers.YAMLPrinter{}
	if o.Output == "json" {
		p = &printers.JSONPrinter{}
	}
	loc := o.StorageLocation
	if loc == "" {
		loc = "the default location (read at run time)"
	}
	fmt.Fprintf(o.ErrOut, "dry run (client): nothing created or read. A run creates these %d objects (through %s, the DataProtectionTest only where served) and then deletes them, the backup through a DeleteBackupRequest.\n", len(objs), loc)
	return p.PrintObj(list, o.Out)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
