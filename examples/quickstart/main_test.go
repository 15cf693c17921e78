package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), config{model: "../../testdata/models/llama", epochs: 25, timeout: 5 * time.Minute}, &out)
	require.NoError(t, err, out.String())
	text := out.String()
	t.Log(text)
	for _, want := range []string{"serving on http://127.0.0.1:", "validated", "job: Fine-tuning job started",
		"job: The job has successfully completed", "fine-tuned model ft:llama:default:colours:ftjob-", "done"} {
		require.Contains(t, text, want)
	}
	// The fine-tuned model learned the colours: its answers name the trained colour; the base
	// model's do not.
	ft := regexp.MustCompile(`ft:llama:default:colours:\S+\s+"What colour is a (\w+)\?" -> "(.*)"`).FindAllStringSubmatch(text, -1)
	require.Len(t, ft, 2)
	wantColour := map[string]string{"zorp": "red", "blick": "blue"}
	for _, m := range ft {
		require.Contains(t, m[2], wantColour[m[1]], m[0])
	}
	base := regexp.MustCompile(`llama\s+"What colour is a (\w+)\?" -> "(.*)"`).FindAllStringSubmatch(text, -1)
	for _, m := range base {
		require.False(t, strings.Contains(m[2], wantColour[m[1]]) && strings.HasPrefix(m[2], "A "), "the base model already knew: %s", m[0])
	}
}
