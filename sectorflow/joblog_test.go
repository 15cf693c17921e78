package sectorflow

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// jobSecrets are the secrets a test job was given.
var jobSecrets = []string{"db-Pa55word!x", "hf_tokenOfTheJobAbCdEfGhIjKlMnOpQrSt", "wandb-0123456789abcdef"}

// jobLogText is the raw output of a job that leaks its secrets and credentials in every way the
// redactor knows.
func jobLogText() string {
	lines := []string{
		"2026-11-29T10:00:00Z INFO loading model llama-3.2-1b",
		"env: DB_PASSWORD=" + jobSecrets[0] + " HF_HOME=/cache",
		"login with " + jobSecrets[1],
		"wandb key " + base64.StdEncoding.EncodeToString([]byte("api:"+jobSecrets[2])),
		"GET /callback?pw=" + url.QueryEscape(jobSecrets[0]) + "&x=1",
		"config: {\"api_key\": \"" + jobSecrets[2] + "\", \"aws\": \"" + fakeAWSKeyID + "\"}",
		"Authorization: Bearer " + fakeJWT,
		"git clone https://x-access-token:" + fakeGitHub + "@github.com/acme/data.git",
		"service account:",
		fakePEMRSA,
		"step 10/100 loss=2.31 lr=2e-4 tokens/s=1840",
		"done",
	}
	return strings.Join(lines, "\n") + "\n"
}

// leaks returns the secret material of jobLogText.
func leaks() []string {
	return append(slices.Clone(jobSecrets), fakeAWSKeyID, fakeJWT, fakeGitHub, "MIIEowIBAAKCAQEA1c7",
		"lWu2/a1gB9JW5TBQ", url.QueryEscape(jobSecrets[0]))
}

// TestPromiseJobLogsCarryNoSecret: every job log line passes the redactor, however the job's
// output is split into writes, so no registered secret or recognisable credential reaches the log.
func TestPromiseJobLogsCarryNoSecret(t *testing.T) {
	r := newTestRedactor(t, jobSecrets...)
	text := jobLogText()
	var whole bytes.Buffer
	w := NewJobLogWriter(&whole, r)
	_, err := w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	for _, leak := range leaks() {
		require.NotContains(t, whole.String(), leak)
	}
	require.Contains(t, whole.String(), "step 10/100 loss=2.31 lr=2e-4 tokens/s=1840\ndone\n", "ordinary lines pass")
	require.Contains(t, whole.String(), "service account:\n[REDACTED:private-key]\nstep", "the PEM block is one marker")
	require.Equal(t, r.Redact(text), whole.String(), "line by line equals whole-text redaction")

	rng := rand.New(rand.NewPCG(4, 2))
	for trial := range 200 {
		var out bytes.Buffer
		w := NewJobLogWriter(&out, r)
		for rest := []byte(text); len(rest) > 0; {
			n := 1 + rng.IntN(min(len(rest), 1+rng.IntN(40)))
			m, err := w.Write(rest[:n])
			require.NoError(t, err)
			require.Equal(t, n, m)
			rest = rest[n:]
		}
		require.NoError(t, w.Close())
		require.Equal(t, whole.String(), out.String(), "trial %d: output independent of write boundaries", trial)
	}

	// The structured log of the job goes through the redacting handler.
	var logs bytes.Buffer
	logger := NewJobLogger(&logs, r, nil)
	logger.Info("job started", "secret_env", jobSecrets[0], "argv", "--token "+jobSecrets[1])
	logger.With("auth", "Bearer "+fakeJWT).Error("upload failed", "err", errors.New("401 for "+fakeGitHub))
	for _, leak := range leaks() {
		require.NotContains(t, logs.String(), leak)
	}
	require.Equal(t, 2, strings.Count(logs.String(), "\n"))
}

func TestJobLogWriterSecretSplitAcrossWrites(t *testing.T) {
	r := newTestRedactor(t, "split-me-secret")
	var out bytes.Buffer
	w := NewJobLogWriter(&out, r)
	for i, part := range []string{"before split-", "me-sec", "ret after\nnext ", "line ghp_R2d2C3poL7uk3Sk", "y9wAlk3rHanS0lo123456\r\n"} {
		_, err := w.Write([]byte(part))
		require.NoError(t, err)
		if i == 3 {
			require.Equal(t, "before [REDACTED:secret] after\n", out.String(), "a line is written only once complete")
		}
	}
	require.NoError(t, w.Close())
	require.Equal(t, "before [REDACTED:secret] after\nnext line [REDACTED:github-token]\r\n", out.String())
}

