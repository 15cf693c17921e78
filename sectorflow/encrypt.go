package sectorflow

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
)

// An encrypted object is laid out as
//
//	header (128 bytes):
//	  magic "SFE\x01" | key id length (1 byte) | key id, zero-padded (63 bytes)
//	  | wrap nonce (12 bytes) | data key sealed with the tenant key (32 + 16 bytes)
//	chunks: each chunk of up to encChunkSize bytes of content, sealed with the data key
//
// Each object gets a fresh random data key, so chunk nonces can be a counter: the chunk index
// (8 bytes, big-endian), three zero bytes and a final-chunk flag. Every chunk but the last holds
// exactly encChunkSize bytes and the last always has the flag set (it may be empty), so
// reordering, dropping, truncating or extending the chunk sequence fails authentication. The
// header and the object's key are the additional data of every seal, so an object copied under
// another name or another tenant does not decrypt.
const (
	encChunkSize  = 64 << 10
	encTagSize    = 16
	encKeyIDMax   = 63
	encHeaderSize = 4 + 1 + encKeyIDMax + 12 + 32 + encTagSize
	encDataKeyLen = 32
)

var encMagic = [4]byte{'S', 'F', 'E', 1}

// TenantKey is a key-encryption key: 32 bytes for AES-256 and an id, stored with each object,
// that finds the key again after rotation.
type TenantKey struct {
	ID     string // 1 to 63 bytes
	Secret []byte // 32 bytes
}

