package sectorflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"iter"
	"sync"
	"time"
)

// ErrNotFound is returned (wrapped) by Get when an object is absent or has expired, and by Delete
// when it is absent.
var ErrNotFound = errors.New("object not found")

// Storage is the tenant-scoped object store that datasets, adapters, models, checkpoints, job
// records, uploaded files and job logs live in. Every key names its tenant, so no call can reach
// another tenant's objects. Implementations must be safe for concurrent use.
//
// Store is the implementation in this package; sectorflow/storagetest.Run is the conformance
// suite any implementation must pass.
type Storage interface {
	// Put stores the whole of r under key, atomically: readers see the previous object or the
	// new one, never a part, and a cancelled or failed Put leaves no trace.
	Put(ctx context.Context, key Key, r io.Reader, opts *PutOptions) error
	// Get opens the object under key. It returns an error matching ErrNotFound when the object is
	// absent or has expired.
	Get(ctx context.Context, key Key) (io.ReadCloser, error)
	// Delete removes the object under key; an error matching ErrNotFound when it is absent.
	Delete(ctx context.Context, key Key) error
	// List yields the live objects of tenant whose "kind/name" starts with prefix, in no
	// particular order. An invalid tenant or prefix is yielded as an error matching ErrInvalidKey.
	List(ctx context.Context, tenant, prefix string) iter.Seq2[ObjectInfo, error]
}

// TenantDeleter is implemented by stores that can delete everything a tenant owns.
type TenantDeleter interface {
	// DeleteTenant removes every object of tenant, expired ones included, and reports them.
	DeleteTenant(ctx context.Context, tenant string) (*DeletionReport, error)
}

// Sweeper is implemented by stores that can remove expired objects.
type Sweeper interface {
	// Sweep removes every expired object of every tenant and reports them.
	Sweep(ctx context.Context) (*DeletionReport, error)
}

// PutOptions sets an object's retention. A nil *PutOptions, or the zero value, means the default
// retention of the key's kind: temporary with StoreOptions.LogTTL for KindLog, permanent for
// every other kind.
type PutOptions struct {
	// TTL makes the object temporary: it becomes unreadable TTL after the Put and a sweep
	// removes it. It must not be negative.
	TTL time.Duration
	// Permanent keeps the object until it is deleted, whatever its kind. It excludes TTL.
	Permanent bool
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     Key
	Size    int64     // bytes of content
	Created time.Time // when the Put that wrote it began
	Expires time.Time // when it becomes unreadable; the zero time for a permanent object
}

// Temporary reports whether the object has an expiry.
func (o ObjectInfo) Temporary() bool { return !o.Expires.IsZero() }

// DeletionReport says what a tenant deletion or a sweep removed.
type DeletionReport struct {
	Removed []ObjectInfo // every object removed, expired ones included
	Bytes   int64        // their total size
}

// Driver is the small backend interface a Store runs on. A Store validates keys and handles
// retention before it calls a driver, so drivers only move bytes: the driver sees keys that
// passed Key.Validate, and each object's content starts with a small header that the Store
// writes and reads itself.
//
// Optional capabilities are found by type assertion: io.Closer (Store.Close calls it),
// RangeOpener (for reading headers cheaply), and Unwrap() Driver for wrappers such as the
// encrypting driver.
type Driver interface {
	// WriteObject stores the whole of r under key atomically, replacing any object there. When
	// ctx is cancelled or r fails, it returns an error and leaves the previous state unchanged.
	WriteObject(ctx context.Context, key Key, r io.Reader) error
	// OpenObject opens the object under key; an error matching ErrNotFound when it is absent.
	// The reader sees one complete version of the object even if it is replaced meanwhile.
	OpenObject(ctx context.Context, key Key) (io.ReadCloser, error)
	// RemoveObject removes the object under key; an error matching ErrNotFound when absent.
	RemoveObject(ctx context.Context, key Key) error
	// ListObjects yields the objects of tenant whose "kind/name" starts with prefix, or those of
	// every tenant when tenant is "" (prefix is then ""). Size is the stored size.
	ListObjects(ctx context.Context, tenant, prefix string) iter.Seq2[DriverObject, error]
}

// RangeOpener is an optional Driver capability: opening the first bytes of an object without
// transferring the rest. List, Sweep and DeleteTenant use it to read each object's retention;
// without it they open the whole object and close it after the header, which costs a full
// request on remote stores.
type RangeOpener interface {
	// OpenRange opens length bytes of the object under key starting at offset, fewer when the
	// object is shorter; an error matching ErrNotFound when it is absent.
	OpenRange(ctx context.Context, key Key, offset, length int64) (io.ReadCloser, error)
}

// DriverObject is an object as a Driver lists it.
type DriverObject struct {
	Key  Key
	Size int64 // stored bytes, the Store's header included
}

// StoreOptions configures a Store. A nil *StoreOptions, or zero fields, mean the defaults.
type StoreOptions struct {
	// Now is the clock that retention is measured with. Default: time.Now.
	Now func() time.Time
	// LogTTL is how long objects of KindLog are kept when Put is given no retention.
	// Default: DefaultLogTTL.
	LogTTL time.Duration
}

// DefaultLogTTL is how long job logs are kept unless a Put says otherwise.
const DefaultLogTTL = 30 * 24 * time.Hour

