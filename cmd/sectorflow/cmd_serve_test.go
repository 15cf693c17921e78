package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/sectorflow"
)

// syncBuffer is a bytes.Buffer safe for the serve goroutine and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"serve"}, "--model is required"},
		{"half tls", []string{"serve", "--model", "../../testdata/models/llama", "--tls-cert", "x.pem"}, "expected both --tls-cert and --tls-key"},
		{"bad keys", []string{"serve", "--model", "../../testdata/models/llama", "--keys", writeDataset(t, "short t\n")}, "line 1: expected an API key of at least 8 bytes"},
		{"key without data", []string{"serve", "--model", "../../testdata/models/llama", "--master-key-env", "X"}, "--master-key-env needs --data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(tc.args, nil, &stdout, &stderr)
			require.NotEqual(t, 0, code)
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestServeEndToEnd(t *testing.T) {
	data := t.TempDir()
	keys := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(keys, []byte("sk-test-key-1 acme\n"), 0o600))
	t.Setenv("SF_TEST_MASTER", "a master key for the serve test, 32+ bytes")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--model", "../../testdata/models/llama", "--addr", "127.0.0.1:0", "--data", data,
			"--keys", keys, "--master-key-env", "SF_TEST_MASTER"}, nil, pw, &stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan(), stderr.String())
	line := sc.Text()
	require.Contains(t, line, "serving llama on http://127.0.0.1:")
	go io.Copy(io.Discard, pr)
	base := strings.Fields(line)[3]

	body := `{"model": "llama", "max_tokens": 4, "temperature": 0, "messages": [{"role": "user", "content": "hi"}]}`
	req, err := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk-test-key-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var out struct {
		Object string `json:"object"`
		Usage  struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "chat.completion", out.Object)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
	// The usage of the request is in the data directory's usage log.
	f, err := os.Open(filepath.Join(data, "usage.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	var n int
	for u, err := range sectorflow.ReadUsageLog(f) {
		require.NoError(t, err)
		require.Equal(t, "acme", u.Tenant)
		require.EqualValues(t, out.Usage.CompletionTokens, u.CompletionTokens)
		n++
	}
	require.Equal(t, 1, n)
}
