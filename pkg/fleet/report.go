package fleet

import (
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/status"
)

// FromReport fills a row's facts from a status report of its cluster: the
// cluster, the versions, the role status found, the bucket(s) and whether
// the DPA reconciled and its location(s) are Available. A column status
// could not judge (not set up, unreadable) is left empty.
func FromReport(row Row, r *status.Report) Row {
	if r == nil {
		return row
	}
	if c := r.Cluster; c != nil {
		row.Cluster, row.ClusterID, row.OpenShift, row.Issuer = c.Name, c.ID, c.Version, c.OIDCIssuer
	}
	if o := r.OADP; o != nil {
		row.OADP = o.Version
	}
	var buckets []string
	var locations []status.Result
	for _, ch := range r.Checks {
		switch {
		case ch.Name == status.CheckRole && ch.Result == status.OK:
			row.Role = ch.Message
		case ch.Name == status.CheckDPAReconciled:
			row.DPAReconciled = yesNo(ch.Result)
		case strings.HasPrefix(ch.Name, status.CheckLocation+" "):
			locations = append(locations, ch.Result)
		case strings.HasPrefix(ch.Name, status.CheckBucketHardening):
		case strings.HasPrefix(ch.Name, status.CheckBucket+" "):
			buckets = append(buckets, strings.TrimPrefix(ch.Name, status.CheckBucket+" "))
		}
	}
	row.Bucket = strings.Join(buckets, ",")
	if len(locations) > 0 {
		row.LocationAvailable = "yes"
		for _, l := range locations {
			if l != status.OK {
				row.LocationAvailable = "no"
			}
		}
	}
	return row
}

// yesNo is a check's result as the table's column: yes when it held, no
// when it failed or warned, "" when it was skipped (nothing to judge).
func yesNo(r status.Result) string {
	switch r {
	case status.OK:
		return "yes"
	case status.Skipped:
		return ""
	}
	return "no"
}
