package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMultiLoRA(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), "../../testdata/models/llama", 100, &out), out.String())
	t.Log(out.String())
	lines := regexp.MustCompile(`(colours|sounds|\(base\))\s+"What (?:colour is|does) a (\w+)(?: say)?\?"\s+-> "(.*)"`).FindAllStringSubmatch(out.String(), -1)
	require.Len(t, lines, 6)
	got := map[string]string{}
	for _, l := range lines {
		got[l[1]+"/"+l[2]] = l[3]
	}
	// Each adapter answers from its own training data, in the same batches as the other.
	for key, want := range map[string]string{"colours/zorp": "Red.", "colours/blick": "Blue.", "sounds/zorp": "Moo.", "sounds/blick": "Quack."} {
		require.Equal(t, want, got[key], key)
	}
	require.NotEqual(t, "Red.", got["(base)/zorp"])
}
