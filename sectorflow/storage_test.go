package sectorflow_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/sectorflow/storagetest"
	"github.com/stretchr/testify/require"
)

func newFileStore(t *testing.T, dir string, now func() time.Time) *sectorflow.Store {
	t.Helper()
	s, err := sectorflow.OpenFileStore(dir, &sectorflow.StoreOptions{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func testKeys(t *testing.T) sectorflow.KeyProvider {
	t.Helper()
	keys, err := sectorflow.NewDerivedKeys(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	return keys
}

// stores are every Storage of this package, as the promise tests run them.
func stores() map[string]storagetest.Factory {
	return map[string]storagetest.Factory{
		"memory": func(t *testing.T, now func() time.Time) sectorflow.Storage {
			return sectorflow.NewMemoryStore(&sectorflow.StoreOptions{Now: now})
		},
		"file": func(t *testing.T, now func() time.Time) sectorflow.Storage {
			return newFileStore(t, t.TempDir(), now)
		},
		"encrypted-file": func(t *testing.T, now func() time.Time) sectorflow.Storage {
			fd, err := sectorflow.OpenFileDriver(t.TempDir())
			require.NoError(t, err)
			s := sectorflow.NewStore(sectorflow.NewEncryptedDriver(fd, testKeys(t)), &sectorflow.StoreOptions{Now: now})
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
		"encrypted-memory": func(t *testing.T, now func() time.Time) sectorflow.Storage {
			return sectorflow.NewStore(sectorflow.NewEncryptedDriver(sectorflow.NewMemoryDriver(), testKeys(t)), &sectorflow.StoreOptions{Now: now})
		},
	}
}

// TestStorageConformance runs the whole conformance suite on every store of this package.
func TestStorageConformance(t *testing.T) {
	for name, f := range stores() {
		t.Run(name, func(t *testing.T) { storagetest.Run(t, f) })
	}
}

// TestPromiseTenantIsolation: no key, name or path lets one tenant read, list, overwrite or
// delete another's objects, on every store (the suite's TenantIsolation and HostileNames).
func TestPromiseTenantIsolation(t *testing.T) {
	for name, f := range stores() {
		t.Run(name, func(t *testing.T) { storagetest.RunOnly(t, f, "TenantIsolation", "HostileNames") })
	}
}

// TestPromiseTemporaryDataExpires: temporary objects are unreadable at their expiry and removed
// by a sweep; retention is chosen per object.
func TestPromiseTemporaryDataExpires(t *testing.T) {
	for name, f := range stores() {
		t.Run(name, func(t *testing.T) { storagetest.RunOnly(t, f, "Retention", "TemporaryDataExpires") })
	}
}

// TestPromiseTenantDeletionRemovesEverything: deleting a tenant removes all it owns and reports
// it.
func TestPromiseTenantDeletionRemovesEverything(t *testing.T) {
	for name, f := range stores() {
		t.Run(name, func(t *testing.T) { storagetest.RunOnly(t, f, "TenantDeletionRemovesEverything") })
	}
}

// TestPromiseJobLogsAreTemporaryByDefault: a job log stored without a retention expires after
// DefaultLogTTL.
func TestPromiseJobLogsAreTemporaryByDefault(t *testing.T) {
	clock := storagetest.NewClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	s := sectorflow.NewMemoryStore(&sectorflow.StoreOptions{Now: clock.Now})
	ctx := context.Background()
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindLog, Name: "job-7.log"}
	require.NoError(t, s.Put(ctx, k, strings.NewReader("step 1 loss 2.3\n"), nil))
	var infos []sectorflow.ObjectInfo
	for info, err := range s.List(ctx, "acme", "log/") {
		require.NoError(t, err)
		infos = append(infos, info)
	}
	require.Len(t, infos, 1)
	require.Equal(t, clock.Now().Add(30*24*time.Hour), infos[0].Expires)
	clock.Advance(30 * 24 * time.Hour)
	_, err := s.Get(ctx, k)
	require.ErrorIs(t, err, sectorflow.ErrNotFound)
}

// TestPromiseResultsBelongToTheirOwner: adapters, merged models and checkpoints are stored under
// their tenant and given back only to it.
func TestPromiseResultsBelongToTheirOwner(t *testing.T) {
	ctx := context.Background()
	s := sectorflow.NewMemoryStore(nil)
	for _, kind := range []sectorflow.Kind{sectorflow.KindAdapter, sectorflow.KindModel, sectorflow.KindCheckpoint} {
		t.Run(string(kind), func(t *testing.T) {
			owner := sectorflow.Key{Tenant: "owner", Kind: kind, Name: "run-1"}
			require.NoError(t, s.Put(ctx, owner, strings.NewReader("weights"), nil))
			rc, err := s.Get(ctx, owner)
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			require.Equal(t, "weights", string(b))
			_, err = s.Get(ctx, sectorflow.Key{Tenant: "other", Kind: kind, Name: "run-1"})
			require.ErrorIs(t, err, sectorflow.ErrNotFound)
		})
	}
}

func TestFileStoreLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir, nil)
	ctx := context.Background()
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "d"}
	require.NoError(t, s.Put(ctx, k, strings.NewReader("ok"), nil))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, s.Put(cctx, k, strings.NewReader("cancelled"), nil))
	require.Error(t, s.Put(ctx, k, io.MultiReader(strings.NewReader("partial"), errReader{}), nil))

	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}))
	require.Equal(t, []string{"acme/dataset/d"}, files)

	_, err := s.DeleteTenant(ctx, "acme")
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "tenant deletion removes the tenant's directories too")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestFileStoreSymlinkCannotEscape: even a symbolic link planted inside the store's directory
// (by another process) does not lead outside it.
func TestFileStoreSymlinkCannotEscape(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "x"), []byte("outside secret"), 0o600))
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "acme"), 0o700))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "acme", "dataset")))
	s := newFileStore(t, dir, nil)
	_, err := s.Get(context.Background(), sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "x"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "outside secret")
	err = s.Put(context.Background(), sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "y"}, strings.NewReader("in"), nil)
	require.Error(t, err)
	_, statErr := os.Stat(filepath.Join(outside, "y"))
	require.ErrorIs(t, statErr, fs.ErrNotExist, "nothing was written outside the store")
}