// LogValue keeps the secret out of logs.
func (k TenantKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// String names the key without its secret, so printing a TenantKey leaks nothing.
func (k TenantKey) String() string { return "TenantKey{" + k.ID + "}" }

// KeyProvider hands out tenant keys for encryption at rest: typically a KMS, or NewDerivedKeys.
type KeyProvider interface {
	// CurrentKey returns the key that new objects of tenant are encrypted with.
	CurrentKey(ctx context.Context, tenant string) (TenantKey, error)
	// Key returns the key of tenant whose id is id, to decrypt an object written with it.
	Key(ctx context.Context, tenant, id string) (TenantKey, error)
}

// derivedKeys derives one key per tenant from a master key with HKDF-SHA256.
type derivedKeys struct {
	masters []derivedMaster // the current one first
}

type derivedMaster struct {
	id     string
	secret []byte
}

// NewDerivedKeys returns a KeyProvider that derives each tenant's key from a master key (at least
// 32 random bytes) with HKDF-SHA256, so one secret serves every tenant and no tenant's key opens
// another's objects. New objects use current; objects written under a previous master stay
// readable, which is how the master key is rotated. A key id is a fingerprint of its master, so
// an object written under an unknown master is reported as such rather than as corrupt.
func NewDerivedKeys(current []byte, previous ...[]byte) (KeyProvider, error) {
	d := &derivedKeys{}
	for i, m := range append([][]byte{current}, previous...) {
		if len(m) < 32 {
			return nil, fmt.Errorf("derived keys: master key %d: expected at least 32 bytes, found %d", i, len(m))
		}
		fp, err := hkdf.Key(sha256.New, m, nil, "sectorflow key fingerprint v1", 6)
		if err != nil {
			return nil, fmt.Errorf("derived keys: %w", err)
		}
		d.masters = append(d.masters, derivedMaster{id: fmt.Sprintf("hkdf-%x", fp), secret: bytes.Clone(m)})
	}
	return d, nil
}

func (d *derivedKeys) CurrentKey(ctx context.Context, tenant string) (TenantKey, error) {
	return d.derive(d.masters[0], tenant)
}

func (d *derivedKeys) Key(ctx context.Context, tenant, id string) (TenantKey, error) {
	ids := make([]string, len(d.masters))
	for i, m := range d.masters {
		if m.id == id {
			return d.derive(m, tenant)
		}
		ids[i] = m.id
	}
	return TenantKey{}, fmt.Errorf("derived keys: expected a key id in %q, found %q (written under another master key)", ids, id)
}

func (d *derivedKeys) derive(m derivedMaster, tenant string) (TenantKey, error) {
	if err := ValidateTenant(tenant); err != nil {
		return TenantKey{}, err
	}
	k, err := hkdf.Key(sha256.New, m.secret, nil, "sectorflow tenant key v1\x00"+tenant, encDataKeyLen)
	if err != nil {
		return TenantKey{}, fmt.Errorf("derived keys: %w", err)
	}
	return TenantKey{ID: m.id, Secret: k}, nil
}

// encryptedDriver encrypts objects on their way to another driver.
type encryptedDriver struct {
	inner Driver
	keys  KeyProvider
}

// NewEncryptedDriver returns a Driver that encrypts every object with AES-256-GCM before d
// stores it and decrypts it when read. Each object has its own random data key, wrapped by the
// owning tenant's key from keys. Content streams through in 64 KiB authenticated chunks, so no
// object is held whole in memory. Reading an object that was tampered with, truncated, reordered
// or copied under another key fails with an error matching ErrCorrupt, at the latest when the
// damaged chunk is reached: act on the content only once a read returned io.EOF.
func NewEncryptedDriver(d Driver, keys KeyProvider) Driver {
	return &encryptedDriver{inner: d, keys: keys}
}

// Unwrap returns the driver that stores the encrypted bytes.
func (e *encryptedDriver) Unwrap() Driver { return e.inner }

// Close closes the inner driver when it is an io.Closer.
func (e *encryptedDriver) Close() error {
	if c, ok := e.inner.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (e *encryptedDriver) WriteObject(ctx context.Context, key Key, r io.Reader) error {
	tk, err := e.keys.CurrentKey(ctx, key.Tenant)
	if err != nil {
		return fmt.Errorf("encrypt: tenant key: %w", err)
	}
	if len(tk.ID) == 0 || len(tk.ID) > encKeyIDMax {
		return fmt.Errorf("encrypt: expected a key id of 1 to %d bytes, found %d", encKeyIDMax, len(tk.ID))
	}
	kek, err := newGCM(tk.Secret)
	if err != nil {
		return fmt.Errorf("encrypt: tenant key %q: %w", tk.ID, err)
	}
	dataKey := make([]byte, encDataKeyLen)
	hdr := make([]byte, encHeaderSize)
	copy(hdr, encMagic[:])
	hdr[4] = byte(len(tk.ID))
	copy(hdr[5:], tk.ID)
	nonce := hdr[5+encKeyIDMax : 5+encKeyIDMax+12]
	if _, err := rand.Read(dataKey); err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	kek.Seal(hdr[5+encKeyIDMax+12:5+encKeyIDMax+12], nonce, dataKey, wrapAAD(hdr, key))
	aead, err := newGCM(dataKey)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	s := &sealer{src: r, aead: aead, aad: chunkAAD(hdr, key), buf: make([]byte, encChunkSize)}
	return e.inner.WriteObject(ctx, key, io.MultiReader(bytes.NewReader(hdr), s))
}

func (e *encryptedDriver) OpenObject(ctx context.Context, key Key) (io.ReadCloser, error) {
	rc, err := e.inner.OpenObject(ctx, key)
	if err != nil {
		return nil, err
	}
	o, err := e.opener(ctx, key, rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return o, nil
}

func (e *encryptedDriver) opener(ctx context.Context, key Key, rc io.ReadCloser) (*opener, error) {
	hdr := make([]byte, encHeaderSize)
	if n, err := io.ReadFull(rc, hdr); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("decrypt %s: expected a %d-byte header, found %d bytes: %w", key, encHeaderSize, n, ErrCorrupt)
		}
		return nil, fmt.Errorf("decrypt %s: %w", key, err)
	}
	if [4]byte(hdr[:4]) != encMagic {
		return nil, fmt.Errorf("decrypt %s: expected magic %q, found %q (not encrypted by this driver?): %w", key, encMagic[:], hdr[:4], ErrCorrupt)
	}
	idLen := int(hdr[4])
	if idLen == 0 || idLen > encKeyIDMax {
		return nil, fmt.Errorf("decrypt %s: expected a key id of 1 to %d bytes, found %d: %w", key, encKeyIDMax, idLen, ErrCorrupt)
	}
	id := string(hdr[5 : 5+idLen])
	tk, err := e.keys.Key(ctx, key.Tenant, id)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: tenant key %q: %w", key, id, err)
	}
	kek, err := newGCM(tk.Secret)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: tenant key %q: %w", key, id, err)
	}
	nonce := hdr[5+encKeyIDMax : 5+encKeyIDMax+12]
	dataKey, err := kek.Open(nil, nonce, hdr[5+encKeyIDMax+12:], wrapAAD(hdr, key))
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: unwrap data key with tenant key %q: wrong key, or header tampered with or copied from another object: %w", key, id, ErrCorrupt)
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", key, err)
	}
	return &opener{src: rc, key: key, aead: aead, aad: chunkAAD(hdr, key), buf: make([]byte, encChunkSize+encTagSize)}, nil
}

