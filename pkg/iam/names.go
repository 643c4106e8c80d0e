package iam

import (
	"fmt"
	"regexp"
	"strings"
)

// IAM's limits on names, from the IAM API reference.
const (
	MaxRoleNameLen   = 64
	MaxPolicyNameLen = 128
	MaxPathLen       = 512
)

var (
	nameChars = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathRE    = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	policyARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\x21-\x7E]+$`)
)

// ValidateRoleName checks a role name against IAM's rules; fix says which
// flag to change.
func ValidateRoleName(name, fix string) error {
	return validateName("role", name, MaxRoleNameLen, fix)
}

// ValidatePolicyName checks a policy name against IAM's rules.
func ValidatePolicyName(name, fix string) error {
	return validateName("policy", name, MaxPolicyNameLen, fix)
}

func validateName(kind, name string, limit int, fix string) error {
	switch {
	case name == "":
		return fmt.Errorf("the IAM %s name is empty: %s", kind, fix)
	case len(name) > limit:
		return fmt.Errorf("the IAM %s name %q is %d characters, IAM allows %d: %s", kind, name, len(name), limit, fix)
	case !nameChars.MatchString(name):
		return fmt.Errorf("the IAM %s name %q has characters IAM does not allow (only letters, digits and + = , . @ _ -): %s", kind, name, fix)
	}
	return nil
}

// ValidatePath checks a role path: "/" or "/a/b/".
func ValidatePath(path string) error {
	if len(path) > MaxPathLen || !pathRE.MatchString(path) {
		return fmt.Errorf("--role-path %q is not an IAM path: it must start and end with \"/\" (for example /oadp/) and have no spaces", path)
	}
	return nil
}

// ValidateBoundary checks a permissions boundary: a managed policy ARN.
func ValidateBoundary(arn string) error {
	if arn != "" && !policyARN.MatchString(arn) {
		return fmt.Errorf("--permissions-boundary %q is not a managed policy ARN (arn:aws:iam::<account>:policy/<name>)", arn)
	}
	return nil
}

// NormalizePath adds the slashes IAM requires around a path ("oadp" -> "/oadp/").
func NormalizePath(path string) string {
	if path == "" {
		return "/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	return path
}
