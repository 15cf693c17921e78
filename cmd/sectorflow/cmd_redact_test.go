package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRedactCommand(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secrets.txt")
	require.NoError(t, os.WriteFile(secretFile, []byte("from-file-secret\r\n\n"), 0o600))
	t.Setenv("SF_TEST_SECRET", "from-env-secret")
	in := strings.Join([]string{
		"login --password hunter2",
		"flag-secret-1 and " + base64.StdEncoding.EncodeToString([]byte("flag-secret-1")),
		"from-file-secret from-env-secret",
		"token ghp_R2d2C3poL7uk3Sky9wAlk3rHanS0lo123456",
		"step 1 loss=2.3",
		"no newline at end flag-secret-1",
	}, "\n")
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"all sources", []string{"redact", "--secret", "flag-secret-1", "--secret-file", secretFile, "--secret-env", "SF_TEST_SECRET"}, in, 0,
			strings.Join([]string{
				"login --password [REDACTED:password]",
				"[REDACTED:secret] and [REDACTED:secret]",
				"[REDACTED:secret] [REDACTED:secret]",
				"token [REDACTED:github-token]",
				"step 1 loss=2.3",
				"no newline at end [REDACTED:secret]",
			}, "\n"), ""},
		{"patterns off", []string{"redact", "--no-patterns", "--secret", "flag-secret-1"}, in,
			0, "", ""},
		{"short secret", []string{"redact", "--secret", "abc"}, "x\n", 1, "", "want at least 4 bytes, found 3"},
		{"unset env", []string{"redact", "--secret-env", "SF_TEST_NOT_SET_ANYWHERE"}, "x\n", 1, "", "SF_TEST_NOT_SET_ANYWHERE: the variable is not set"},
		{"missing file", []string{"redact", "--secret-file", filepath.Join(dir, "nope")}, "x\n", 1, "", "--secret-file"},
		{"positional argument", []string{"redact", "file.log"}, "", 2, "", `unexpected argument "file.log"`},
		{"help", []string{"redact", "-h"}, "", 0, "", "usage: sectorflow redact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(tt.args, strings.NewReader(tt.stdin), &out, &errb)
			require.Equal(t, tt.wantCode, code, "stderr: %s", errb.String())
			if tt.wantOut != "" {
				require.Equal(t, tt.wantOut, out.String())
			}
			if tt.wantErr != "" {
				require.Contains(t, errb.String(), tt.wantErr)
			}
			require.NotContains(t, out.String()+errb.String(), "flag-secret-1")
			if tt.name == "patterns off" {
				require.Contains(t, out.String(), "--password hunter2", "patterns off leaves pattern matches")
				require.Contains(t, out.String(), "ghp_R2d2C3poL7uk3Sky9wAlk3rHanS0lo123456")
			}
		})
	}
}

func TestRedactCommandNilStdin(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, runMain([]string{"redact"}, nil, &out, &errb), errb.String())
	require.Empty(t, out.String())
}

// TestRedactCommandStreams: each line is written as soon as it is complete, before the input ends.
func TestRedactCommandStreams(t *testing.T) {
	pr, pw := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var errb bytes.Buffer
		done <- runMain([]string{"redact", "--secret", "stream-secret"}, pr, outW, &errb)
		outW.Close()
	}()
	_, err := pw.Write([]byte("first stream-secret line\nsecond "))
	require.NoError(t, err)
	buf := make([]byte, 64)
	got := make(chan string, 1)
	go func() {
		n, _ := outR.Read(buf)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		require.Equal(t, "first [REDACTED:secret] line\n", s)
	case <-time.After(10 * time.Second):
		t.Fatal("the first line was not written before the input ended")
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	require.NoError(t, pw.Close())
	require.Equal(t, 0, <-done)
}
