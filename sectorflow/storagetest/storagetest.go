package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/stretchr/testify/require"
)

// Factory returns a new, empty store whose retention clock is now. The store must also
// implement sectorflow.TenantDeleter and sectorflow.Sweeper. Cleanup belongs in t.Cleanup.
type Factory func(t *testing.T, now func() time.Time) sectorflow.Storage

// Run runs the conformance suite against stores made by newStore, one fresh store per subtest.
func Run(t *testing.T, newStore Factory) { RunOnly(t, newStore) }

// RunOnly runs the subtests of the suite that are named in names (all of them when names is
// empty), so that a test can prove one promise: RunOnly(t, f, "TenantIsolation").
func RunOnly(t *testing.T, newStore Factory, names ...string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s sectorflow.Storage, clock *Clock)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"OverwriteIsAtomicForReaders", testOverwriteAtomic},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CancelledPutLeavesNothing", testCancelledPut},
		{"FailedPutLeavesNothing", testFailedPut},
		{"ListWithPrefix", testList},
		{"HostileNames", testHostileNames},
		{"TenantIsolation", testTenantIsolation},
		{"Retention", testRetention},
		{"TemporaryDataExpires", testExpiry},
		{"TenantDeletionRemovesEverything", testTenantDeletion},
	}
	ran := 0
	for _, tc := range tests {
		if len(names) > 0 && !slices.Contains(names, tc.name) {
			continue
		}
		ran++
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			s := newStore(t, clock.Now)
			require.NotNil(t, s, "factory returned a nil store")
			tc.fn(t, s, clock)
		})
	}
	require.Equal(t, max(len(names), ran), ran, "unknown subtest names in %v", names)
}

// Clock is a settable clock for retention tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads t until moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (which may be negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func key(tenant string, kind sectorflow.Kind, name string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: kind, Name: name}
}

// content returns n bytes that differ between seeds and positions.
func content(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*131 + i*7 + i/251)
	}
	return b
}

func put(t *testing.T, s sectorflow.Storage, k sectorflow.Key, data []byte, opts *sectorflow.PutOptions) {
	t.Helper()
	require.NoError(t, s.Put(context.Background(), k, bytes.NewReader(data), opts), "put %s", k)
}

func get(t *testing.T, s sectorflow.Storage, k sectorflow.Key) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), k)
	require.NoError(t, err, "get %s", k)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "read %s", k)
	return b
}

func requireNotFound(t *testing.T, s sectorflow.Storage, k sectorflow.Key) {
	t.Helper()
	rc, err := s.Get(context.Background(), k)
	if err == nil {
		rc.Close()
	}
	require.ErrorIs(t, err, sectorflow.ErrNotFound, "get %s", k)
}

