package sectorflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("sk-live-value-123")
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "s", s)
	js, err := json.Marshal(struct{ S Secret }{s})
	require.NoError(t, err)
	for _, got := range []string{
		s.String(), s.GoString(), buf.String(), string(js),
		fmt.Sprintf("%v %s %q %+v %#v %d %x %T", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v", struct{ S Secret }{s}), fmt.Sprintf("%+v", &struct{ S Secret }{s}),
	} {
		require.NotContains(t, got, "sk-live-value-123")
		require.Contains(t, got, "REDACTED")
	}
	require.Equal(t, "sk-live-value-123", s.Reveal())
	require.False(t, s.IsZero())
	require.True(t, Secret{}.IsZero())
	require.Equal(t, "", Secret{}.String())
}

func TestSecretUnmarshal(t *testing.T) {
	var spec struct {
		Model string
		Token Secret
	}
	require.NoError(t, json.Unmarshal([]byte(`{"Model": "llama", "Token": "hf_from_json_123"}`), &spec))
	require.Equal(t, "hf_from_json_123", spec.Token.Reveal())
	out, err := json.Marshal(spec)
	require.NoError(t, err)
	require.JSONEq(t, `{"Model": "llama", "Token": "[REDACTED:secret]"}`, string(out))
}
