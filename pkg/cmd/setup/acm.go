package setup

import (
	"cmp"
	"context"
	"fmt"

	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/acm"
)

// readHint reads ACM's hint in its backup namespace; found is whether the
// ConfigMap is there.
func readHint(ctx context.Context, dyn dynamic.Interface) (*acm.Hint, bool, error) {
	h, found, err := acm.ReadHint(ctx, dyn, acm.BackupNamespace)
	if err != nil || !found {
		return nil, true, err
	}
	return &h, true, nil
}

// fromACM fills the Subscription's flags not given from the hint ACM's
// cluster-backup chart leaves on an STS hub, and says what it used and from
// where. It returns the OADP version the hint's channel names, if any.
// Names (role, bucket, DPA) stay record.Decide's: the hint has none.
func (o *Options) fromACM(c *ClusterOptions, st *clusterState) (string, error) {
	if o.factory.Namespace() != acm.BackupNamespace {
		return "", nil
	}
	installs := c.InstallOperator == installTrue || (c.InstallOperator == Auto && !st.oadp.Installed)
	switch {
	case !st.hintRead:
		// Only a client dry run with every fact given reads nothing; the
		// Subscription it prints has the flags' channel, not the hint's.
		if installs {
			fmt.Fprintf(o.ErrOut, "configmap %s/%s not read (a client dry run with every fact given reads nothing): pass --channel to choose the channel ACM's hint names\n",
				acm.BackupNamespace, acm.HintName)
		}
		return "", nil
	case st.hint == nil:
		fmt.Fprintln(o.ErrOut, acm.AbsentLine(acm.BackupNamespace))
		return "", nil
	case !installs:
		fmt.Fprintln(o.ErrOut, acm.InstalledLine(*st.hint))
		return "", nil
	}
	given := func(flag, v string) string {
		if c.changed != nil && c.changed(flag) {
			return v
		}
		return ""
	}
	ch, err := acm.Choose(acm.Given{
		Channel: given("channel", c.Channel), Package: given("package", c.Package),
		CatalogSource: given("catalog-source", c.CatalogSource), CatalogNamespace: given("catalog-source-namespace", c.CatalogNS),
		Approval: given("approval", c.Approval), OADPVersion: c.OADPVersion,
	}, *st.hint)
	if err != nil {
		return "", err
	}
	for _, l := range ch.Lines {
		fmt.Fprintln(o.ErrOut, l)
	}
	c.Channel = cmp.Or(ch.Channel, c.Channel)
	c.Package = cmp.Or(ch.Package, c.Package)
	c.CatalogSource = cmp.Or(ch.CatalogSource, c.CatalogSource)
	c.CatalogNS = cmp.Or(ch.CatalogNamespace, c.CatalogNS)
	c.Approval = cmp.Or(ch.Approval, c.Approval)
	c.subscriptionEnv = ch.Env
	return ch.OADPVersion, nil
}
