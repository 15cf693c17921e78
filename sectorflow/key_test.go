package sectorflow_test

import (
	"path"
	"strings"
	"testing"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/sectorflow/storagetest"
	"github.com/stretchr/testify/require"
)

func TestKeyValidate(t *testing.T) {
	tests := []struct {
		key     sectorflow.Key
		wantErr string // "" for a valid key
	}{
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "run-1"}, ""},
		{sectorflow.Key{Tenant: "a", Kind: sectorflow.KindFile, Name: "Train_v2.jsonl"}, ""},
		{sectorflow.Key{Tenant: "acme-corp_1", Kind: sectorflow.KindJob, Name: "0"}, ""},
		{sectorflow.Key{Tenant: strings.Repeat("t", 64), Kind: sectorflow.KindLog, Name: strings.Repeat("n", 200)}, ""},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "CONFIG.json"}, ""},
		{sectorflow.Key{Tenant: "", Kind: sectorflow.KindAdapter, Name: "x"}, `tenant "": expected 1 to 64 bytes, found an empty id`},
		{sectorflow.Key{Tenant: "Acme", Kind: sectorflow.KindAdapter, Name: "x"}, `found 'A' at byte 0`},
		{sectorflow.Key{Tenant: "ａcme", Kind: sectorflow.KindAdapter, Name: "x"}, `found non-ASCII byte 0xef at byte 0`},
		{sectorflow.Key{Tenant: strings.Repeat("t", 65), Kind: sectorflow.KindAdapter, Name: "x"}, `expected at most 64 bytes, found 65`},
		{sectorflow.Key{Tenant: "acme", Kind: "weights", Name: "x"}, `kind "weights": expected one of`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "../x"}, `found '.' at byte 0`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "a..b"}, `expected no "..", found one`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "a/b"}, `found '/' at byte 1`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "a\x00"}, `found NUL at byte 1`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "a\x1b[2J"}, `found control byte 0x1b at byte 1`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "nul.txt"}, `reserved device name "nul"`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "x."}, `no trailing '.'`},
		{sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: strings.Repeat("n", 201)}, `expected at most 200 bytes, found 201`},
	}
	for _, tc := range tests {
		t.Run(tc.key.String(), func(t *testing.T) {
			err := tc.key.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestHostileKeysAreInvalid(t *testing.T) {
	for _, k := range storagetest.HostileKeys() {
		require.ErrorIs(t, k.Validate(), sectorflow.ErrInvalidKey, "%q", k.String())
	}
}

func TestParseKey(t *testing.T) {
	k, err := sectorflow.ParseKey("acme/adapter/run-1")
	require.NoError(t, err)
	require.Equal(t, sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindAdapter, Name: "run-1"}, k)
	for _, s := range []string{"", "acme", "acme/adapter", "acme/adapter/a/b", "/acme/adapter/x", "acme//x"} {
		_, err := sectorflow.ParseKey(s)
		require.ErrorIs(t, err, sectorflow.ErrInvalidKey, "%q", s)
	}
}

// FuzzParseKey: any string that parses as a key is a plain relative path of exactly three clean
// segments of safe ASCII, which cannot escape a directory on any file system or alias another key.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"acme/adapter/run-1", "acme/dataset/../x", "a/log/x.log", "ａ/file/x", "acme/file/CON", "x/job/a\x00"} {
		f.Add(s)
	}
	for _, k := range storagetest.HostileKeys() {
		f.Add(k.String())
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := sectorflow.ParseKey(s)
		if err != nil {
			require.ErrorIs(t, err, sectorflow.ErrInvalidKey)
			return
		}
		require.Equal(t, s, k.String())
		require.Equal(t, s, path.Clean(s), "a valid key is a clean path")
		require.False(t, path.IsAbs(s))
		require.Len(t, strings.Split(s, "/"), 3)
		require.NotContains(t, s, "..")
		for _, c := range []byte(s) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-/", c) >= 0
			require.True(t, ok, "byte %q in a valid key", c)
		}
		require.Equal(t, k.Tenant, strings.ToLower(k.Tenant), "tenant ids are lower case, so case-insensitive stores cannot alias them")
	})
}