func TestFileStoreUpperCaseNamesAreEscaped(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir, nil)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindFile, Name: "ReadMe.md"}, strings.NewReader("x"), nil))
	_, err := os.Stat(filepath.Join(dir, "acme", "file", "+read+me.md"))
	require.NoError(t, err, "upper-case letters are escaped on disk so case-insensitive file systems keep names apart")
}

func TestStoreRejectsCorruptHeader(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir, nil)
	ctx := context.Background()
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "d"}
	require.NoError(t, s.Put(ctx, k, strings.NewReader("data"), nil))
	for _, content := range []string{"", "SFO", "XXXXXXXXXXXXXXXXXXXXXXXX"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "acme", "dataset", "d"), []byte(content), 0o600))
		_, err := s.Get(ctx, k)
		require.ErrorIs(t, err, sectorflow.ErrCorrupt, "content %q", content)
	}
	// A corrupt object does not keep other expired data alive, and is reported.
	expired := sectorflow.Key{Tenant: "beta", Kind: sectorflow.KindLog, Name: "old.log"}
	require.NoError(t, s.Put(ctx, expired, strings.NewReader("log"), &sectorflow.PutOptions{TTL: time.Nanosecond}))
	report, err := s.Sweep(ctx)
	require.ErrorIs(t, err, sectorflow.ErrCorrupt)
	require.ErrorContains(t, err, "kept 1 objects whose retention cannot be read: acme/dataset/d")
	require.Len(t, report.Removed, 1)
	require.Equal(t, expired, report.Removed[0].Key)
	// A corrupt object is still removed with its tenant.
	report, err = s.DeleteTenant(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, report.Removed, 1)
}

// racingDriver starts a Put of the same key when the sweep is about to remove an expired object
// (after its last look at the header), and gives the Put time to commit first.
type racingDriver struct {
	sectorflow.Driver
	race func()
}

func (d *racingDriver) RemoveObject(ctx context.Context, key sectorflow.Key) error {
	if d.race != nil {
		d.race()
		d.race = nil
	}
	return d.Driver.RemoveObject(ctx, key)
}

