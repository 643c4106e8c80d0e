// Package names makes the default names the plugin derives from a cluster's
// name fit their limits by construction: IAM role names (64), S3 bucket names
// (63, lower-case DNS-like) and Kubernetes DNS labels (63). A name that fits is
// kept as it is; one that does not keeps as much of the cluster's name as fits
// and ends in a hash of the whole, so it is stable from run to run and two long
// names that share a prefix still differ (ccoctl and the installer shorten
// names the same way rather than refusing them).
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// HashLen is the length of the hash suffix, without its "-".
const HashLen = 8

// Fit returns base+suffix when it fits in limit, else base shortened and
// followed by "-<hash of base>" and then suffix. The hash is of base alone,
// so the same cluster name gives the same short name whatever the suffix.
func Fit(base, suffix string, limit int) string {
	if len(base)+len(suffix) <= limit {
		return base + suffix
	}
	sum := sha256.Sum256([]byte(base))
	hash := hex.EncodeToString(sum[:])[:HashLen]
	keep := limit - len(suffix) - HashLen - 1
	if keep < 0 {
		keep = 0
	}
	head := strings.TrimRight(base[:min(keep, len(base))], "-.")
	if head == "" {
		return hash + suffix
	}
	return head + "-" + hash + suffix
}

// DNSLabel turns a cluster name into what a DNS label, and so an S3 bucket
// name, may hold: lower-case letters, digits and "-", starting and ending with
// a letter or digit. Infrastructure names already are; names from a resource
// tag or a flag may not be.
func DNSLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// Limits of the names built here.
const (
	MaxIAMRole  = 64
	MaxBucket   = 63
	MaxDNSLabel = 63
)

// Bucket is the default bucket name, <cluster>-oadp, within S3's 63.
func Bucket(cluster string) string { return Fit(DNSLabel(cluster), "-oadp", MaxBucket) }

// DPA is the default DataProtectionApplication name, <cluster>-dpa. It leaves
// room for the "-1" the operator appends to name the storage location, so
// that fits a DNS label too.
func DPA(cluster string) string { return Fit(DNSLabel(cluster), "-dpa", MaxDNSLabel-2) }
