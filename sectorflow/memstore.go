package sectorflow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
)

// memoryDriver keeps objects in a map. Each Put reads the whole object into a new slice and then
// swaps it in, so readers keep the version they opened.
type memoryDriver struct {
	mu   sync.RWMutex
	objs map[Key][]byte
}

// NewMemoryDriver returns a Driver that keeps objects in memory, for tests and short-lived
// programs. Use NewMemoryStore for a ready Store.
func NewMemoryDriver() Driver { return &memoryDriver{objs: map[Key][]byte{}} }

func (m *memoryDriver) WriteObject(ctx context.Context, key Key, r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return fmt.Errorf("memory: read content: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	m.objs[key] = buf.Bytes()
	m.mu.Unlock()
	return nil
}

func (m *memoryDriver) OpenObject(ctx context.Context, key Key) (io.ReadCloser, error) {
	m.mu.RLock()
	b, ok := m.objs[key]
	m.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memoryDriver) RemoveObject(ctx context.Context, key Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; !ok {
		return ErrNotFound
	}
	delete(m.objs, key)
	return nil
}

func (m *memoryDriver) ListObjects(ctx context.Context, tenant, prefix string) iter.Seq2[DriverObject, error] {
	return func(yield func(DriverObject, error) bool) {
		// Snapshot under the lock, yield without it, so that callers may write while listing.
		m.mu.RLock()
		var objs []DriverObject
		for k, b := range m.objs {
			if tenant != "" && (k.Tenant != tenant || !strings.HasPrefix(string(k.Kind)+"/"+k.Name, prefix)) {
				continue
			}
			objs = append(objs, DriverObject{Key: k, Size: int64(len(b))})
		}
		m.mu.RUnlock()
		slices.SortFunc(objs, func(a, b DriverObject) int { return strings.Compare(a.Key.String(), b.Key.String()) })
		for _, o := range objs {
			if !yield(o, nil) {
				return
			}
		}
	}
}
