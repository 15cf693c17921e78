// Package blobstore runs sectorflow's Storage on any gocloud.dev/blob bucket: S3 and
// S3-compatible servers, Google Cloud Storage, Azure Blob Storage, a local directory or memory.
// It is a separate package so that only programs that import it compile gocloud.dev.
//
//	import _ "gocloud.dev/blob/s3blob" // registers s3:// URLs
//
//	bucket, err := blob.OpenBucket(ctx, "s3://my-bucket?region=eu-west-1")
//	...
//	store := sectorflow.NewStore(blobstore.New(bucket, nil), nil)
package blobstore
