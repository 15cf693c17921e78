package server

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sectorflow/sdk/sectorflow"
)

// maxRecordBytes bounds the JSON records (file metadata, job records) read back from Storage.
const maxRecordBytes = 16 << 20

func (s *Server) putJSON(ctx context.Context, key sectorflow.Key, v any, opts *sectorflow.PutOptions) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return s.store.Put(ctx, key, bytes.NewReader(data), opts)
}

// getJSON reads the record under key into v; errors match sectorflow.ErrNotFound when absent.
func (s *Server) getJSON(ctx context.Context, key sectorflow.Key, v any) error {
	rc, err := s.store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxRecordBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) > maxRecordBytes {
		return fmt.Errorf("read %s: expected a record of at most %d bytes, found more", key, maxRecordBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// putDir stores the regular files under dir (skipping the subdirectories named in skip) as one
// tar object under key.
func (s *Server) putDir(ctx context.Context, key sectorflow.Key, dir string, skip ...string) error {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			if d.IsDir() {
				for _, sk := range skip {
					if rel == sk {
						return filepath.SkipDir
					}
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err := s.store.Put(ctx, key, pr, &sectorflow.PutOptions{Permanent: true})
	pr.CloseWithError(errors.New("put finished")) // unblock the writer if Put stopped early
	return err
}

// maxArchiveBytes bounds what getDir extracts, so that a corrupt object cannot fill the disk.
const maxArchiveBytes = 16 << 30

// getDir extracts the tar object under key into dir, refusing any entry that would land
// outside dir.
func (s *Server) getDir(ctx context.Context, key sectorflow.Key, dir string) error {
	rc, err := s.store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", key, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) || strings.HasPrefix(h.Name, "/") {
			return fmt.Errorf("extract %s: expected relative paths, found %q", key, h.Name)
		}
		total += h.Size
		if h.Size < 0 || total > maxArchiveBytes {
			return fmt.Errorf("extract %s: expected at most %d bytes, found more", key, int64(maxArchiveBytes))
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", key, err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("extract %s: %w", key, err)
		}
		_, err = io.Copy(f, io.LimitReader(tr, h.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", key, err)
		}
	}
}

// copyObject writes the object under key to the file at path.
func (s *Server) copyObject(ctx context.Context, key sectorflow.Key, path string) error {
	rc, err := s.store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
