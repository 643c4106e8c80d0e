package awsfacts

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// HeadBucketAPI is the one S3 call bucket-region discovery makes.
type HeadBucketAPI interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

// BucketRegions discovers a bucket's region the way the OADP operator does
// for a location without config.region: from S3's answer to a HEAD of the
// bucket, which names the region even when it refuses the request. The
// operator asks anonymously; this asks with the caller's credentials, so it
// finds the same public and own buckets.
type BucketRegions struct {
	S3 HeadBucketAPI
}

// BucketRegion returns the bucket's region, or an error when S3 does not
// say (no such bucket, no network).
func (b BucketRegions) BucketRegion(ctx context.Context, bucket string) (string, error) {
	out, err := b.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		if r := aws.ToString(out.BucketRegion); r != "" {
			return r, nil
		}
		return "", errors.New("S3 did not name the bucket's region")
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusNotFound {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
			return r, nil
		}
	}
	return "", err
}
