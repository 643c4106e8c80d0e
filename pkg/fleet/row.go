package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Row is one cluster of a fleet run: the summary table's row and the
// element of -o json's list.
type Row struct {
	Context   string `json:"context"`
	Cluster   string `json:"cluster,omitempty"`
	ClusterID string `json:"clusterID,omitempty"`
	OpenShift string `json:"openshiftVersion,omitempty"`
	OADP      string `json:"oadpVersion,omitempty"`
	Issuer    string `json:"oidcIssuer,omitempty"`
	Role      string `json:"role,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	// DPAReconciled and LocationAvailable are yes, no, or "" when there is
	// none (not set up, or the cluster could not be read).
	DPAReconciled     string `json:"dpaReconciled,omitempty"`
	LocationAvailable string `json:"locationAvailable,omitempty"`
	// SharesIssuerWith are the other clusters of the run with this one's issuer.
	SharesIssuerWith []string `json:"sharesIssuerWith,omitempty"`
	Result           string   `json:"result"`
	ExitCode         int      `json:"exitCode"`
	// Error is the cluster's error in one line, when it failed.
	Error string `json:"error,omitempty"`
	// Report is the command's own -o json report for this cluster, when it has one.
	Report json.RawMessage `json:"report,omitempty"`
}

// Table is the summary as a metav1.Table, for cli-runtime's table printer.
func Table(rows []Row) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Context", Type: "string"}, {Name: "Cluster", Type: "string"},
		{Name: "OpenShift", Type: "string"}, {Name: "OADP", Type: "string"},
		{Name: "Role", Type: "string"}, {Name: "Bucket", Type: "string"},
		{Name: "DPA Reconciled", Type: "string"}, {Name: "Location Available", Type: "string"},
		{Name: "Result", Type: "string"},
	}}
	for _, r := range rows {
		result := r.Result
		if r.Error != "" {
			result += ": " + r.Error
		}
		cells := []any{r.Context, r.Cluster, r.OpenShift, r.OADP, shortRole(r.Role), r.Bucket, r.DPAReconciled, r.LocationAvailable, result}
		for i, c := range cells {
			if c == "" {
				cells[i] = "-"
			}
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{}})
	}
	return t
}

// shortRole is a role's name from its ARN: the account is the same on every
// row of one AWS configuration, and the name is what the user chose.
func shortRole(arn string) string {
	if i := strings.LastIndex(arn, "/"); strings.HasPrefix(arn, "arn:") && i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// OneLine is err's message as one line, for a row and for the line a failed
// cluster gets: a multi-line error (a checklist) is cut at its first line.
func OneLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return s
}

// Shared is a set of clusters with one OIDC issuer.
type Shared struct {
	Issuer   string
	Contexts []string
}

// SharedIssuers groups the rows by issuer (compared without scheme or
// trailing slash, as IAM names the provider) and returns every issuer more
// than one cluster has, in the rows' order; rows with no issuer are not counted.
func SharedIssuers(rows []Row) []Shared {
	var out []Shared
	index := map[string]int{}
	for _, r := range rows {
		key := IssuerKey(r.Issuer)
		if key == "" {
			continue
		}
		i, ok := index[key]
		if !ok {
			index[key] = len(out)
			out = append(out, Shared{Issuer: r.Issuer})
			i = len(out) - 1
		}
		out[i].Contexts = append(out[i].Contexts, r.Context)
	}
	return slices.DeleteFunc(out, func(s Shared) bool { return len(s.Contexts) < 2 })
}

// IssuerKey is an issuer URL as IAM's OIDC provider names it.
func IssuerKey(issuer string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(issuer), "https://"), "/")
}

// MarkShared fills each row's SharesIssuerWith.
func MarkShared(rows []Row, shared []Shared) {
	for _, s := range shared {
		for i := range rows {
			if slices.Contains(s.Contexts, rows[i].Context) {
				rows[i].SharesIssuerWith = slices.DeleteFunc(slices.Clone(s.Contexts), func(c string) bool { return c == rows[i].Context })
			}
		}
	}
}

// Warnings are the lines for every pair of clusters sharing an issuer, each
// with the fix: IAM's trust policy names the issuer and the service account,
// both the same on the two clusters, so either's velero can assume the
// other's role.
func Warnings(shared []Shared) []string {
	var out []string
	for _, s := range shared {
		for i, a := range s.Contexts {
			for _, b := range s.Contexts[i+1:] {
				out = append(out, fmt.Sprintf("warning: clusters %s and %s share the OIDC issuer %s: a role's trust policy names the issuer and the velero service account, the same on both, so each cluster's velero can assume the other's role; "+
					"fix: give each cluster its own OIDC configuration (on ROSA, 'rosa create oidc-config' for a new cluster), or, to use one role per issuer on purpose, set up one cluster and give the others its role with 'setup --role-arn ARN'",
					a, b, s.Issuer))
			}
		}
	}
	return out
}
