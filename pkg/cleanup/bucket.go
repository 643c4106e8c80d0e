package cleanup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
)

// MaxDeleteBatch is S3's limit of keys per DeleteObjects call.
const MaxDeleteBatch = 1000

// Emptier deletes every object version and delete marker of a bucket.
type Emptier struct {
	S3 awsclient.S3API
	// Region is the bucket's region ("" for the client's).
	Region string
	// InFlight is how many DeleteObjects calls run at once; listing goes on
	// while they do.
	InFlight int
	// Progress is called after each batch with the running total.
	Progress func(deleted int64)
}

// Empty removes everything from bucket and returns how many keys it deleted.
// S3 refuses to delete a bucket holding any version or delete marker, and the
// OADP operator's own deletion calls DeleteBucket directly, so without this a
// CloudStorage with data never goes away.
func (e *Emptier) Empty(ctx context.Context, bucket string) (int64, error) {
	inFlight := e.InFlight
	if inFlight <= 0 {
		inFlight = 8
	}
	var (
		deleted  atomic.Int64
		wg       sync.WaitGroup
		sem      = make(chan struct{}, inFlight)
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	send := func(batch []types.ObjectIdentifier) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out, err := e.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: &bucket,
				Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
			}, inRegion(e.Region))
			if err != nil {
				fail(awsclient.Explain("delete objects from bucket "+bucket, err))
				cancel()
				return
			}
			if len(out.Errors) > 0 {
				e0 := out.Errors[0]
				fail(fmt.Errorf("S3 refused to delete %d objects from bucket %s (first: %s: %s)", len(out.Errors), bucket, aws.ToString(e0.Key), aws.ToString(e0.Message)))
			}
			total := deleted.Add(int64(len(batch) - len(out.Errors)))
			if e.Progress != nil {
				e.Progress(total)
			}
		})
	}
	sendAll := func(ids []types.ObjectIdentifier) {
		for len(ids) > 0 && ctx.Err() == nil {
			n := min(len(ids), MaxDeleteBatch)
			send(ids[:n])
			ids = ids[n:]
		}
	}

	// Deleting runs while listing goes on. The last entry of each page is
	// the next page's marker: it is kept until the listing ends, because
	// some S3-compatible stores (moto among them) lose their place when the
	// marker's version is already gone.
	var markers []types.ObjectIdentifier
	pages := s3.NewListObjectVersionsPaginator(e.S3, &s3.ListObjectVersionsInput{Bucket: &bucket, MaxKeys: aws.Int32(MaxDeleteBatch)})
	for pages.HasMorePages() && ctx.Err() == nil {
		page, err := pages.NextPage(ctx, inRegion(e.Region))
		if err != nil {
			fail(awsclient.Explain("list the objects of bucket "+bucket, err))
			break
		}
		ids, marker := pageIDs(page)
		if marker != nil {
			markers = append(markers, *marker)
		}
		sendAll(ids)
	}
	sendAll(markers)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		firstErr = ctx.Err()
	}
	return deleted.Load(), firstErr
}

// pageIDs are the versions and delete markers of one page of the listing,
// without the page's last entry when another page follows: that one is the
// marker, returned apart to be deleted when the listing ends.
func pageIDs(page *s3.ListObjectVersionsOutput) (ids []types.ObjectIdentifier, marker *types.ObjectIdentifier) {
	ids = make([]types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
	for _, v := range page.Versions {
		ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range page.DeleteMarkers {
		ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
	}
	if !aws.ToBool(page.IsTruncated) || len(ids) == 0 {
		return ids, nil
	}
	last := lastListed(page)
	for i, id := range ids {
		if aws.ToString(id.Key) == aws.ToString(last.Key) && aws.ToString(id.VersionId) == aws.ToString(last.VersionId) {
			return append(ids[:i], ids[i+1:]...), &id
		}
	}
	return ids, nil
}

// inRegion sends an S3 call to the bucket's region: S3 answers a request sent
// to another region with a redirect the SDK does not follow.
func inRegion(region string) func(*s3.Options) {
	return func(o *s3.Options) {
		if region != "" {
			o.Region = region
		}
	}
}

// lastListed is the entry a truncated page ends on: the one NextKeyMarker
// and NextVersionIdMarker name.
func lastListed(page *s3.ListObjectVersionsOutput) types.ObjectIdentifier {
	return types.ObjectIdentifier{Key: page.NextKeyMarker, VersionId: page.NextVersionIdMarker}
}
