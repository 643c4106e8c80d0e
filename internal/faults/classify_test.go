package faults

import (
	"net/http/httptest"
	"testing"
)

// S3 requests are named by the operation the S3 API reference gives them,
// from the method, the path (bucket or object) and the subresource key; an
// unknown one keeps its method and path.
func TestS3Action(t *testing.T) {
	cases := []struct{ method, target, want string }{
		{"GET", "/?prefix=b&x-id=ListBuckets", "ListBuckets"},
		{"HEAD", "/b", "HeadBucket"},
		{"PUT", "/b", "CreateBucket"},
		{"DELETE", "/b", "DeleteBucket"},
		{"PUT", "/b?publicAccessBlock", "PutPublicAccessBlock"},
		{"GET", "/b?publicAccessBlock", "GetPublicAccessBlock"},
		{"PUT", "/b?encryption", "PutBucketEncryption"},
		{"GET", "/b?tagging", "GetBucketTagging"},
		{"DELETE", "/b?tagging", "DeleteBucketTagging"},
		{"PUT", "/b?versioning", "PutBucketVersioning"},
		{"GET", "/b?location", "GetBucketLocation"},
		{"GET", "/b?list-type=2&prefix=velero%2F", "ListObjectsV2"},
		{"GET", "/b?prefix=velero%2F", "ListObjects"},
		{"GET", "/b?versions", "ListObjectVersions"},
		{"GET", "/b?uploads", "ListMultipartUploads"},
		{"POST", "/b?delete", "DeleteObjects"},
		{"GET", "/b/velero/backups/x.tar.gz", "GetObject"},
		{"PUT", "/b/k", "PutObject"},
		{"DELETE", "/b/k?versionId=1", "DeleteObject"},
		{"HEAD", "/b/k", "HeadObject"},
		{"POST", "/b", "POST /b"},
		{"PATCH", "/b/k", "PATCH /b/k"},
	}
	for _, c := range cases {
		if got := s3Action(httptest.NewRequest(c.method, c.target, nil)); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.target, got, c.want)
		}
	}
}