// TestSweepKeepsAConcurrentRewrite: a Put that rewrites an expired object while the sweep is
// removing it is not lost.
func TestSweepKeepsAConcurrentRewrite(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := &racingDriver{Driver: sectorflow.NewMemoryDriver()}
	s := sectorflow.NewStore(d, &sectorflow.StoreOptions{Now: clock.Now})
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "d"}
	require.NoError(t, s.Put(ctx, k, strings.NewReader("old"), &sectorflow.PutOptions{TTL: time.Minute}))
	clock.Advance(time.Hour)

	putDone := make(chan error, 1)
	d.race = func() {
		go func() { putDone <- s.Put(ctx, k, strings.NewReader("new"), &sectorflow.PutOptions{Permanent: true}) }()
		select {
		case err := <-putDone:
			putDone <- err
		case <-time.After(200 * time.Millisecond):
		}
	}
	_, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.NoError(t, <-putDone)
	rc, err := s.Get(ctx, k)
	require.NoError(t, err, "the rewrite survives the sweep")
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	rc.Close()
	require.Equal(t, "new", string(b))
}

// TestFileDriverValidatesKeys: the file driver is safe on its own, without a Store in front.
func TestFileDriverValidatesKeys(t *testing.T) {
	ctx := context.Background()
	fd, err := sectorflow.OpenFileDriver(t.TempDir())
	require.NoError(t, err)
	defer fd.Close()
	for _, k := range storagetest.HostileKeys() {
		require.ErrorIs(t, fd.WriteObject(ctx, k, strings.NewReader("x")), sectorflow.ErrInvalidKey, "%q", k.String())
		_, err := fd.OpenObject(ctx, k)
		require.ErrorIs(t, err, sectorflow.ErrInvalidKey, "%q", k.String())
		require.ErrorIs(t, fd.RemoveObject(ctx, k), sectorflow.ErrInvalidKey, "%q", k.String())
	}
	for _, args := range [][2]string{{"../x", ""}, {"acme", "../"}, {"", "dataset/"}} {
		for _, err := range fd.ListObjects(ctx, args[0], args[1]) {
			require.ErrorIs(t, err, sectorflow.ErrInvalidKey, "list %q %q", args[0], args[1])
		}
	}
}

// FuzzStoredObject: whatever bytes a backend holds, the Store returns an error or the bytes
// after a well-formed header, and never panics, in Get, List, Sweep and DeleteTenant.
func FuzzStoredObject(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("SFO\x01"))
	f.Add(append([]byte("SFO\x01"), make([]byte, 16)...))
	f.Add(append([]byte("SFO\x01\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\x00\x00\x00\x00\x00\x00"), "data"...))
	f.Fuzz(func(t *testing.T, stored []byte) {
		ctx := context.Background()
		mem := sectorflow.NewMemoryDriver()
		s := sectorflow.NewStore(mem, nil)
		k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "d"}
		require.NoError(t, mem.WriteObject(ctx, k, bytes.NewReader(stored)))
		if got, err := readAll(t, s, k); err == nil {
			require.True(t, bytes.HasPrefix(stored, []byte("SFO\x01")), "content returned for a bad header")
			require.Equal(t, stored[20:], got)
		}
		for info, err := range s.List(ctx, "acme", "") {
			if err == nil {
				require.Equal(t, int64(len(stored)-20), info.Size)
			}
		}
		report, err := s.DeleteTenant(ctx, "acme")
		require.NoError(t, err, "a tenant is deletable whatever its objects hold")
		require.Len(t, report.Removed, 1)
		require.NoError(t, mem.WriteObject(ctx, k, bytes.NewReader(stored)))
		if report, err := s.Sweep(ctx); err == nil {
			// A corrupt header is reported with an error; a valid one is swept or kept.
			require.LessOrEqual(t, len(report.Removed), 1)
		}
	})
}

func TestPutRejectsNilReader(t *testing.T) {
	s := sectorflow.NewMemoryStore(nil)
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindFile, Name: "f"}
	require.ErrorContains(t, s.Put(context.Background(), k, nil, nil), "expected a reader with the content, found nil")
	_, err := s.Get(context.Background(), k)
	require.ErrorIs(t, err, sectorflow.ErrNotFound)
}
