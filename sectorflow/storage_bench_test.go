package sectorflow_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/sectorflow/sdk/sectorflow"
)

// BenchmarkStore measures a 1 MiB Put and Get on each store (run with -benchmem): the cost of
// the Store's header and of encryption over the raw drivers.
func BenchmarkStore(b *testing.B) {
	keys, err := sectorflow.NewDerivedKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindModel, Name: "bench"}
	newStores := map[string]func(b *testing.B) *sectorflow.Store{
		"memory": func(b *testing.B) *sectorflow.Store { return sectorflow.NewMemoryStore(nil) },
		"encrypted-memory": func(b *testing.B) *sectorflow.Store {
			return sectorflow.NewStore(sectorflow.NewEncryptedDriver(sectorflow.NewMemoryDriver(), keys), nil)
		},
		"file": func(b *testing.B) *sectorflow.Store {
			s, err := sectorflow.OpenFileStore(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, newStore := range newStores {
		b.Run(name+"/put", func(b *testing.B) {
			s := newStore(b)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := s.Put(context.Background(), k, bytes.NewReader(data), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/get", func(b *testing.B) {
			s := newStore(b)
			if err := s.Put(context.Background(), k, bytes.NewReader(data), nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				rc, err := s.Get(context.Background(), k)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != int64(len(data)) {
					b.Fatalf("read %d bytes, err %v; expected %d", n, err, len(data))
				}
			}
		})
	}
}
