package sectorflow_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
)

// A file-system store, encrypted at rest, with a temporary dataset and a permanent adapter.
func Example_storage() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sectorflow-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	files, err := sectorflow.OpenFileDriver(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	// In production the master key comes from a secret manager, never from the source.
	keys, err := sectorflow.NewDerivedKeys([]byte("an example master key, 32+ bytes long"))
	if err != nil {
		fmt.Println(err)
		return
	}
	store := sectorflow.NewStore(sectorflow.NewEncryptedDriver(files, keys), nil)
	defer store.Close()

	data := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "train.jsonl"}
	adapter := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "support-bot"}
	if err := store.Put(ctx, data, strings.NewReader(`{"prompt":"hi","completion":"hello"}`), &sectorflow.PutOptions{TTL: 7 * 24 * time.Hour}); err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Put(ctx, adapter, strings.NewReader("weights"), &sectorflow.PutOptions{Permanent: true}); err != nil {
		fmt.Println(err)
		return
	}

	rc, err := store.Get(ctx, adapter)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("adapter: %s\n", b)

	_, err = store.Get(ctx, sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "../../other/adapter/x"})
	fmt.Println(err)

	for info, err := range store.List(ctx, "acme", "") {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %d bytes temporary=%v\n", info.Key, info.Size, info.Temporary())
	}

	report, err := store.DeleteTenant(ctx, "acme")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("deleted %d objects, %d bytes\n", len(report.Removed), report.Bytes)
	// Output:
	// adapter: weights
	// get: invalid storage key: name "../../other/adapter/x": expected ASCII letters, digits, '.', '-' or '_' (not first), found '.' at byte 0
	// acme/adapter/support-bot 7 bytes temporary=false
	// acme/dataset/train.jsonl 36 bytes temporary=true
	// deleted 2 objects, 43 bytes
}
