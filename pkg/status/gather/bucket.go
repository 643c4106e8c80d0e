package gather

import (
	"cmp"
	"context"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/clusterfacts"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// readHardening reads the settings of the bucket our DPA's velero location
// names (the bucket setup made or adopted), with what setup wants of it:
// the ownership tags only when setup made it. A read-only location's bucket
// is another cluster's (from, its ID, as recorded): only read, never hardened.
func readHardening(ctx context.Context, c awsclient.S3API, id awsfacts.Identity, cl *clusterfacts.Facts, ch *status.Chain, adopted bool, from string) *status.Hardening {
	sc := ch.Scope()
	client, ok := c.(bucket.API)
	if sc == nil || !ok || cl == nil {
		return nil
	}
	w := bucket.Want{Name: sc.Bucket, Region: cl.Region, AccountID: id.AccountID, KMSKeyARN: sc.KMSKeyARN, ClusterID: cl.ID}
	switch {
	case sc.ReadOnly:
		w.From = cmp.Or(from, "of the read-only location")
	case !adopted:
		w.Tags = iam.OwnershipTags(cl.ID)
	}
	st, err := bucket.Read(ctx, client, w)
	return &status.Hardening{Want: w, State: st, Err: err}
}
