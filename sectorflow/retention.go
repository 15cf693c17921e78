package sectorflow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The Store writes this header in front of every object's content, so that retention travels
// with the bytes on every driver and a reader sees the retention of the version it reads.
//
//	magic "SFO\x01" | created (int64 Unix ns, big-endian) | expires (int64 Unix ns; 0: permanent)
const headerSize = 4 + 8 + 8

var headerMagic = [4]byte{'S', 'F', 'O', 1}

// ErrCorrupt is the condition of errors about stored bytes that are not what this package wrote:
// a damaged object header, or an encrypted object that fails authentication.
var ErrCorrupt = errors.New("stored object is corrupt")

type header struct {
	created time.Time
	expires time.Time // zero: permanent
}

func (h header) expired(now time.Time) bool {
	return !h.expires.IsZero() && !now.Before(h.expires)
}

func encodeHeader(h header) []byte {
	b := make([]byte, headerSize)
	copy(b, headerMagic[:])
	binary.BigEndian.PutUint64(b[4:], uint64(h.created.UnixNano()))
	if !h.expires.IsZero() {
		binary.BigEndian.PutUint64(b[12:], uint64(h.expires.UnixNano()))
	}
	return b
}

func readHeader(r io.Reader) (header, error) {
	var b [headerSize]byte
	if n, err := io.ReadFull(r, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return header{}, fmt.Errorf("object header: expected %d bytes, found %d: %w", headerSize, n, ErrCorrupt)
		}
		return header{}, fmt.Errorf("object header: %w", err)
	}
	if [4]byte(b[:4]) != headerMagic {
		return header{}, fmt.Errorf("object header: expected magic %q, found %q: %w", headerMagic[:], b[:4], ErrCorrupt)
	}
	h := header{created: time.Unix(0, int64(binary.BigEndian.Uint64(b[4:]))).UTC()}
	if e := int64(binary.BigEndian.Uint64(b[12:])); e != 0 {
		h.expires = time.Unix(0, e).UTC()
	}
	return h, nil
}

// expiry resolves the retention of a Put that starts at now.
func (s *Store) expiry(kind Kind, now time.Time, opts *PutOptions) (time.Time, error) {
	var o PutOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.TTL < 0:
		return time.Time{}, fmt.Errorf("retention: expected a TTL >= 0, found %s", o.TTL)
	case o.Permanent && o.TTL > 0:
		return time.Time{}, fmt.Errorf("retention: expected either Permanent or a TTL, found both (TTL %s)", o.TTL)
	case o.Permanent:
		return time.Time{}, nil
	case o.TTL > 0:
		return now.Add(o.TTL), nil
	case kind == KindLog:
		return now.Add(s.logTTL), nil
	}
	return time.Time{}, nil
}

// Sweep implements Sweeper: it removes every expired object of every tenant. Expired objects
// are already unreadable before the sweep; the sweep frees their space. Run it periodically
// (for example hourly). An object that a Put of this Store rewrites while the sweep runs is
// kept: the sweep skips objects being written and re-reads each header just before removing.
// Stores in other processes that share the backend are not coordinated with: there a Put that
// commits between that re-read and the removal can be lost, so run the sweep where no writer
// rewrites expired keys at the same moment (or accept that such a rare rewrite must be retried).
func (s *Store) Sweep(ctx context.Context) (*DeletionReport, error) {
	now := s.now()
	var objs []DriverObject
	for obj, err := range s.driver.ListObjects(ctx, "", "") {
		if err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		objs = append(objs, obj)
	}
	report := &DeletionReport{}
	var unreadable []error
	for _, obj := range objs {
		if err := ctx.Err(); err != nil {
			return report, fmt.Errorf("sweep: %w", err)
		}
		info, removed, err := s.sweepOne(ctx, obj, now)
		if errors.Is(err, ErrCorrupt) {
			// One damaged object must not keep the others' expired data alive.
			unreadable = append(unreadable, fmt.Errorf("%s: %w", obj.Key, err))
			continue
		}
		if err != nil {
			return report, fmt.Errorf("sweep %s: %w", obj.Key, err)
		}
		if removed {
			report.Removed = append(report.Removed, info)
			report.Bytes += info.Size
		}
	}
	if len(unreadable) > 0 {
		return report, fmt.Errorf("sweep: kept %d objects whose retention cannot be read: %w", len(unreadable), errors.Join(unreadable...))
	}
	return report, nil
}

