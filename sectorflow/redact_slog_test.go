package sectorflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"testing/slogtest"

	"github.com/stretchr/testify/require"
)

func TestRedactingHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	newHandler := func(t *testing.T) slog.Handler {
		buf.Reset()
		return NewRedactingHandler(slog.NewJSONHandler(&buf, nil), newTestRedactor(t, "hunter2-secret"))
	}
	result := func(t *testing.T) map[string]any {
		line := bytes.TrimSpace(buf.Bytes())
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "line %q", line)
		return m
	}
	slogtest.Run(t, newHandler, result)
}

// logValuer resolves to a secret-bearing string.
type logValuer struct{ s string }

func (v logValuer) LogValue() slog.Value { return slog.StringValue(v.s) }

type config struct {
	Endpoint string
	APIKey   string
}

func TestRedactingHandlerRedactsEverything(t *testing.T) {
	const secret = "hunter2-secret"
	var buf bytes.Buffer
	h := NewRedactingHandler(slog.NewJSONHandler(&buf, nil), newTestRedactor(t, secret))
	require.NotNil(t, h.Unwrap())
	logger := slog.New(h).With("with_attr", "token "+fakeGitHub, slog.Group("g0", "inner", secret)).
		WithGroup("job-"+secret).With("in_group", fakeJWT)
	logger.Info("starting with "+secret+" and "+fakeAWSKeyID,
		"plain", "db "+secret,
		"password", "bare-value-no-shape",
		"pw_typed", NewSecret("typed-secret-value"),
		"valuer", logValuer{"resolved " + fakeStripe},
		"err", errors.New("dial postgres://u:"+secret+"@db failed"),
		"cfg", config{Endpoint: "https://api", APIKey: fakeOpenAI},
		slog.Group("nested", "deep", slog.GroupValue(slog.String("deeper", secret))),
		secret, "as key",
		"count", 42,
		"Authorization", "Bearer short",
		"cookie", "sid=abc",
	)
	out := buf.String()
	for _, leak := range []string{secret, fakeGitHub, fakeJWT, fakeAWSKeyID, "bare-value-no-shape",
		"typed-secret-value", fakeStripe, fakeOpenAI} {
		require.NotContains(t, out, leak)
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	require.Equal(t, "starting with [REDACTED:secret] and [REDACTED:aws-access-key-id]", m["msg"])
	require.Equal(t, "token [REDACTED:github-token]", m["with_attr"])
	require.Equal(t, map[string]any{"inner": "[REDACTED:secret]"}, m["g0"])
	job := m["job-[REDACTED:secret]"].(map[string]any)
	require.Equal(t, "[REDACTED:jwt]", job["in_group"])
	require.Equal(t, "db [REDACTED:secret]", job["plain"])
	require.Equal(t, "[REDACTED:password]", job["password"])
	require.Equal(t, "[REDACTED:secret]", job["pw_typed"])
	require.Equal(t, "resolved [REDACTED:stripe-key]", job["valuer"])
	require.Equal(t, "dial postgres://u:[REDACTED:url-password]@db failed", job["err"])
	require.Equal(t, "{Endpoint:https://api APIKey:[REDACTED:openai-key]}", job["cfg"])
	require.Equal(t, map[string]any{"deep": map[string]any{"deeper": "[REDACTED:secret]"}}, job["nested"])
	require.Equal(t, "[REDACTED:secret]", job["[REDACTED:secret]"], "the key is redacted, and names a secret")
	require.Equal(t, float64(42), job["count"])
	require.Equal(t, "[REDACTED:authorization]", job["Authorization"], "a short bearer token is caught by its key")
	require.Equal(t, "[REDACTED:secret]", job["cookie"])
}

func TestRedactingHandlerKeepsCleanValues(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewRedactingHandler(slog.NewJSONHandler(&buf, nil), nil))
	logger.Info("step", "loss", 2.5, "cfg", config{Endpoint: "https://api"}, "eos_token", "</s>", "max_tokens", 512)
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	require.Equal(t, map[string]any{"Endpoint": "https://api", "APIKey": ""}, m["cfg"], "clean structs keep their form")
	require.Equal(t, "</s>", m["eos_token"])
	require.Equal(t, float64(512), m["max_tokens"])
	require.True(t, NewRedactingHandler(slog.NewJSONHandler(&buf, nil), nil).Enabled(context.Background(), slog.LevelInfo))
}