// Store is the Storage implementation of this package: it validates keys, applies retention and
// enforces expiry on read over any Driver (memory, file system, gocloud.dev/blob, encrypted).
// It also implements TenantDeleter and Sweeper. It is safe for concurrent use when its driver
// is.
type Store struct {
	driver Driver
	now    func() time.Time
	logTTL time.Duration
	// Puts hold their key's stripe for reading; Sweep removes an object only while holding it for
	// writing, so it never removes a version that a Put in this process is committing.
	stripes [64]sync.RWMutex
}

func (s *Store) stripe(key Key) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(key.String()))
	return &s.stripes[h.Sum32()%uint32(len(s.stripes))]
}

var (
	_ Storage       = (*Store)(nil)
	_ TenantDeleter = (*Store)(nil)
	_ Sweeper       = (*Store)(nil)
)

// NewStore returns a Store over d, which must not be nil.
func NewStore(d Driver, opts *StoreOptions) *Store {
	s := &Store{driver: d, now: time.Now, logTTL: DefaultLogTTL}
	if opts != nil {
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.LogTTL > 0 {
			s.logTTL = opts.LogTTL
		}
	}
	return s
}

// NewMemoryStore returns a Store that keeps objects in memory.
func NewMemoryStore(opts *StoreOptions) *Store { return NewStore(NewMemoryDriver(), opts) }

// OpenFileStore returns a Store that keeps objects in files under dir, creating dir if needed.
// Close it to release the directory.
func OpenFileStore(dir string, opts *StoreOptions) (*Store, error) {
	d, err := OpenFileDriver(dir)
	if err != nil {
		return nil, err
	}
	return NewStore(d, opts), nil
}

// Unwrap returns the driver s runs on.
func (s *Store) Unwrap() Driver { return s.driver }

// Close closes the driver when it implements io.Closer, and does nothing otherwise.
func (s *Store) Close() error {
	if c, ok := s.driver.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Put implements Storage.
func (s *Store) Put(ctx context.Context, key Key, r io.Reader, opts *PutOptions) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	now := s.now()
	expires, err := s.expiry(key.Kind, now, opts)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if r == nil {
		return fmt.Errorf("put %s: expected a reader with the content, found nil", key)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	h := encodeHeader(header{created: now, expires: expires})
	body := io.MultiReader(bytes.NewReader(h), &ctxReader{ctx: ctx, r: r})
	mu := s.stripe(key)
	mu.RLock()
	defer mu.RUnlock()
	if err := s.driver.WriteObject(ctx, key, body); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get implements Storage.
func (s *Store) Get(ctx context.Context, key Key) (io.ReadCloser, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	rc, h, err := s.open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if h.expired(s.now()) {
		rc.Close()
		return nil, fmt.Errorf("get %s: expired at %s: %w", key, h.expires.UTC().Format(time.RFC3339), ErrNotFound)
	}
	return rc, nil
}

// Delete implements Storage. Deleting an expired object that a sweep has not removed yet
// succeeds.
func (s *Store) Delete(ctx context.Context, key Key) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.driver.RemoveObject(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List implements Storage. It reads each object's header to leave expired objects out.
func (s *Store) List(ctx context.Context, tenant, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ValidateTenant(tenant); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list: %w", err))
			return
		}
		if err := validatePrefix(prefix); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list: %w", err))
			return
		}
		now := s.now()
		for info, err := range s.listAll(ctx, tenant, prefix) {
			if err != nil {
				yield(ObjectInfo{}, fmt.Errorf("list %s/%s: %w", tenant, prefix, err))
				return
			}
			if info.Temporary() && !now.Before(info.Expires) {
				continue
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// listAll yields every object of tenant (every tenant when tenant is ""), expired ones included,
// with its header read. Objects that vanish while listing are skipped.
func (s *Store) listAll(ctx context.Context, tenant, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		for obj, err := range s.driver.ListObjects(ctx, tenant, prefix) {
			if err != nil {
				yield(ObjectInfo{}, err)
				return
			}
			if err := ctx.Err(); err != nil {
				yield(ObjectInfo{}, err)
				return
			}
			h, err := s.readHeader(ctx, obj.Key)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				yield(ObjectInfo{}, fmt.Errorf("%s: %w", obj.Key, err))
				return
			}
			info := ObjectInfo{Key: obj.Key, Size: obj.Size - headerSize, Created: h.created, Expires: h.expires}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// open opens key on the driver and reads its header.
func (s *Store) open(ctx context.Context, key Key) (io.ReadCloser, header, error) {
	rc, err := s.driver.OpenObject(ctx, key)
	if err != nil {
		return nil, header{}, err
	}
	h, err := readHeader(rc)
	if err != nil {
		rc.Close()
		return nil, header{}, err
	}
	return rc, h, nil
}

// readHeader reads only the header of key, with a ranged read when the driver offers one.
func (s *Store) readHeader(ctx context.Context, key Key) (header, error) {
	var rc io.ReadCloser
	var err error
	if ro, ok := s.driver.(RangeOpener); ok {
		rc, err = ro.OpenRange(ctx, key, 0, headerSize)
	} else {
		rc, err = s.driver.OpenObject(ctx, key)
	}
	if err != nil {
		return header{}, err
	}
	defer rc.Close()
	return readHeader(rc)
}

// ctxReader stops a copy when its context is cancelled, so that every driver aborts a cancelled
// Put even when the source reader never returns an error itself.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