// sweepOne removes obj if it has expired. An object that a Put of this Store is writing is left
// for the next sweep (it is unreadable meanwhile anyway).
func (s *Store) sweepOne(ctx context.Context, obj DriverObject, now time.Time) (ObjectInfo, bool, error) {
	mu := s.stripe(obj.Key)
	if !mu.TryLock() {
		return ObjectInfo{}, false, nil
	}
	defer mu.Unlock()
	// The header is read under the lock, just before removing: a Put may have replaced it.
	h, err := s.readHeader(ctx, obj.Key)
	if errors.Is(err, ErrNotFound) {
		return ObjectInfo{}, false, nil
	}
	if err != nil {
		return ObjectInfo{}, false, err
	}
	if !h.expired(now) {
		return ObjectInfo{}, false, nil
	}
	if err := s.driver.RemoveObject(ctx, obj.Key); err != nil && !errors.Is(err, ErrNotFound) {
		return ObjectInfo{}, false, err
	}
	return ObjectInfo{Key: obj.Key, Size: obj.Size - headerSize, Created: h.created, Expires: h.expires}, true, nil
}

// DeleteTenant implements TenantDeleter: it removes every object tenant owns, of every kind,
// expired and corrupt ones included, and reports them. Stop the tenant's writers first: an
// object written while the deletion runs makes it fail with an error saying what remains.
func (s *Store) DeleteTenant(ctx context.Context, tenant string) (*DeletionReport, error) {
	if err := ValidateTenant(tenant); err != nil {
		return nil, fmt.Errorf("delete tenant: %w", err)
	}
	var objs []DriverObject
	for obj, err := range s.driver.ListObjects(ctx, tenant, "") {
		if err != nil {
			return nil, fmt.Errorf("delete tenant %s: %w", tenant, err)
		}
		objs = append(objs, obj)
	}
	report := &DeletionReport{}
	for _, obj := range objs {
		if err := ctx.Err(); err != nil {
			return report, fmt.Errorf("delete tenant %s: %w", tenant, err)
		}
		info := ObjectInfo{Key: obj.Key, Size: max(obj.Size-headerSize, 0)}
		if h, err := s.readHeader(ctx, obj.Key); err == nil {
			info.Created, info.Expires = h.created, h.expires
		}
		if err := s.driver.RemoveObject(ctx, obj.Key); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return report, fmt.Errorf("delete tenant %s: %w", tenant, err)
		}
		report.Removed = append(report.Removed, info)
		report.Bytes += info.Size
	}
	if c, ok := findDriver[tenantCleaner](s.driver); ok {
		if err := c.cleanTenant(ctx, tenant); err != nil {
			return report, fmt.Errorf("delete tenant %s: %w", tenant, err)
		}
	}
	for obj, err := range s.driver.ListObjects(ctx, tenant, "") {
		if err != nil {
			return report, fmt.Errorf("delete tenant %s: verify: %w", tenant, err)
		}
		return report, fmt.Errorf("delete tenant %s: expected no objects left, found %s (written during the deletion?)", tenant, obj.Key)
	}
	return report, nil
}

// tenantCleaner is implemented by drivers that keep per-tenant state besides objects (the file
// driver's directories); DeleteTenant calls it once the objects are gone.
type tenantCleaner interface {
	cleanTenant(ctx context.Context, tenant string) error
}

// findDriver returns the first driver in the Unwrap chain of d that implements T.
func findDriver[T any](d Driver) (T, bool) {
	for d != nil {
		if t, ok := d.(T); ok {
			return t, true
		}
		u, ok := d.(interface{ Unwrap() Driver })
		if !ok {
			break
		}
		d = u.Unwrap()
	}
	var zero T
	return zero, false
}
