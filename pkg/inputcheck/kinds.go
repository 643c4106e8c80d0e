package inputcheck

import (
	"fmt"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// A kind is the shape a flag's value must have; check returns "" when the
// value has it, else what is wrong and how to fix it.
type kind func(v string) string

var (
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	versionRE   = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?$`)
	clusterIDRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]{0,62}$`)
	prefixRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
)

func dnsLabel(what string) kind {
	return func(v string) string {
		if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
			return "is not " + what + " (lower-case letters, digits and '-', at most 63)"
		}
		return ""
	}
}

// objectName is a Velero object's name: a DNS subdomain that also fits the
// 63 characters of the label Velero copies it into.
func objectName(v string) string {
	if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 || len(v) > validation.LabelValueMaxLength {
		return "is not an object name (lower-case letters, digits, '-' and '.', at most 63)"
	}
	return ""
}

func matching(re *regexp.Regexp, what string) kind {
	return func(v string) string {
		if !re.MatchString(v) {
			return "is not " + what
		}
		return ""
	}
}

func urlKind(schemes ...string) kind {
	return func(v string) string {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.User != nil || !containsString(schemes, u.Scheme) || strings.ContainsAny(v, " \"'`$;|&<>\\") ||
			!isDNSName(strings.ToLower(u.Hostname())) && net.ParseIP(u.Hostname()) == nil {
			return "is not a URL (" + strings.Join(schemes, "://, ") + "://HOST...)"
		}
		return ""
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quantity(v string) string {
	if _, err := resource.ParseQuantity(v); err != nil {
		return "is not a resource quantity (such as 500m, 1 or 512Mi)"
	}
	return ""
}

func selector(v string) string {
	if _, err := labels.Parse(v); err != nil {
		return "is not a label selector (such as app=web,tier!=db)"
	}
	return ""
}

func requestTimeout(v string) string {
	if _, err := time.ParseDuration(v); err != nil && !regexp.MustCompile(`^\d+$`).MatchString(v) {
		return "is not a duration (such as 30s, or 0 for none)"
	}
	return ""
}

// printerFormats are the -o formats kubectl's printers know, and "table":
// a value outside them is refused here; which of them a command prints, and
// the template after "=", its own printer judges.
var printerFormats = []string{
	"json", "yaml", "name", "wide", "table", "go-template", "go-template-file", "template", "templatefile",
	"jsonpath", "jsonpath-file", "jsonpath-as-json", "custom-columns", "custom-columns-file",
}

// formatWord is a value a command's own printer judges: a plain word it
// may not print gets that command's list of the formats it does.
var formatWord = regexp.MustCompile(`^[a-z][a-z-]{0,31}$`)

func output(v string) string {
	format, _, _ := strings.Cut(v, "=")
	if !containsString(printerFormats, format) && !formatWord.MatchString(format) {
		return "is not an output format (such as json, yaml or name; the command's --help lists the ones it prints)"
	}
	return ""
}

func storageClass(v string) string {
	if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
		return "is not a storage class name: list them with 'oc get storageclasses'"
	}
	return ""
}

// isDNSName is a DNS subdomain whose every label fits DNS's 63.
func isDNSName(v string) bool {
	if len(validation.IsDNS1123Subdomain(v)) > 0 {
		return false
	}
	for _, l := range strings.Split(v, ".") {
		if len(l) > validation.DNS1123LabelMaxLength {
			return false
		}
	}
	return true
}

func hostname(v string) string {
	if !isDNSName(v) {
		return "is not a host name"
	}
	return ""
}

func resourceName(v string) string {
	if v != "*" && !isDNSName(v) {
		return "is not a resource (such as deployments, deployments.apps or *)"
	}
	return ""
}

func prefix(v string) string {
	if !prefixRE.MatchString(v) || strings.Contains(v, "..") || strings.Contains(v, "//") {
		return "is not a bucket prefix (letters, digits and . _ - /, no '..' or '//', not starting with '/')"
	}
	return ""
}

// shaped are the flags whose shape a domain package already checks with
// the message the user knows; Check calls it before any request instead of
// the command calling it after its reads.
var shaped = map[string]func(v string) error{
	"bucket":      manifests.ValidateBucketName,
	"kms-key-arn": bucket.ValidateKMSKeyARN,
	// setup adds the slashes IAM needs ("oadp" is /oadp/) before it checks.
	"role-path": func(v string) error { return iam.ValidatePath(iam.NormalizePath(v)) },
	"selector": func(v string) error {
		if why := selector(v); why != "" {
			return fmt.Errorf("invalid --selector %s: it %s", Quote(v), why)
		}
		return nil
	},
	"snapshots": func(v string) error {
		if v != manifests.SnapshotsCSI && v != manifests.SnapshotsNative {
			return fmt.Errorf("unknown snapshot mode %s: use --snapshots=csi or --snapshots=native", Quote(v))
		}
		return nil
	},
	"namespace-mappings": func(v string) error {
		old, nu, ok := strings.Cut(v, ":")
		if !ok || dnsLabel("")(old) != "" || dnsLabel("")(nu) != "" {
			return fmt.Errorf("malformed --namespace-mappings entry %s: write OLD:NEW with two namespace names (backup-ns:restored-ns)", Quote(v))
		}
		return nil
	},
}

// kinds holds the shape of the flags that have one beyond the rules every
// value keeps. A key is a flag's name, or "command/flag" where one name
// means different things in different commands (get backups --schedule is a
// schedule's name; schedule create --schedule a cron line, parsed by Velero's
// own parser in the command). A flag not here still keeps those rules; its
// command's Validate judges what it means, before its first request (the
// IAM names and ARNs, --dry-run, --install-operator).
var kinds = map[string]kind{
	"namespace":                dnsLabel("a namespace name"),
	"workload":                 dnsLabel("a namespace name"),
	"include-namespaces":       dnsLabel("a namespace name"),
	"catalog-source-namespace": dnsLabel("a namespace name"),
	"cloudstorage-name":        dnsLabel("a CloudStorage name"),
	"dpa-name":                 dnsLabel("a DataProtectionApplication name"),
	"catalog-source":           dnsLabel("a CatalogSource name"),
	"package":                  dnsLabel("a package name"),
	"storage-location":         dnsLabel("a backup storage location name"),
	"volume":                   storageClass,
	"from-schedule":            objectName,
	"backups/schedule":         objectName,
	"name":                     objectName,
	"channel":                  matching(regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`), "an operator channel (such as stable-1.4)"),
	"account-id":               matching(accountRE, "an AWS account ID (12 digits)"),
	"partition":                matching(partitionRE, "an AWS partition (aws, aws-cn, aws-us-gov)"),
	"region":                   matching(regionRE, "an AWS region (such as us-east-2)"),
	"for-user":                 oneOf(iam.CallerCommands...),
	"snapshot-region":          matching(regionRE, "an AWS region (such as us-east-2)"),
	"cluster-name":             dnsLabel("a cluster's infrastructure name"),
	"cluster-id":               matching(clusterIDRE, "a cluster ID (letters, digits and '-': the UUID in the ClusterVersion's spec.clusterID)"),
	"openshift-version":        matching(versionRE, "a version (such as 4.16 or 4.16.8)"),
	"oadp-version":             matching(versionRE, "a version (such as 1.4)"),
	"oidc-issuer":              urlKind("https"),
	"server": func(v string) string {
		// client-go takes host:port without a scheme, as kubectl does.
		if !strings.Contains(v, "://") {
			v = "https://" + v
		}
		return urlKind("https", "http")(v)
	},
	"proxy-url":             urlKind("http", "https", "socks5"),
	"tls-server-name":       hostname,
	"request-timeout":       requestTimeout,
	"velero-cpu-limit":      quantity,
	"velero-cpu-request":    quantity,
	"velero-memory-limit":   quantity,
	"velero-memory-request": quantity,
	"output":                output,
	"prefix":                prefix,
	"include-resources":     resourceName,
	"exclude-resources":     resourceName,
}

func oneOf(values ...string) kind {
	return func(v string) string {
		if !containsString(values, v) {
			return "is not one of " + strings.Join(values, ", ")
		}
		return ""
	}
}

// kindOf is the kind of a command's flag, nil when it has none.
func kindOf(command, flag string) kind {
	if k, ok := kinds[command+"/"+flag]; ok {
		return k
	}
	return kinds[flag]
}

func checkKind(command, name, v string) error {
	if check, ok := shaped[name]; ok {
		return check(v)
	}
	k := kindOf(command, name)
	if k == nil {
		return nil
	}
	if why := k(v); why != "" {
		return fmt.Errorf("--%s %s %s", name, Quote(v), why)
	}
	return nil
}