func list(t *testing.T, s sectorflow.Storage, tenant, prefix string) []sectorflow.ObjectInfo {
	t.Helper()
	var out []sectorflow.ObjectInfo
	for info, err := range s.List(context.Background(), tenant, prefix) {
		require.NoError(t, err, "list %s %q", tenant, prefix)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b sectorflow.ObjectInfo) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

func keysOf(infos []sectorflow.ObjectInfo) []string {
	out := []string{}
	for _, i := range infos {
		out = append(out, i.Key.String())
	}
	slices.Sort(out)
	return out
}

func testRoundTrip(t *testing.T, s sectorflow.Storage, _ *Clock) {
	sizes := []int{0, 1, 1000, 64 << 10, 64<<10 + 1, 200_000}
	for i, n := range sizes {
		for _, kind := range sectorflow.Kinds() {
			k := key("acme", kind, fmt.Sprintf("obj-%d.bin", n))
			data := content(i, n)
			put(t, s, k, data, &sectorflow.PutOptions{Permanent: true})
			require.Equal(t, data, get(t, s, k), "content of %s", k)
		}
	}
	infos := list(t, s, "acme", "dataset/")
	require.Len(t, infos, len(sizes))
	for _, info := range infos {
		var n int
		_, err := fmt.Sscanf(info.Key.Name, "obj-%d.bin", &n)
		require.NoError(t, err)
		require.Equal(t, int64(n), info.Size, "listed size of %s", info.Key)
	}
	// Names that differ only in case are distinct objects.
	put(t, s, key("acme", sectorflow.KindFile, "Report.txt"), []byte("upper"), nil)
	put(t, s, key("acme", sectorflow.KindFile, "report.txt"), []byte("lower"), nil)
	require.Equal(t, []byte("upper"), get(t, s, key("acme", sectorflow.KindFile, "Report.txt")))
	require.Equal(t, []byte("lower"), get(t, s, key("acme", sectorflow.KindFile, "report.txt")))
}

func testNotFound(t *testing.T, s sectorflow.Storage, _ *Clock) {
	ctx := context.Background()
	k := key("acme", sectorflow.KindAdapter, "missing")
	requireNotFound(t, s, k)
	require.ErrorIs(t, s.Delete(ctx, k), sectorflow.ErrNotFound)
	put(t, s, k, []byte("x"), nil)
	require.NoError(t, s.Delete(ctx, k))
	requireNotFound(t, s, k)
	require.Empty(t, list(t, s, "acme", ""))
}

func testOverwrite(t *testing.T, s sectorflow.Storage, _ *Clock) {
	k := key("acme", sectorflow.KindModel, "merged")
	put(t, s, k, content(1, 70_000), nil)
	put(t, s, k, []byte("short"), nil)
	require.Equal(t, []byte("short"), get(t, s, k))
	infos := list(t, s, "acme", "model/")
	require.Len(t, infos, 1)
	require.Equal(t, int64(5), infos[0].Size)
}

// version v of an object is the byte v repeated, with a length that depends on v, so a
// reader can tell a whole version from a mix of two.
func version(v int) []byte { return bytes.Repeat([]byte{byte(v)}, 1000+(v%5)*20_000) }

func checkVersion(b []byte) error {
	if len(b) == 0 {
		return errors.New("read an empty object, expected a whole version")
	}
	want := version(int(b[0]))
	if !bytes.Equal(b, want) {
		return fmt.Errorf("read a torn object: %d bytes starting with version %d, expected %d bytes of it", len(b), b[0], len(want))
	}
	return nil
}

func testOverwriteAtomic(t *testing.T, s sectorflow.Storage, _ *Clock) {
	ctx := context.Background()
	k := key("acme", sectorflow.KindCheckpoint, "step-100")
	put(t, s, k, version(0), nil)
	const writes, readers = 15, 3
	done := make(chan struct{})
	errs := make(chan error, readers+1)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				rc, err := s.Get(ctx, k)
				if err != nil {
					errs <- fmt.Errorf("get during overwrites: %w", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- fmt.Errorf("read during overwrites: %w", err)
					return
				}
				if err := checkVersion(b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for v := 1; v <= writes; v++ {
		require.NoError(t, s.Put(ctx, k, bytes.NewReader(version(v)), nil))
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, version(writes), get(t, s, k))
}

func testConcurrentWriters(t *testing.T, s sectorflow.Storage, _ *Clock) {
	ctx := context.Background()
	shared := key("acme", sectorflow.KindAdapter, "shared")
	const writers = 6
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			if err := s.Put(ctx, shared, bytes.NewReader(version(w+1)), nil); err != nil {
				errs[w] = err
				return
			}
			own := key("acme", sectorflow.KindAdapter, fmt.Sprintf("own-%d", w))
			errs[w] = s.Put(ctx, own, bytes.NewReader(version(w+1)), nil)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, checkVersion(get(t, s, shared)), "the last writer's whole object must win")
	for w := range writers {
		require.Equal(t, version(w+1), get(t, s, key("acme", sectorflow.KindAdapter, fmt.Sprintf("own-%d", w))))
	}
	require.Len(t, list(t, s, "acme", "adapter/"), writers+1)
}

// cancellingReader supplies n bytes, then cancels its context and keeps supplying data, as a
// client that disconnects mid-upload would.
type cancellingReader struct {
	n      int
	cancel context.CancelFunc
	read   int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		r.cancel()
	}
	if r.read > 4*r.n {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = 'c'
	}
	r.read += len(p)
	return len(p), nil
}

func testCancelledPut(t *testing.T, s sectorflow.Storage, _ *Clock) {
	existing := key("acme", sectorflow.KindDataset, "existing")
	put(t, s, existing, []byte("committed"), nil)
	for _, k := range []sectorflow.Key{key("acme", sectorflow.KindDataset, "fresh"), existing} {
		ctx, cancel := context.WithCancel(context.Background())
		err := s.Put(ctx, k, &cancellingReader{n: 100_000, cancel: cancel}, nil)
		cancel()
		require.ErrorIs(t, err, context.Canceled, "put %s with a cancelled context", k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Put(ctx, key("acme", sectorflow.KindDataset, "precancelled"), strings.NewReader("x"), nil), context.Canceled)

	requireNotFound(t, s, key("acme", sectorflow.KindDataset, "fresh"))
	requireNotFound(t, s, key("acme", sectorflow.KindDataset, "precancelled"))
	require.Equal(t, []byte("committed"), get(t, s, existing), "a cancelled overwrite must keep the old object")
	require.Equal(t, []string{"acme/dataset/existing"}, keysOf(list(t, s, "acme", "")))
}

type failingReader struct{ n, read int }

var errSourceFailed = errors.New("source failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, errSourceFailed
	}
	n := min(len(p), r.n-r.read)
	clear(p[:n])
	r.read += n
	return n, nil
}

func testFailedPut(t *testing.T, s sectorflow.Storage, _ *Clock) {
	ctx := context.Background()
	existing := key("acme", sectorflow.KindDataset, "existing")
	put(t, s, existing, []byte("committed"), nil)
	for _, k := range []sectorflow.Key{key("acme", sectorflow.KindDataset, "fresh"), existing} {
		for _, n := range []int{0, 10, 150_000} {
			require.Error(t, s.Put(ctx, k, &failingReader{n: n}, nil), "put %s from a source that fails after %d bytes", k, n)
		}
	}
	requireNotFound(t, s, key("acme", sectorflow.KindDataset, "fresh"))
	require.Equal(t, []byte("committed"), get(t, s, existing))
	require.Equal(t, []string{"acme/dataset/existing"}, keysOf(list(t, s, "acme", "")))
}

func testList(t *testing.T, s sectorflow.Storage, _ *Clock) {
	for _, k := range []sectorflow.Key{
		key("acme", sectorflow.KindAdapter, "run-1"),
		key("acme", sectorflow.KindAdapter, "run-10"),
		key("acme", sectorflow.KindAdapter, "run-2"),
		key("acme", sectorflow.KindAdapter, "other"),
		key("acme", sectorflow.KindDataset, "run-1"),
		key("acme", sectorflow.KindLog, "job-1.log"),
		key("acme", sectorflow.KindJob, "job-1"),
	} {
		put(t, s, k, []byte(k.String()), nil)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"acme/adapter/other", "acme/adapter/run-1", "acme/adapter/run-10", "acme/adapter/run-2", "acme/dataset/run-1", "acme/job/job-1", "acme/log/job-1.log"}},
		{"adapter/", []string{"acme/adapter/other", "acme/adapter/run-1", "acme/adapter/run-10", "acme/adapter/run-2"}},
		{"adapter/run-1", []string{"acme/adapter/run-1", "acme/adapter/run-10"}},
		{"adap", []string{"acme/adapter/other", "acme/adapter/run-1", "acme/adapter/run-10", "acme/adapter/run-2"}},
		{"dataset/run", []string{"acme/dataset/run-1"}},
		{"checkpoint/", []string{}},
		{"log/job", []string{"acme/log/job-1.log"}},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			require.Equal(t, tc.want, keysOf(list(t, s, "acme", tc.prefix)))
		})
	}
	// Stopping early is allowed.
	n := 0
	for _, err := range s.List(context.Background(), "acme", "") {
		require.NoError(t, err)
		n++
		break
	}
	require.Equal(t, 1, n)
}

