package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lookups map[string]Principal // key -> expected principal
		err     string
	}{
		{name: "two tenants and an admin", in: testKeysFile, lookups: map[string]Principal{
			"sk-alice-0001": {Tenant: "alice"}, "sk-bob-00002": {Tenant: "bob"}, "sk-admin-003": {Tenant: "ops", Admin: true}}},
		{name: "tabs and comments", in: "# c\n\n\tkey-12345678\tacme \n", lookups: map[string]Principal{"key-12345678": {Tenant: "acme"}}},
		{name: "empty", in: "# nothing\n", err: "expected at least one key"},
		{name: "one field", in: "key-12345678\n", err: "line 1: expected \"API-KEY TENANT [admin]\""},
		{name: "short key", in: "abc acme\n", err: "line 1: expected an API key of at least 8 bytes"},
		{name: "bad tenant", in: "# x\nkey-12345678 ../acme\n", err: "line 2: invalid storage key: tenant"},
		{name: "bad role", in: "key-12345678 acme root\n", err: "expected \"admin\" or nothing"},
		{name: "duplicate", in: "key-12345678 a\nkey-12345678 b\n", err: "line 2: the same API key is listed twice"},
		{name: "control character", in: "key-1234\x01678 acme\n", err: "line 1: expected an API key of printable ASCII without spaces, found another character at byte 8"},
		{name: "long line", in: "key-12345678 " + strings.Repeat("a", 5000) + "\n", err: "line 1: expected at most 4096 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeys(strings.NewReader(tc.in))
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidKeys)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			for key, want := range tc.lookups {
				got, ok := k.Lookup(key)
				require.True(t, ok, key)
				require.Equal(t, want, got)
			}
			_, ok := k.Lookup("not-a-key-at-all")
			require.False(t, ok)
		})
	}
}

func TestParseKeysNeverQuotesKeys(t *testing.T) {
	_, err := ParseKeys(strings.NewReader("sk-very-secret-key BAD-TENANT\n"))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "sk-very-secret-key")
}

func FuzzParseKeys(f *testing.F) {
	f.Add(testKeysFile)
	f.Add("key-12345678 acme admin\n")
	f.Add("\x00\xff key tenant")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseKeys(strings.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidKeys)
			return
		}
		require.NotEmpty(t, k.Tenants())
	})
}
