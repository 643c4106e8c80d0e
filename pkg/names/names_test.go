package names

import (
	"regexp"
	"strings"
	"testing"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func TestFit(t *testing.T) {
	const hcpID = "22s4vo9q10sfgo0v8g8f4n010ihc54ff" // a ROSA HCP infrastructure name
	for _, c := range []struct {
		base, suffix string
		limit        int
		want         string // "" means: shortened, checked by the rules below
	}{
		{"mycluster-7wq9t", "-openshift-oadp-aws-cloud-credentials", 64, "mycluster-7wq9t-openshift-oadp-aws-cloud-credentials"},
		{"abcdefghijklmnopqrstuvwxyz0", "-openshift-oadp-aws-cloud-credentials", 64, "abcdefghijklmnopqrstuvwxyz0-openshift-oadp-aws-cloud-credentials"},
		{hcpID, "-openshift-oadp-aws-cloud-credentials", 64, ""},
		{strings.Repeat("a", 80), "-oadp", 63, ""},
		{"a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-a-b-c-d-e-f", "-dpa", 61, ""},
	} {
		got := Fit(c.base, c.suffix, c.limit)
		if c.want != "" {
			if got != c.want {
				t.Errorf("Fit(%q) = %q, want %q", c.base, got, c.want)
			}
			continue
		}
		if len(got) > c.limit {
			t.Errorf("Fit(%q) = %q, %d characters > %d", c.base, got, len(got), c.limit)
		}
		if !strings.HasSuffix(got, c.suffix) || strings.Contains(got, "--") {
			t.Errorf("Fit(%q) = %q: lost its suffix %q or has a doubled dash", c.base, got, c.suffix)
		}
		if again := Fit(c.base, c.suffix, c.limit); again != got {
			t.Errorf("Fit(%q) not stable: %q then %q", c.base, got, again)
		}
		if other := Fit(c.base+"x", c.suffix, c.limit); other == got {
			t.Errorf("Fit gives two long names with one prefix the same short name %q", got)
		}
	}
}

func TestDefaultNamesAreValid(t *testing.T) {
	for _, cluster := range []string{"rig-x7k2p", "My_HCP.Cluster", strings.Repeat("long-name-", 12), "22s4vo9q10sfgo0v8g8f4n010ihc54ff"} {
		b, d := Bucket(cluster), DPA(cluster)
		if len(b) > MaxBucket || len(b) < 3 || !dnsLabel.MatchString(b) {
			t.Errorf("Bucket(%q) = %q is not a valid S3 bucket name", cluster, b)
		}
		if len(d+"-1") > MaxDNSLabel || !dnsLabel.MatchString(d) {
			t.Errorf("DPA(%q) = %q: it or its storage location %q is not a DNS label", cluster, d, d+"-1")
		}
	}
}