// HostileKeys are keys that every store must reject with sectorflow.ErrInvalidKey: path
// traversal, separators, absolute paths, NUL and control characters, Unicode look-alikes and
// overlong names, in the tenant, the kind or the name.
func HostileKeys() []sectorflow.Key {
	var keys []sectorflow.Key
	for _, name := range []string{
		"", ".", "..", "../etc", "../../acme/dataset/secret", "a/../b", "a/b", "/etc/passwd", `a\b`, `..\..\x`,
		"C:x", "x\x00", "\x00", "x\n", "x\r", "x\t", "x\x7f", " x", "x y", ".hidden", "-flag", "x.", "x..y",
		"ｓｅｃｒｅｔ", "ｘ", "／etc", "．．", "e\u0301", "\u202egnp.exe", "x\u200b", "ﬁle", "secret\uff0ftxt",
		"%2e%2e", "x:y", "x*y", "x?", "CON", "nul.txt", "COM1.log", strings.Repeat("a", sectorflow.MaxNameLen+1),
	} {
		keys = append(keys, key("acme", sectorflow.KindDataset, name))
	}
	for _, tenant := range []string{
		"", ".", "..", "../acme", "acme/..", "Acme", "ACME", "acme\x00", "ａｃｍｅ", "acme ", "-acme", "_acme",
		"ac/me", `ac\me`, "/acme", "acme\u200b", strings.Repeat("a", sectorflow.MaxTenantLen+1),
	} {
		keys = append(keys, key(tenant, sectorflow.KindDataset, "x"))
	}
	for _, kind := range []sectorflow.Kind{"", "..", "Dataset", "dataset/..", "secrets", "../log"} {
		keys = append(keys, key("acme", kind, "x"))
	}
	return keys
}