// OpenRange implements RangeOpener when the inner driver does, for ranges within the first
// chunk (the Store's header); other ranges read the object from its start.
func (e *encryptedDriver) OpenRange(ctx context.Context, key Key, offset, length int64) (io.ReadCloser, error) {
	ro, ok := e.inner.(RangeOpener)
	if !ok || offset < 0 || length < 0 || offset+length > encChunkSize {
		rc, err := e.OpenObject(ctx, key)
		if err != nil {
			return nil, err
		}
		return limitedReadCloser(rc, offset, length)
	}
	rc, err := ro.OpenRange(ctx, key, 0, encHeaderSize+encChunkSize+encTagSize)
	if err != nil {
		return nil, err
	}
	o, err := e.opener(ctx, key, rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	// Only the first chunk was fetched: reading past it would report a truncation.
	return limitedReadCloser(o, offset, length)
}

// limitedReadCloser skips offset bytes of rc and limits it to length more.
func limitedReadCloser(rc io.ReadCloser, offset, length int64) (io.ReadCloser, error) {
	if _, err := io.CopyN(io.Discard, rc, offset); err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length), rc}, nil
}

func (e *encryptedDriver) RemoveObject(ctx context.Context, key Key) error {
	return e.inner.RemoveObject(ctx, key)
}

func (e *encryptedDriver) ListObjects(ctx context.Context, tenant, prefix string) iter.Seq2[DriverObject, error] {
	return func(yield func(DriverObject, error) bool) {
		for obj, err := range e.inner.ListObjects(ctx, tenant, prefix) {
			if err == nil {
				obj.Size = plaintextSize(obj.Size)
			}
			if !yield(obj, err) || err != nil {
				return
			}
		}
	}
}

// plaintextSize is the content size of an encrypted object of n stored bytes (0 when n is too
// small to be one).
func plaintextSize(n int64) int64 {
	body := n - encHeaderSize
	if body < encTagSize {
		return 0
	}
	chunks := body/(encChunkSize+encTagSize) + 1
	return body - chunks*encTagSize
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("expected a 32-byte AES-256 key, found %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func wrapAAD(hdr []byte, key Key) []byte {
	return append(append([]byte("sectorflow data key v1\x00"), hdr[:5+encKeyIDMax]...), key.String()...)
}

func chunkAAD(hdr []byte, key Key) []byte {
	return append(append([]byte("sectorflow chunk v1\x00"), hdr...), key.String()...)
}

func chunkNonce(dst []byte, index uint64, final bool) []byte {
	dst = dst[:12]
	clear(dst)
	binary.BigEndian.PutUint64(dst, index)
	if final {
		dst[11] = 1
	}
	return dst
}

// sealer encrypts its source chunk by chunk as it is read.
type sealer struct {
	src    io.Reader
	aead   cipher.AEAD
	aad    []byte
	buf    []byte // plaintext of the chunk being read
	out    []byte // sealed bytes not yet returned
	sealed []byte
	nonce  [12]byte
	index  uint64
	done   bool
}

func (s *sealer) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			return 0, io.EOF
		}
		n, err := io.ReadFull(s.src, s.buf)
		final := false
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			final = true
		default:
			return 0, err
		}
		s.sealed = s.aead.Seal(s.sealed[:0], chunkNonce(s.nonce[:], s.index, final), s.buf[:n], s.aad)
		s.out = s.sealed
		s.index++
		s.done = final
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// opener decrypts and authenticates chunk by chunk as it is read.
type opener struct {
	src   io.ReadCloser
	key   Key
	aead  cipher.AEAD
	aad   []byte
	buf   []byte // one sealed chunk
	plain []byte // opened bytes not yet returned
	nonce [12]byte
	index uint64
	done  bool
	err   error
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next reads and opens the next chunk.
func (o *opener) next() error {
	n, err := io.ReadFull(o.src, o.buf)
	final := false
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF):
		final = true
	case errors.Is(err, io.EOF):
		return fmt.Errorf("decrypt %s: truncated: expected a final chunk after chunk %d, found the end of the object: %w", o.key, o.index, ErrCorrupt)
	default:
		return fmt.Errorf("decrypt %s: chunk %d: %w", o.key, o.index, err)
	}
	if n < encTagSize {
		return fmt.Errorf("decrypt %s: truncated: expected at least %d bytes in chunk %d, found %d: %w", o.key, encTagSize, o.index, n, ErrCorrupt)
	}
	plain, err := o.aead.Open(o.buf[:0], chunkNonce(o.nonce[:], o.index, final), o.buf[:n], o.aad)
	if err != nil {
		what := "tampered with, reordered or under a wrong key"
		if final {
			what = "tampered with, truncated or reordered"
		}
		return fmt.Errorf("decrypt %s: chunk %d failed authentication (%s): %w", o.key, o.index, what, ErrCorrupt)
	}
	if final {
		var one [1]byte
		if m, _ := io.ReadFull(o.src, one[:]); m > 0 {
			return fmt.Errorf("decrypt %s: expected the end of the object after the final chunk %d, found more bytes: %w", o.key, o.index, ErrCorrupt)
		}
		o.done = true
	}
	o.plain = plain
	o.index++
	return nil
}

func (o *opener) Close() error { return o.src.Close() }
