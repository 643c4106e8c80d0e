package iam

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestPermissionsPolicyIsTheChapters(t *testing.T) {
	d := PermissionsPolicy()
	if len(d.Statement) != 1 || d.Statement[0].Effect != "Allow" || d.Statement[0].Resource != "*" {
		t.Fatalf("want one Allow statement on *, got %+v", d.Statement)
	}
	acts := d.Statement[0].Action.([]string)
	if len(acts) != 25 {
		t.Errorf("%d actions, want the chapter's 25", len(acts))
	}
	seen := map[string]bool{}
	for _, a := range acts {
		if seen[a] {
			t.Errorf("duplicate action %s", a)
		}
		seen[a] = true
	}
	for _, a := range []string{"s3:AbortMultipartUpload", "ec2:DescribeSnapshots", "s3:ListMultipartUploadParts"} {
		if !seen[a] {
			t.Errorf("missing %s", a)
		}
	}
}

func TestTrustPolicy(t *testing.T) {
	d := TrustPolicy("aws-us-gov", "123456789012", "https://oidc.example.com/c1/", "backup")
	got := d.JSON()
	for _, want := range []string{
		`"Federated":"arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.example.com/c1"`,
		`"Action":"sts:AssumeRoleWithWebIdentity"`,
		`"oidc.example.com/c1:sub":["system:serviceaccount:backup:openshift-adp-controller-manager","system:serviceaccount:backup:velero"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trust policy lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, ":aud") {
		t.Errorf("trust policy has an aud condition: %s", got)
	}
}

func TestEqual(t *testing.T) {
	trust := TrustPolicy("aws", "123456789012", "https://o.example.com/x", "openshift-adp")
	reordered := `{"Statement":[{"Condition":{"StringEquals":{"o.example.com/x:sub":["system:serviceaccount:openshift-adp:velero","system:serviceaccount:openshift-adp:openshift-adp-controller-manager"]}},
	  "Action":["sts:AssumeRoleWithWebIdentity"],"Principal":{"Federated":["arn:aws:iam::123456789012:oidc-provider/o.example.com/x"]},"Effect":"Allow","Sid":"x"}],"Version":"2012-10-17"}`
	loneStatement := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/o.example.com/x"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"o.example.com/x:sub":["system:serviceaccount:openshift-adp:openshift-adp-controller-manager","system:serviceaccount:openshift-adp:velero"]}}}}`
	otherSubject := strings.Replace(loneStatement, ":velero", ":someone", 1)
	withAud := strings.Replace(loneStatement, `"StringEquals":{`, `"StringEquals":{"o.example.com/x:aud":"sts.amazonaws.com",`, 1)
	cases := []struct {
		name, doc string
		want      bool
	}{
		{"same", trust.JSON(), true},
		{"url-encoded as IAM returns it", url.PathEscape(trust.JSON()), true},
		{"reordered, lists for strings, a Sid", reordered, true},
		{"a lone statement object", loneStatement, true},
		{"another subject", otherSubject, false},
		{"an aud condition", withAud, false},
		{"indented", trust.Indented(), true},
	}
	for _, tc := range cases {
		got, err := Equal(tc.doc, trust)
		if err != nil || got != tc.want {
			t.Errorf("%s: Equal = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	perm := PermissionsPolicy()
	fewer := PermissionsPolicy()
	fewer.Statement[0].Action = PermissionActions[1:]
	if eq, _ := Equal(fewer.JSON(), perm); eq {
		t.Error("a policy with one action fewer compares equal")
	}
	rev := PermissionsPolicy()
	acts := rev.Statement[0].Action.([]string)
	for i, j := 0, len(acts)-1; i < j; i, j = i+1, j-1 {
		acts[i], acts[j] = acts[j], acts[i]
	}
	if eq, _ := Equal(rev.JSON(), perm); !eq {
		t.Error("reversed actions compare different")
	}
	// A plus sign survives URL-decoding (QueryUnescape would make it a space).
	plus := Document{Version: PolicyVersion, Statement: []Statement{{Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::a+b/*"}}}
	if eq, err := Equal(url.PathEscape(plus.JSON()), plus); !eq || err != nil {
		t.Errorf("plus sign: %v %v", eq, err)
	}
	if _, err := Equal("%7Bnot json", perm); err == nil {
		t.Error("garbage compares without error")
	}
}

func TestNames(t *testing.T) {
	if err := ValidateRoleName(strings.Repeat("a", 64), "fix"); err != nil {
		t.Errorf("64 characters: %v", err)
	}
	err := ValidateRoleName(strings.Repeat("a", 65), "set --role-name")
	if err == nil || !strings.Contains(err.Error(), "65 characters, IAM allows 64: set --role-name") {
		t.Errorf("65 characters: %v", err)
	}
	if err := ValidatePolicyName(strings.Repeat("p", 128), "fix"); err != nil {
		t.Errorf("128 characters: %v", err)
	}
	if err := ValidatePolicyName(strings.Repeat("p", 129), "fix"); err == nil {
		t.Error("129-character policy name accepted")
	}
	for _, bad := range []string{"with space", "slash/y", "ü", ""} {
		if err := ValidateRoleName(bad, "fix"); err == nil {
			t.Errorf("role name %q accepted", bad)
		}
	}
	for _, good := range []string{"a+b=c,d.e@f_g-h", "OadpVer1"} {
		if err := ValidatePolicyName(good, "fix"); err != nil {
			t.Errorf("policy name %q refused: %v", good, err)
		}
	}
	for p, ok := range map[string]bool{"/": true, "/oadp/": true, "/a/b/": true, "oadp": false, "/oa dp/": false, "/oadp": false} {
		if err := ValidatePath(p); (err == nil) != ok {
			t.Errorf("path %q: %v", p, err)
		}
	}
	if NormalizePath("oadp") != "/oadp/" || NormalizePath("") != "/" {
		t.Error("NormalizePath")
	}
	if err := ValidateBoundary("arn:aws:iam::123456789012:policy/b"); err != nil {
		t.Error(err)
	}
	if err := ValidateBoundary("arn:aws:iam::123456789012:role/b"); err == nil {
		t.Error("a role ARN accepted as a boundary")
	}
}

func TestTags(t *testing.T) {
	role := RoleTags("id-1", "4.16.8", "openshift-adp").With(OwnershipTags("id-1"))
	b, _ := json.Marshal(role.IAM())
	for _, want := range []string{`"cluster_id"`, `"openshift_version"`, `"operator_namespace"`, `"operator_name"`, TagOwnerClusterID, TagManagedBy} {
		if !strings.Contains(string(b), want) {
			t.Errorf("role tags lack %s: %s", want, b)
		}
	}
	if !Owned(role.IAM(), "id-1") || Owned(role.IAM(), "id-2") || Owned(RoleTags("id-1", "4", "ns").IAM(), "id-1") {
		t.Error("Owned is wrong")
	}
	have := Tags{TagOpenShiftVersion: "4.15.0", TagOperatorName: "oadp"}
	want := PolicyTags("4.16.8", "openshift-adp")
	if got := have.Missing(want, false).Keys(); strings.Join(got, ",") != "operator_namespace" {
		t.Errorf("missing without overwrite = %v", got)
	}
	if got := have.Missing(want, true).Keys(); strings.Join(got, ",") != "openshift_version,operator_namespace" {
		t.Errorf("missing with overwrite = %v", got)
	}
	if n := len(PolicyTags("", "ns").IAM()); n != 2 {
		t.Errorf("an unknown version is tagged: %d tags", n)
	}
}

func TestSpec(t *testing.T) {
	in := Inputs{Partition: "aws", AccountID: "123456789012", OIDCIssuer: "https://o/x", Namespace: "openshift-adp",
		ClusterID: "c", OpenShiftVersion: "4.16.8", PolicyName: "OadpVer1", RoleName: "r", RolePath: "/oadp/"}
	s, err := NewSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.RoleARN != "arn:aws:iam::123456789012:role/oadp/r" || s.PolicyARN != "arn:aws:iam::123456789012:policy/OadpVer1" {
		t.Errorf("ARNs %s %s", s.RoleARN, s.PolicyARN)
	}
	in.AccountID = ""
	if _, err := NewSpec(in); err == nil || !strings.Contains(err.Error(), "--account-id") {
		t.Errorf("no account: %v", err)
	}
	p := FreshPlan(s)
	if !p.Changes() || p.Steps[0].Line(false) != "policy OadpVer1: would create" || p.Steps[1].Line(true) != "role r: created" {
		t.Errorf("fresh plan lines: %q %q", p.Steps[0].Line(false), p.Steps[1].Line(true))
	}
}