func testHostileNames(t *testing.T, s sectorflow.Storage, _ *Clock) {
	ctx := context.Background()
	put(t, s, key("acme", sectorflow.KindDataset, "secret"), []byte("s3cr3t"), nil)
	for _, k := range HostileKeys() {
		t.Run(fmt.Sprintf("%q/%q/%q", k.Tenant, k.Kind, k.Name), func(t *testing.T) {
			require.ErrorIs(t, s.Put(ctx, k, strings.NewReader("evil"), nil), sectorflow.ErrInvalidKey)
			rc, err := s.Get(ctx, k)
			if err == nil {
				rc.Close()
			}
			require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
			require.ErrorIs(t, s.Delete(ctx, k), sectorflow.ErrInvalidKey)
		})
	}
	for _, tc := range []struct{ tenant, prefix string }{
		{"", ""}, {"..", ""}, {"acme/..", ""}, {"ＡＣＭＥ", ""}, {"acme", "../"}, {"acme", "dataset/../"},
		{"acme", "/"}, {"acme", "nokind/"}, {"acme", "dataset/\x00"}, {"acme", "dataset/a/b"}, {"acme", "dataset/ｓ"},
	} {
		t.Run(fmt.Sprintf("list %q %q", tc.tenant, tc.prefix), func(t *testing.T) {
			n := 0
			for _, err := range s.List(ctx, tc.tenant, tc.prefix) {
				n++
				require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
			}
			require.Equal(t, 1, n, "expected exactly one error and nothing else")
		})
	}
	require.Equal(t, []byte("s3cr3t"), get(t, s, key("acme", sectorflow.KindDataset, "secret")))
	require.Equal(t, []string{"acme/dataset/secret"}, keysOf(list(t, s, "acme", "")))
}

