package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func fixtureDir(name string) string { return filepath.Join("..", "..", "testdata", "models", name) }

type generateJSON struct {
	IDs          []int  `json:"ids"`
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
	Usage        struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

func idsFlag(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ",")
}

func TestGenerateJSONMatchesFixtures(t *testing.T) {
	for _, tc := range []struct{ model, file, adapter string }{
		{"llama", "generate.json", ""},
		{"qwen2", "generate_lora.json", "lora"},
	} {
		t.Run(tc.model+"/"+tc.file, func(t *testing.T) {
			var want struct {
				Prompt    []int `json:"prompt"`
				Generated []int `json:"generated"`
			}
			data, err := os.ReadFile(filepath.Join(fixtureDir(tc.model), "expected", tc.file))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &want))
			args := []string{"generate", "--model", fixtureDir(tc.model), "--ids", idsFlag(want.Prompt),
				"--max-tokens", "16", "--ignore-eos", "--max-context", "64", "--json"}
			if tc.adapter != "" {
				args = append(args, "--adapter", filepath.Join(fixtureDir(tc.model), tc.adapter))
			}
			var out, errb bytes.Buffer
			require.Equal(t, 0, runMain(args, nil, &out, &errb), errb.String())
			var got generateJSON
			require.NoError(t, json.Unmarshal(out.Bytes(), &got))
			require.Equal(t, want.Generated, got.IDs)
			require.Equal(t, "length", got.FinishReason)
			require.Equal(t, len(want.Prompt), got.Usage.PromptTokens)
			require.Equal(t, 16, got.Usage.CompletionTokens)
		})
	}
}

func TestGenerateStreamsText(t *testing.T) {
	base := []string{"generate", "--model", fixtureDir("llama"), "--prompt", "Hello", "--max-tokens", "8", "--ignore-eos", "--max-context", "64"}
	var js, errb bytes.Buffer
	require.Equal(t, 0, runMain(append(base, "--json"), nil, &js, &errb), errb.String())
	var got generateJSON
	require.NoError(t, json.Unmarshal(js.Bytes(), &got))
	var text bytes.Buffer
	require.Equal(t, 0, runMain(base, nil, &text, &errb), errb.String())
	require.Equal(t, got.Text+"\n", text.String())
	require.Len(t, got.IDs, 8)

	// A stop string taken from the middle of that text cuts it there.
	if len(got.Text) > 4 {
		stop := got.Text[2:4]
		var cut bytes.Buffer
		require.Equal(t, 0, runMain(append(base, "--json", "--stop", stop), nil, &cut, &errb), errb.String())
		var c generateJSON
		require.NoError(t, json.Unmarshal(cut.Bytes(), &c))
		require.Equal(t, got.Text[:strings.Index(got.Text, stop)], c.Text)
		require.Equal(t, "stop", c.FinishReason)
	}

	// Logprobs: one entry per token, the token itself among its top alternatives (greedy).
	var lp bytes.Buffer
	require.Equal(t, 0, runMain(append(base, "--json", "--logprobs", "2"), nil, &lp, &errb), errb.String())
	var withLP struct {
		IDs      []int `json:"ids"`
		Logprobs []struct {
			ID      int     `json:"id"`
			Logprob float64 `json:"logprob"`
			Top     []struct {
				ID int `json:"id"`
			} `json:"top"`
		} `json:"logprobs"`
	}
	require.NoError(t, json.Unmarshal(lp.Bytes(), &withLP))
	require.Len(t, withLP.Logprobs, len(withLP.IDs))
	for i, l := range withLP.Logprobs {
		require.Equal(t, withLP.IDs[i], l.ID)
		require.Negative(t, l.Logprob)
		require.Len(t, l.Top, 2)
		require.Equal(t, l.ID, l.Top[0].ID)
	}

	// A seeded sampled run repeats itself.
	sampled := append(base, "--json", "--temperature", "0.8", "--top-k", "40", "--seed", "7")
	var a, b bytes.Buffer
	require.Equal(t, 0, runMain(sampled, nil, &a, &errb), errb.String())
	require.Equal(t, 0, runMain(sampled, nil, &b, &errb), errb.String())
	require.Equal(t, a.String(), b.String())
}

func TestGenerateBadArgs(t *testing.T) {
	m := fixtureDir("llama")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no model", []string{"generate", "--prompt", "x"}, 2, "usage: sectorflow generate"},
		{"prompt and ids", []string{"generate", "--model", m, "--prompt", "x", "--ids", "1"}, 2, "usage"},
		{"neither prompt nor ids", []string{"generate", "--model", m}, 2, "usage"},
		{"bad ids", []string{"generate", "--model", m, "--ids", "1,x"}, 1, `item 2 is "x"`},
		{"top-p zero", []string{"generate", "--model", m, "--prompt", "x", "--top-p", "0"}, 1, "--top-p is 0, want a value in (0, 1]"},
		{"negative temperature", []string{"generate", "--model", m, "--prompt", "x", "--temperature", "-1"}, 1, "temperature = -1"},
		{"prompt too long", []string{"generate", "--model", m, "--prompt", strings.Repeat("hello ", 40), "--max-context", "16"}, 1, "want fewer than the context length 16"},
		{"bad adapter", []string{"generate", "--model", m, "--prompt", "x", "--adapter", filepath.Join(fixtureDir("qwen3"), "lora")}, 1, "invalid adapter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, tt.wantCode, runMain(tt.args, nil, &out, &errb), errb.String())
			require.Contains(t, errb.String(), tt.wantErr)
		})
	}
}

func TestChatSession(t *testing.T) {
	in := strings.NewReader("Hi there\n\n/reset\nHi there\n/exit\nignored\n")
	var out, errb bytes.Buffer
	code := runMain([]string{"chat", "--model", fixtureDir("llama"), "--max-tokens", "6", "--ignore-eos", "--max-context", "128"}, in, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	// Two replies; after /reset the same message gives the same greedy reply.
	require.Len(t, lines, 2, out.String())
	require.Equal(t, lines[0], lines[1])
}
