package sectorflow

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPromiseJobLogsStoredRedactedAndTemporary: a job log is stored redacted, as a temporary
// object that expires after DefaultLogRetention unless the job asks otherwise.
func TestPromiseJobLogsStoredRedactedAndTemporary(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// A store whose own default for logs is a year: StoreJobLog still applies DefaultLogRetention.
	store := NewMemoryStore(&StoreOptions{Now: clock, LogTTL: 365 * 24 * time.Hour})
	r := newTestRedactor(t, jobSecrets...)
	key := Key{Tenant: "acme", Kind: KindLog, Name: "job-7.log"}
	text := jobLogText()
	require.NoError(t, StoreJobLog(ctx, store, key, strings.NewReader(text), r, nil))

	rc, err := store.Get(ctx, key)
	require.NoError(t, err)
	stored, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	for _, leak := range leaks() {
		require.NotContains(t, string(stored), leak)
	}
	require.Equal(t, r.Redact(text), string(stored))

	var infos []ObjectInfo
	for info, err := range store.List(ctx, "acme", "log/") {
		require.NoError(t, err)
		infos = append(infos, info)
	}
	require.Len(t, infos, 1)
	require.True(t, infos[0].Temporary())
	require.Equal(t, now.Add(DefaultLogRetention), infos[0].Expires)

	// Kept on request.
	kept := Key{Tenant: "acme", Kind: KindLog, Name: "job-8.log"}
	require.NoError(t, StoreJobLog(ctx, store, kept, strings.NewReader("kept\n"), nil, &PutOptions{Permanent: true}))

	mu.Lock()
	now = now.Add(DefaultLogRetention)
	mu.Unlock()
	_, err = store.Get(ctx, key)
	require.ErrorIs(t, err, ErrNotFound, "gone once its retention is up")
	rc, err = store.Get(ctx, kept)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
}

func TestStoreJobLogErrors(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	key := Key{Tenant: "acme", Kind: KindLog, Name: "job-9.log"}
	err := StoreJobLog(ctx, store, Key{Tenant: "acme", Kind: KindDataset, Name: "x"}, strings.NewReader("x"), nil, nil)
	require.ErrorContains(t, err, `want a key of kind "log", found "dataset"`)
	require.ErrorContains(t, StoreJobLog(ctx, store, key, nil, nil, nil), "found nil")

	boom := errors.New("pipe broke")
	src := io.MultiReader(strings.NewReader("line one\n"), iotest.ErrReader(boom))
	require.ErrorIs(t, StoreJobLog(ctx, store, key, src, nil, nil), boom)
	_, err = store.Get(ctx, key)
	require.ErrorIs(t, err, ErrNotFound, "a failed log leaves nothing")

	bad := Key{Tenant: "ACME/..", Kind: KindLog, Name: "x"}
	require.ErrorIs(t, StoreJobLog(ctx, store, bad, strings.NewReader(strings.Repeat("x\n", 100000)), nil, nil), ErrInvalidKey)
}
