package sectorflow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"testing"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/stretchr/testify/require"
)

// The encrypted format, as documented in encrypt.go: a 128-byte header, then chunks of 64 KiB of
// content plus a 16-byte GCM tag, the last chunk shorter (possibly empty) and flagged final.
const (
	encHeader = 128
	encChunk  = 64<<10 + 16
)

func readAll(t *testing.T, s sectorflow.Storage, k sectorflow.Key) ([]byte, error) {
	t.Helper()
	rc, err := s.Get(context.Background(), k)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestPromiseEncryptionAtRest: with the encrypting driver, stored bytes do not contain the
// content, and a wrong key, tampering, truncation, reordering or moving an object between keys
// is detected with an error matching ErrCorrupt (or naming the missing key).
func TestPromiseEncryptionAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fd, err := sectorflow.OpenFileDriver(dir)
	require.NoError(t, err)
	t.Cleanup(func() { fd.Close() })
	s := sectorflow.NewStore(sectorflow.NewEncryptedDriver(fd, testKeys(t)), nil)
	plain := sectorflow.NewStore(fd, nil)

	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "train.jsonl"}
	secretLine := []byte(`{"prompt":"customer secret: hunter2-very-private","completion":"ok"}` + "\n")
	content := bytes.Repeat(secretLine, 3000) // about 200 KB: four chunks
	require.NoError(t, s.Put(ctx, k, bytes.NewReader(content), nil))
	onDisk, err := os.ReadFile(filepath.Join(dir, "acme", "dataset", "train.jsonl"))
	require.NoError(t, err)
	require.NotContains(t, string(onDisk), "hunter2", "content is encrypted at rest")
	// 20-byte store header + content, sealed in 64 KiB chunks after the 128-byte header.
	n := 20 + len(content)
	require.Equal(t, encHeader+n+16*(n/(64<<10)+1), len(onDisk))
	got, err := readAll(t, s, k)
	require.NoError(t, err)
	require.Equal(t, content, got)

	path := filepath.Join(dir, "acme", "dataset", "train.jsonl")
	restore := func() { require.NoError(t, os.WriteFile(path, onDisk, 0o600)) }
	tamper := func(mutate func([]byte) []byte) {
		b := mutate(bytes.Clone(onDisk))
		require.NoError(t, os.WriteFile(path, b, 0o600))
	}
	flip := func(i int) func([]byte) []byte { return func(b []byte) []byte { b[i] ^= 1; return b } }
	chunk := func(i int) (int, int) { return encHeader + i*encChunk, encHeader + (i+1)*encChunk }

	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantMsg string
	}{
		{"flipped key id", flip(5), "tenant key"},
		{"flipped wrapped data key", flip(100), "unwrap data key"},
		{"flipped first chunk", flip(encHeader + 10), "chunk 0 failed authentication"},
		{"flipped third chunk", flip(encHeader + 2*encChunk + 5), "chunk 2 failed authentication"},
		{"flipped last byte", flip(len(onDisk) - 1), "failed authentication"},
		{"truncated header", func(b []byte) []byte { return b[:60] }, "expected a 128-byte header"},
		{"truncated mid chunk", func(b []byte) []byte { return b[:encHeader+encChunk+100] }, "failed authentication"},
		{"truncated at chunk boundary", func(b []byte) []byte { return b[:encHeader+2*encChunk] }, "truncated"},
		{"truncated final chunk", func(b []byte) []byte { return b[:len(b)-1] }, "failed authentication"},
		{"extended", func(b []byte) []byte { return append(b, 0) }, "failed authentication"},
		{"chunks swapped", func(b []byte) []byte {
			s1, e1 := chunk(1)
			s2, e2 := chunk(2)
			c1 := bytes.Clone(b[s1:e1])
			copy(b[s1:e1], b[s2:e2])
			copy(b[s2:e2], c1)
			return b
		}, "chunk 1 failed authentication"},
		{"chunk dropped", func(b []byte) []byte {
			s1, e1 := chunk(1)
			return append(b[:s1:s1], b[e1:]...)
		}, "chunk 1 failed authentication"},
		{"not encrypted", func(b []byte) []byte { return bytes.Repeat([]byte("x"), 500) }, "expected magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tamper(tc.mutate)
			defer restore()
			_, err := readAll(t, s, k)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.wantMsg)
			if tc.name != "flipped key id" {
				require.ErrorIs(t, err, sectorflow.ErrCorrupt)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		// Another master key has another key id: the error says so.
		other, err := sectorflow.NewDerivedKeys(bytes.Repeat([]byte{8}, 32))
		require.NoError(t, err)
		_, err = readAll(t, sectorflow.NewStore(sectorflow.NewEncryptedDriver(fd, other), nil), k)
		require.ErrorContains(t, err, "written under another master key")
		// A provider that returns a wrong secret under the right id fails authentication.
		_, err = readAll(t, sectorflow.NewStore(sectorflow.NewEncryptedDriver(fd, lyingKeys{testKeys(t)}), nil), k)
		require.ErrorIs(t, err, sectorflow.ErrCorrupt)
		require.ErrorContains(t, err, "wrong key")
	})

	t.Run("moved to another tenant or name", func(t *testing.T) {
		for _, dst := range []sectorflow.Key{
			{Tenant: "evil", Kind: sectorflow.KindDataset, Name: "train.jsonl"},
			{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "copy.jsonl"},
			{Tenant: "acme", Kind: sectorflow.KindFile, Name: "train.jsonl"},
		} {
			rc, err := fd.OpenObject(ctx, k)
			require.NoError(t, err)
			require.NoError(t, fd.WriteObject(ctx, dst, rc))
			rc.Close()
			_, err = readAll(t, s, dst)
			require.ErrorIs(t, err, sectorflow.ErrCorrupt, "object copied to %s", dst)
		}
	})

	t.Run("plaintext store cannot read it", func(t *testing.T) {
		_, err := readAll(t, plain, k)
		require.ErrorIs(t, err, sectorflow.ErrCorrupt)
	})

	t.Run("sizes are content sizes", func(t *testing.T) {
		for info, err := range s.List(ctx, "acme", "dataset/train") {
			require.NoError(t, err)
			require.Equal(t, int64(len(content)), info.Size)
		}
	})
}