func TestJobLogWriterClose(t *testing.T) {
	r := newTestRedactor(t, "tail-secret")
	tests := []struct {
		name, in, want string
	}{
		{"last line without newline", "a\nb tail-secret", "a\nb [REDACTED:secret]"},
		{"unterminated pem", "k:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0", "k:\n[REDACTED:private-key]"},
		{"pem on one line", "x -----BEGIN EC PRIVATE KEY-----abc-----END EC PRIVATE KEY----- y\n", "x [REDACTED:private-key] y\n"},
		{"empty", "", ""},
		{"pem mentioned then text", "want -----BEGIN PRIVATE KEY-----\nline two, normal\nMIIEvQ\n", "want [REDACTED:private-key]\nline two, normal\nMIIEvQ\n"},
		{"pem truncated then text", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAKCAQ\nstep 3 loss=1.2\n", "[REDACTED:private-key]\nstep 3 loss=1.2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewJobLogWriter(&out, r)
			_, err := w.Write([]byte(tt.in))
			require.NoError(t, err)
			require.NoError(t, w.Close())
			require.Equal(t, tt.want, out.String())
			require.NoError(t, w.Close(), "second close")
			_, err = w.Write([]byte("late\n"))
			require.ErrorIs(t, err, os.ErrClosed)
		})
	}
}

func TestJobLogWriterLongLinesAndBlocks(t *testing.T) {
	r := newTestRedactor(t, "long-line-secret")
	// A 200 KiB line with secrets scattered: written in parts, none of them leaking.
	var b strings.Builder
	for i := 0; b.Len() < 200<<10; i++ {
		b.WriteString("word ")
		if i%1000 == 0 {
			b.WriteString("long-line-secret ")
		}
	}
	var out bytes.Buffer
	w := NewJobLogWriter(&out, r)
	_, err := w.Write([]byte(b.String()))
	require.NoError(t, err)
	require.Greater(t, out.Len(), 100<<10, "long lines are written before their newline")
	require.NoError(t, w.Close())
	require.NotContains(t, out.String(), "long-line-secret")
	require.Equal(t, strings.Count(b.String(), "long-line-secret"), strings.Count(out.String(), "[REDACTED:secret]"))

	// An oversized private-key block is censored and the rest of it dropped until its END line.
	var pem strings.Builder
	pem.WriteString("-----BEGIN PRIVATE KEY-----\n")
	for pem.Len() < maxPEMBlock+1000 {
		pem.WriteString("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n")
	}
	pem.WriteString("-----END PRIVATE KEY----- after\nnext\n")
	out.Reset()
	w = NewJobLogWriter(&out, nil)
	_, err = w.Write([]byte(pem.String()))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.Equal(t, "[REDACTED:private-key]\n after\nnext\n", out.String())

	// Without its END line, the oversized block ends at the first line that is not base64.
	out.Reset()
	w = NewJobLogWriter(&out, nil)
	body, _, _ := strings.Cut(pem.String(), "-----END")
	_, err = w.Write([]byte(body + "step 9 loss=1.0\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.Equal(t, "[REDACTED:private-key]\nstep 9 loss=1.0\n", out.String())
}

func TestJobLogWriterConcurrentWriters(t *testing.T) {
	var out bytes.Buffer
	w := NewJobLogWriter(&out, newTestRedactor(t, "concurrent-secret"))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				_, err := fmt.Fprintf(w, "worker %d line %d concurrent-secret\n", g, i)
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 400)
	for _, l := range lines {
		require.Regexp(t, `^worker \d line \d+ \[REDACTED:secret\]$`, l)
	}
	discardW := NewJobLogWriter(nil, nil)
	_, err := discardW.Write([]byte("dropped\n"))
	require.NoError(t, err, "a nil writer discards")
	require.NoError(t, discardW.Close())
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestJobLogWriterWriteErrorSticks(t *testing.T) {
	w := NewJobLogWriter(&failWriter{n: 1}, nil)
	_, err := w.Write([]byte("one\n"))
	require.NoError(t, err)
	_, err = w.Write([]byte("two\n"))
	require.ErrorContains(t, err, "disk full")
	_, err = w.Write([]byte("three\n"))
	require.ErrorContains(t, err, "disk full")
	require.ErrorContains(t, w.Close(), "disk full")
}

// TestPromiseJobLogsNotKeptForever: job logs are temporary by default; the Store applies this
// retention to KindLog objects (see TestPromiseJobLogsAreTemporaryByDefault for the expiry).
func TestPromiseJobLogsNotKeptForever(t *testing.T) {
	require.Equal(t, 30*24*time.Hour, DefaultLogRetention)
}

func BenchmarkJobLogWriter(b *testing.B) {
	r := newTestRedactor(b, jobSecrets...)
	text := []byte(strings.Repeat("step 10/100 loss=2.31 lr=2e-4 tokens/s=1840 grad_norm=0.93\n", 100) + jobLogText())
	w := NewJobLogWriter(discard{}, r)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := w.Write(text); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
