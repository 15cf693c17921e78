package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzRequests sends arbitrary bodies to the JSON endpoints: the server must answer every one
// with a JSON response and never fail internally (a panic would surface as a 500).
func FuzzRequests(f *testing.F) {
	srv, err := New(context.Background(), testModelDir, &Options{MaxTokens: 2, MaxTokensLimit: 3, MaxContext: 64, MaxRequestBytes: 64 << 10})
	require.NoError(f, err)
	f.Cleanup(func() { srv.Shutdown(context.Background()) })
	paths := []string{"/v1/chat/completions", "/v1/completions", "/v1/fine_tuning/jobs"}
	f.Add(0, `{"model": "llama", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}`)
	f.Add(0, `{"model": "llama", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "n": 2, "stop": ["a", "b"], "logprobs": true, "top_logprobs": 2}`)
	f.Add(0, `{"model": "llama", "messages": [], "stream": true, "stream_options": {"include_usage": true}}`)
	f.Add(1, `{"model": "llama", "prompt": [1, 2, 3], "logit_bias": {"5": -100}, "max_tokens": 3}`)
	f.Add(1, `{"model": "ft:llama:default::ftjob-0123456789abcdef", "prompt": "x"}`)
	f.Add(2, `{"model": "llama", "training_file": "file-0123456789abcdef", "hyperparameters": {"n_epochs": "auto", "lora_targets": ["q_proj"]}}`)
	f.Add(2, `{"model": "llama", "method": {"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 1e308}}}}`)
	f.Fuzz(func(t *testing.T, which int, body string) {
		if which < 0 {
			which = -which
		}
		req := httptest.NewRequest("POST", paths[which%len(paths)], strings.NewReader(body))
		rec := httptest.NewRecorder()
		served := make(chan struct{})
		go func() { srv.ServeHTTP(rec, req); close(served) }()
		select {
		case <-served:
		case <-time.After(20 * time.Second):
			t.Fatalf("no answer after 20s to %s %q", req.URL.Path, body)
		}
		require.NotEqual(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
		ct := rec.Header().Get("Content-Type")
		if ct == "text/event-stream" {
			require.Contains(t, rec.Body.String(), "data: [DONE]")
			return
		}
		require.Equal(t, "application/json", ct)
		var v map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	})
}