type lyingKeys struct{ sectorflow.KeyProvider }

func (l lyingKeys) Key(ctx context.Context, tenant, id string) (sectorflow.TenantKey, error) {
	k, err := l.KeyProvider.Key(ctx, tenant, id)
	k.Secret = bytes.Repeat([]byte{1}, 32)
	return k, err
}

// streamingDriver consumes what it is given as it arrives and records how far the source ran
// ahead of the encrypted output, to prove that encryption streams.
type streamingDriver struct {
	sectorflow.Driver
	src      *countingReader
	maxAhead int64
	stored   int64
}

type countingReader struct {
	r    io.Reader
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

func (d *streamingDriver) WriteObject(ctx context.Context, key sectorflow.Key, r io.Reader) error {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		d.stored += int64(n)
		d.maxAhead = max(d.maxAhead, d.src.read-d.stored)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (d *streamingDriver) ListObjects(ctx context.Context, tenant, prefix string) iter.Seq2[sectorflow.DriverObject, error] {
	return func(func(sectorflow.DriverObject, error) bool) {}
}

func TestEncryptionStreamsInChunks(t *testing.T) {
	const size = 16 << 20
	src := &countingReader{r: io.LimitReader(zeroReader{}, size)}
	sink := &streamingDriver{src: src}
	d := sectorflow.NewEncryptedDriver(sink, testKeys(t))
	s := sectorflow.NewStore(d, nil)
	require.NoError(t, s.Put(context.Background(), sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindModel, Name: "big"}, src, nil))
	require.Equal(t, int64(size), src.read)
	require.LessOrEqual(t, sink.maxAhead, int64(64<<10), "the source runs at most one chunk ahead of the stored bytes")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestDerivedKeys(t *testing.T) {
	ctx := context.Background()
	_, err := sectorflow.NewDerivedKeys(make([]byte, 31))
	require.ErrorContains(t, err, "master key 0: expected at least 32 bytes, found 31")
	_, err = sectorflow.NewDerivedKeys(make([]byte, 32), make([]byte, 8))
	require.ErrorContains(t, err, "master key 1: expected at least 32 bytes, found 8")
	keys := testKeys(t)
	a, err := keys.CurrentKey(ctx, "acme")
	require.NoError(t, err)
	b, err := keys.CurrentKey(ctx, "beta")
	require.NoError(t, err)
	require.Len(t, a.Secret, 32)
	require.NotEqual(t, a.Secret, b.Secret, "each tenant has its own key")
	require.Equal(t, a.ID, b.ID)
	again, err := keys.Key(ctx, "acme", a.ID)
	require.NoError(t, err)
	require.Equal(t, a.Secret, again.Secret)
	require.NotContains(t, a.String(), string(a.Secret))
	_, err = keys.CurrentKey(ctx, "../x")
	require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
}

// FuzzDecrypt feeds arbitrary stored bytes to the decrypting driver: it must return an error or
// content, never panic, and never return content for bytes it did not encrypt.
func FuzzDecrypt(f *testing.F) {
	keys, err := sectorflow.NewDerivedKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	mem := sectorflow.NewMemoryDriver()
	enc := sectorflow.NewEncryptedDriver(mem, keys)
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "d"}
	for _, n := range []int{0, 10, 70_000} {
		require.NoError(f, enc.WriteObject(context.Background(), k, bytes.NewReader(make([]byte, n))))
		rc, err := mem.OpenObject(context.Background(), k)
		require.NoError(f, err)
		b, err := io.ReadAll(rc)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, stored []byte) {
		ctx := context.Background()
		require.NoError(t, mem.WriteObject(ctx, k, bytes.NewReader(stored)))
		rc, err := enc.OpenObject(ctx, k)
		if err != nil {
			return
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err == nil {
			// Only an untouched seed decrypts; all seeds are zeros.
			require.Equal(t, make([]byte, len(got)), got)
		}
	})
}

// TestDerivedKeysRotation: after the master key is rotated, new objects use the new key and old
// objects stay readable as long as the old master is listed.
func TestDerivedKeysRotation(t *testing.T) {
	ctx := context.Background()
	oldMaster, newMaster := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	mem := sectorflow.NewMemoryDriver()
	store := func(current []byte, previous ...[]byte) *sectorflow.Store {
		keys, err := sectorflow.NewDerivedKeys(current, previous...)
		require.NoError(t, err)
		return sectorflow.NewStore(sectorflow.NewEncryptedDriver(mem, keys), nil)
	}
	oldKey := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "old"}
	newKey := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "new"}
	require.NoError(t, store(oldMaster).Put(ctx, oldKey, bytes.NewReader([]byte("before")), nil))
	rotated := store(newMaster, oldMaster)
	require.NoError(t, rotated.Put(ctx, newKey, bytes.NewReader([]byte("after")), nil))

	got, err := readAll(t, rotated, oldKey)
	require.NoError(t, err)
	require.Equal(t, "before", string(got))
	got, err = readAll(t, rotated, newKey)
	require.NoError(t, err)
	require.Equal(t, "after", string(got))

	_, err = readAll(t, store(newMaster), oldKey)
	require.ErrorContains(t, err, "written under another master key", "once the old master is dropped, its objects are unreadable")
	_, err = readAll(t, store(oldMaster), newKey)
	require.ErrorContains(t, err, "written under another master key")
}
