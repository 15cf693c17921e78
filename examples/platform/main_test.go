package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlatformExample(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), "../../testdata/models/llama", &out), out.String())
	text := out.String()
	t.Log(text)
	require.NotContains(t, text, customerSecret)
	for _, want := range []string{
		"job succeeded: ft:llama:acme::ftjob-",
		"temporary=true, expires in 720h0m0s, contains the secret: false",
		"[REDACTED:",
		"usage: acme training ftjob-",
		"usage: acme inference chatcmpl-",
		"storage writes by kind: [adapter checkpoint file job log]",
		"tenant deleted: HTTP 200, objects left: 0",
	} {
		require.Contains(t, text, want)
	}
	require.Equal(t, 2, strings.Count(text, "usage: "), "exactly one record per job and per request")
}