func testTenantIsolation(t *testing.T, s sectorflow.Storage, _ *Clock) {
	ctx := context.Background()
	// Tenant ids that are prefixes of each other catch string-prefix bugs in listings.
	victims := []string{"acme", "acme-corp", "acme_1"}
	for _, v := range victims {
		for _, kind := range sectorflow.Kinds() {
			put(t, s, key(v, kind, "secret"), []byte("secret of "+v), nil)
		}
	}
	for _, attacker := range []string{"acm", "acme-", "acme1", "evil", "a"} {
		require.Empty(t, list(t, s, attacker, ""), "tenant %s lists nothing of others", attacker)
		for _, kind := range sectorflow.Kinds() {
			k := key(attacker, kind, "secret")
			requireNotFound(t, s, k)
			require.ErrorIs(t, s.Delete(ctx, k), sectorflow.ErrNotFound, "%s deletes nothing of others", attacker)
		}
	}
	// An attacker writing the same names writes its own objects.
	for _, kind := range sectorflow.Kinds() {
		put(t, s, key("evil", kind, "secret"), []byte("overwritten"), nil)
	}
	if d, ok := s.(sectorflow.TenantDeleter); ok {
		_, err := d.DeleteTenant(ctx, "evil")
		require.NoError(t, err)
		_, err = d.DeleteTenant(ctx, "acm")
		require.NoError(t, err)
	}
	for _, v := range victims {
		for _, kind := range sectorflow.Kinds() {
			require.Equal(t, []byte("secret of "+v), get(t, s, key(v, kind, "secret")))
		}
		require.Len(t, list(t, s, v, ""), len(sectorflow.Kinds()), "tenant %s lists exactly its own objects", v)
	}
}

func testRetention(t *testing.T, s sectorflow.Storage, clock *Clock) {
	ctx := context.Background()
	start := clock.Now()
	put(t, s, key("acme", sectorflow.KindDataset, "temp"), []byte("t"), &sectorflow.PutOptions{TTL: time.Hour})
	put(t, s, key("acme", sectorflow.KindDataset, "perm"), []byte("p"), &sectorflow.PutOptions{Permanent: true})
	put(t, s, key("acme", sectorflow.KindDataset, "default"), []byte("d"), nil)
	put(t, s, key("acme", sectorflow.KindLog, "job-1.log"), []byte("l"), nil)
	put(t, s, key("acme", sectorflow.KindLog, "kept.log"), []byte("k"), &sectorflow.PutOptions{Permanent: true})

	for _, bad := range []*sectorflow.PutOptions{{TTL: -time.Second}, {TTL: time.Hour, Permanent: true}} {
		k := key("acme", sectorflow.KindDataset, "bad-retention")
		require.Error(t, s.Put(ctx, k, strings.NewReader("x"), bad), "retention %+v", *bad)
		requireNotFound(t, s, k)
	}

	infos := map[string]sectorflow.ObjectInfo{}
	for _, info := range list(t, s, "acme", "") {
		infos[info.Key.Name] = info
	}
	require.Len(t, infos, 5)
	require.True(t, infos["temp"].Expires.Equal(start.Add(time.Hour)), "temp expires an hour after the put, found %s", infos["temp"].Expires)
	require.True(t, infos["temp"].Temporary())
	require.False(t, infos["perm"].Temporary())
	require.False(t, infos["default"].Temporary(), "datasets are permanent unless asked otherwise")
	require.True(t, infos["job-1.log"].Temporary(), "job logs are temporary by default")
	require.False(t, infos["kept.log"].Temporary())
	require.True(t, infos["temp"].Created.Equal(start), "created at the put, found %s", infos["temp"].Created)

	// Rewriting a temporary object with a new retention replaces the old one.
	put(t, s, key("acme", sectorflow.KindDataset, "temp"), []byte("t2"), &sectorflow.PutOptions{Permanent: true})
	clock.Advance(24 * time.Hour)
	require.Equal(t, []byte("t2"), get(t, s, key("acme", sectorflow.KindDataset, "temp")))
}

