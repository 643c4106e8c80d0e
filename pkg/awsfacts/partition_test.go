package awsfacts

import "testing"

func TestPartitionOf(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/admin/me": "aws",
		"arn:aws-us-gov:iam::123456789012:user/ci":        "aws-us-gov",
		"arn:aws-cn:sts::123456789012:federated-user/me":  "aws-cn",
		"":              "aws",
		"not-an-arn":    "aws",
		"arn::iam::1:x": "aws",
	} {
		if got := PartitionOf(in); got != want {
			t.Errorf("PartitionOf(%q) = %q, want %q", in, got, want)
		}
	}
}
