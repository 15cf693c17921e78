package sectorflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"strings"
)

// FileDriver keeps objects as files under a directory: dir/tenant/kind/name. It writes each
// object to a temporary file in the same directory, fsyncs it, renames it over the old one and
// fsyncs the directory, so a crash or a cancelled Put leaves the old object or the new one.
// All access goes through an os.Root, so even a symbolic link planted in the tree cannot lead
// outside dir. Upper-case letters in names are stored escaped ("A" as "+a"), so names that
// differ only in case stay distinct on case-insensitive file systems.
type FileDriver struct {
	root *os.Root
}

// tmpPrefix starts the names of files being written; valid names never start with '.'.
const tmpPrefix = ".tmp-"

// OpenFileDriver returns a FileDriver over dir, creating dir if needed. Close releases it.
func OpenFileDriver(dir string) (*FileDriver, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open file store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open file store: %w", err)
	}
	return &FileDriver{root: root}, nil
}

// Close releases the directory.
func (d *FileDriver) Close() error { return d.root.Close() }

func objectDir(key Key) string { return key.Tenant + "/" + string(key.Kind) }

func objectPath(key Key) string { return objectDir(key) + "/" + encodeFileName(key.Name) }

// WriteObject implements Driver.
func (d *FileDriver) WriteObject(ctx context.Context, key Key, r io.Reader) (err error) {
	// Keys are validated here too, so that a FileDriver used without a Store stays safe.
	if err := key.Validate(); err != nil {
		return err
	}
	dir := objectDir(key)
	_, statErr := d.root.Stat(dir)
	newDir := errors.Is(statErr, fs.ErrNotExist)
	if err := d.root.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("file: create %s: %w", dir, err)
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := dir + "/" + tmpPrefix + hex.EncodeToString(rnd[:])
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("file: create temporary file: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			d.root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("file: write content: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("file: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("file: close: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.root.Rename(tmp, objectPath(key)); err != nil {
		return fmt.Errorf("file: rename into place: %w", err)
	}
	committed = true
	// The rename is durable once the directory is synced; a fresh directory's own entry needs its
	// parents synced too.
	if err := d.syncDir(dir); err != nil {
		return err
	}
	if newDir {
		if err := d.syncDir(key.Tenant); err != nil {
			return err
		}
		return d.syncDir(".")
	}
	return nil
}

func (d *FileDriver) syncDir(dir string) error {
	f, err := d.root.Open(dir)
	if err != nil {
		return fmt.Errorf("file: sync directory: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("file: sync directory %s: %w", dir, err)
	}
	return nil
}

// OpenObject implements Driver.
func (d *FileDriver) OpenObject(ctx context.Context, key Key) (io.ReadCloser, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	f, err := d.root.Open(objectPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("file: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file: stat: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("file: expected a regular file at %s, found mode %s", objectPath(key), st.Mode())
	}
	return f, nil
}

// RemoveObject implements Driver.
func (d *FileDriver) RemoveObject(ctx context.Context, key Key) error {
	if err := key.Validate(); err != nil {
		return err
	}
	err := d.root.Remove(objectPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("file: remove: %w", err)
	}
	return d.syncDir(objectDir(key))
}

// ListObjects implements Driver.
func (d *FileDriver) ListObjects(ctx context.Context, tenant, prefix string) iter.Seq2[DriverObject, error] {
	return func(yield func(DriverObject, error) bool) {
		if err := validateListArgs(tenant, prefix); err != nil {
			yield(DriverObject{}, err)
			return
		}
		tenants := []string{tenant}
		if tenant == "" {
			entries, err := d.readDir(".")
			if err != nil {
				yield(DriverObject{}, err)
				return
			}
			tenants = tenants[:0]
			for _, e := range entries {
				if e.IsDir() && ValidateTenant(e.Name()) == nil {
					tenants = append(tenants, e.Name())
				}
			}
		}
		// Kinds in name order, so that listings come out sorted by key, as on object stores.
		kinds := Kinds()
		slices.Sort(kinds)
		for _, t := range tenants {
			for _, kind := range kinds {
				kp := string(kind) + "/"
				if !strings.HasPrefix(kp, prefix) && !strings.HasPrefix(prefix, kp) {
					continue
				}
				namePrefix := strings.TrimPrefix(prefix, kp)
				if len(namePrefix) == len(prefix) {
					namePrefix = ""
				}
				entries, err := d.readDir(t + "/" + string(kind))
				if err != nil {
					yield(DriverObject{}, err)
					return
				}
				for _, e := range entries {
					name, ok := decodeFileName(e.Name())
					if !ok || !e.Type().IsRegular() || !strings.HasPrefix(name, namePrefix) {
						continue
					}
					key := Key{Tenant: t, Kind: kind, Name: name}
					if key.Validate() != nil {
						continue
					}
					st, err := e.Info()
					if errors.Is(err, fs.ErrNotExist) {
						continue
					}
					if err != nil {
						yield(DriverObject{}, fmt.Errorf("file: stat %s: %w", key, err))
						return
					}
					if !yield(DriverObject{Key: key, Size: st.Size()}, nil) {
						return
					}
				}
			}
		}
	}
}

// readDir lists dir sorted by name; a missing directory is empty.
func (d *FileDriver) readDir(dir string) ([]fs.DirEntry, error) {
	f, err := d.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file: list %s: %w", dir, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("file: list %s: %w", dir, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// cleanTenant removes what DeleteTenant leaves behind: temporary files of interrupted writes
// (the tenant's data too) and the empty directories.
func (d *FileDriver) cleanTenant(ctx context.Context, tenant string) error {
	for _, kind := range Kinds() {
		dir := tenant + "/" + string(kind)
		entries, err := d.readDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tmpPrefix) {
				if err := d.root.Remove(path.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("file: remove %s: %w", e.Name(), err)
				}
			}
		}
		d.root.Remove(dir) // fails harmlessly when something is still there
	}
	d.root.Remove(tenant)
	return d.syncDir(".")
}

// encodeFileName escapes upper-case letters ("A" becomes "+a"); '+' never occurs in valid names.
func encodeFileName(name string) string {
	if strings.IndexFunc(name, func(r rune) bool { return r >= 'A' && r <= 'Z' }) < 0 {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('+')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// decodeFileName reverses encodeFileName; ok is false for names it cannot have made.
func decodeFileName(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			if i+1 >= len(s) || s[i+1] < 'a' || s[i+1] > 'z' {
				return "", false
			}
			i++
			c = s[i] - ('a' - 'A')
		} else if c >= 'A' && c <= 'Z' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}