func testExpiry(t *testing.T, s sectorflow.Storage, clock *Clock) {
	ctx := context.Background()
	temp := key("acme", sectorflow.KindDataset, "temp")
	log := key("acme", sectorflow.KindLog, "job.log")
	perm := key("acme", sectorflow.KindAdapter, "result")
	other := key("beta", sectorflow.KindDataset, "later")
	put(t, s, temp, []byte("temporary"), &sectorflow.PutOptions{TTL: time.Hour})
	put(t, s, log, []byte("log line"), nil)
	put(t, s, perm, []byte("adapter"), nil)
	put(t, s, other, []byte("later"), &sectorflow.PutOptions{TTL: 2 * time.Hour})

	clock.Advance(time.Hour - time.Nanosecond)
	require.Equal(t, []byte("temporary"), get(t, s, temp), "readable until its expiry")

	clock.Advance(time.Nanosecond)
	requireNotFound(t, s, temp)
	require.Equal(t, []string{"acme/adapter/result", "acme/log/job.log"}, keysOf(list(t, s, "acme", "")), "expired objects are not listed")
	require.Equal(t, []byte("later"), get(t, s, other))

	sweeper, ok := s.(sectorflow.Sweeper)
	require.True(t, ok, "%T must implement sectorflow.Sweeper", s)
	report, err := sweeper.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"acme/dataset/temp"}, keysOf(report.Removed))
	require.Equal(t, int64(len("temporary")), report.Bytes)

	// Far in the future only the permanent object is left, and a sweep removes the rest.
	clock.Advance(365 * 24 * time.Hour)
	requireNotFound(t, s, log)
	report, err = sweeper.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"acme/log/job.log", "beta/dataset/later"}, keysOf(report.Removed))

	// The sweep removed the data, not just hid it: back before the expiry it is still gone.
	clock.Advance(-366 * 24 * time.Hour)
	requireNotFound(t, s, temp)
	requireNotFound(t, s, log)
	requireNotFound(t, s, other)
	require.Equal(t, []byte("adapter"), get(t, s, perm))
}

func testTenantDeletion(t *testing.T, s sectorflow.Storage, clock *Clock) {
	ctx := context.Background()
	deleter, ok := s.(sectorflow.TenantDeleter)
	require.True(t, ok, "%T must implement sectorflow.TenantDeleter", s)

	var want []string
	var wantBytes int64
	for i, kind := range sectorflow.Kinds() {
		for j := range 2 {
			k := key("gone", kind, fmt.Sprintf("obj-%d", j))
			data := content(i, 100*(i+1)+j)
			put(t, s, k, data, nil)
			want = append(want, k.String())
			wantBytes += int64(len(data))
		}
	}
	expired := key("gone", sectorflow.KindDataset, "expired")
	put(t, s, expired, []byte("old"), &sectorflow.PutOptions{TTL: time.Minute})
	want = append(want, expired.String())
	wantBytes += 3
	slices.Sort(want)
	put(t, s, key("gone-too", sectorflow.KindDataset, "keep"), []byte("neighbour"), nil)
	put(t, s, key("stays", sectorflow.KindAdapter, "keep"), []byte("neighbour"), nil)
	clock.Advance(time.Hour)

	report, err := deleter.DeleteTenant(ctx, "gone")
	require.NoError(t, err)
	require.Equal(t, want, keysOf(report.Removed), "the report names everything removed, expired objects included")
	require.Equal(t, wantBytes, report.Bytes)

	require.Empty(t, list(t, s, "gone", ""))
	clock.Advance(-2 * time.Hour)
	require.Empty(t, list(t, s, "gone", ""), "nothing left even before expiry times")
	for _, k := range want {
		parsed, err := sectorflow.ParseKey(k)
		require.NoError(t, err)
		requireNotFound(t, s, parsed)
	}
	require.Equal(t, []byte("neighbour"), get(t, s, key("gone-too", sectorflow.KindDataset, "keep")))
	require.Equal(t, []byte("neighbour"), get(t, s, key("stays", sectorflow.KindAdapter, "keep")))

	report, err = deleter.DeleteTenant(ctx, "gone")
	require.NoError(t, err)
	require.Empty(t, report.Removed, "deleting a deleted tenant removes nothing")

	_, err = deleter.DeleteTenant(ctx, "../stays")
	require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
	_, err = deleter.DeleteTenant(ctx, "")
	require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
	require.Equal(t, []byte("neighbour"), get(t, s, key("stays", sectorflow.KindAdapter, "keep")))
}
