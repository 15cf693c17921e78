package blobstore

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/sectorflow/sdk/sectorflow"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Options configures a Driver. A nil *Options means the defaults.
type Options struct {
	// Prefix is put in front of every object path in the bucket, so one bucket can hold other
	// data too: "sectorflow/" stores acme's adapter run-1 as "sectorflow/acme/adapter/run-1".
	// It must be empty or end in '/'. Default: "".
	Prefix string
}

// Driver is a sectorflow.Driver over a gocloud.dev/blob bucket. Objects are stored as
// "prefix/tenant/kind/name". Writes rely on the bucket's atomic writes: a write whose context is
// cancelled before it completes is aborted and leaves nothing, as gocloud.dev/blob documents for
// every driver.
type Driver struct {
	bucket *blob.Bucket
	prefix string
}

var (
	_ sectorflow.Driver      = (*Driver)(nil)
	_ sectorflow.RangeOpener = (*Driver)(nil)
)

// New returns a Driver over bucket. The caller keeps ownership of bucket and closes it. An
// invalid prefix is reported by New's methods rather than here, so New cannot fail.
func New(bucket *blob.Bucket, opts *Options) *Driver {
	d := &Driver{bucket: bucket}
	if opts != nil {
		d.prefix = opts.Prefix
	}
	return d
}

// check validates the prefix, and key when there is one: a Driver used without a Store stays
// safe.
func (d *Driver) check(key *sectorflow.Key) error {
	if key != nil {
		if err := key.Validate(); err != nil {
			return err
		}
	}
	if d.prefix != "" && !strings.HasSuffix(d.prefix, "/") {
		return fmt.Errorf("blobstore: expected Options.Prefix to end in '/', found %q", d.prefix)
	}
	return nil
}

func (d *Driver) path(key sectorflow.Key) string { return d.prefix + key.String() }

// WriteObject implements sectorflow.Driver.
func (d *Driver) WriteObject(ctx context.Context, key sectorflow.Key, r io.Reader) error {
	if err := d.check(&key); err != nil {
		return err
	}
	// Cancelling the writer's context before Close aborts the write on every gocloud driver.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := d.bucket.NewWriter(wctx, d.path(key), &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("blobstore: open writer: %w", err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		w.Close()
		return fmt.Errorf("blobstore: write content: %w", err)
	}
	if err := ctx.Err(); err != nil {
		cancel()
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("blobstore: commit: %w", err)
	}
	return nil
}

// OpenObject implements sectorflow.Driver.
func (d *Driver) OpenObject(ctx context.Context, key sectorflow.Key) (io.ReadCloser, error) {
	if err := d.check(&key); err != nil {
		return nil, err
	}
	r, err := d.bucket.NewReader(ctx, d.path(key), nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, sectorflow.ErrNotFound
		}
		return nil, fmt.Errorf("blobstore: open: %w", err)
	}
	return r, nil
}

// OpenRange implements sectorflow.RangeOpener, so that listing reads only object headers.
func (d *Driver) OpenRange(ctx context.Context, key sectorflow.Key, offset, length int64) (io.ReadCloser, error) {
	if err := d.check(&key); err != nil {
		return nil, err
	}
	r, err := d.bucket.NewRangeReader(ctx, d.path(key), offset, length, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, sectorflow.ErrNotFound
		}
		return nil, fmt.Errorf("blobstore: open range: %w", err)
	}
	return r, nil
}

// RemoveObject implements sectorflow.Driver.
func (d *Driver) RemoveObject(ctx context.Context, key sectorflow.Key) error {
	if err := d.check(&key); err != nil {
		return err
	}
	if err := d.bucket.Delete(ctx, d.path(key)); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return sectorflow.ErrNotFound
		}
		return fmt.Errorf("blobstore: delete: %w", err)
	}
	return nil
}

// ListObjects implements sectorflow.Driver. Objects whose path is not a valid key (written by
// something else under the prefix) are skipped.
func (d *Driver) ListObjects(ctx context.Context, tenant, prefix string) iter.Seq2[sectorflow.DriverObject, error] {
	return func(yield func(sectorflow.DriverObject, error) bool) {
		if err := d.check(nil); err != nil {
			yield(sectorflow.DriverObject{}, err)
			return
		}
		if tenant != "" {
			if err := sectorflow.ValidateTenant(tenant); err != nil {
				yield(sectorflow.DriverObject{}, err)
				return
			}
			// The prefix is checked by the Store; here it only must not leave the tenant.
			if strings.Contains(prefix, "..") || strings.Count(prefix, "/") > 1 {
				yield(sectorflow.DriverObject{}, fmt.Errorf("blobstore: expected a \"kind/name\" prefix, found %q: %w", prefix, sectorflow.ErrInvalidKey))
				return
			}
		}
		p := d.prefix
		if tenant != "" {
			// The trailing '/' keeps tenant "acme" from listing "acme-corp".
			p += tenant + "/" + prefix
		}
		it := d.bucket.List(&blob.ListOptions{Prefix: p})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(sectorflow.DriverObject{}, fmt.Errorf("blobstore: list %q: %w", p, err))
				return
			}
			if obj.IsDir {
				continue
			}
			key, err := sectorflow.ParseKey(strings.TrimPrefix(obj.Key, d.prefix))
			if err != nil || (tenant != "" && key.Tenant != tenant) {
				continue
			}
			if !yield(sectorflow.DriverObject{Key: key, Size: obj.Size}, nil) {
				return
			}
		}
	}
}
