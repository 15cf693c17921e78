package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerExample(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), "../../testdata/models/llama", &out), out.String())
	text := out.String()
	t.Log(text)
	for _, want := range []string{
		"model: llama (owned by sectorflow)\n",
		"same as the plain call: true",
		"acme uploaded math.jsonl\n",
		"globex reading acme's file: HTTP 404 file_not_found\n",
		"bad upload: HTTP 400: Invalid fine-tuning file: dataset bad.jsonl: 1 bad line(s); line 2:",
		"metered for acme: 2 requests,",
	} {
		require.Contains(t, text, want)
	}
}
