package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The qwen3 tiny model's prompt and ids come from Hugging Face (testdata/models/qwen3/expected).
const (
	tinyPrompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
	tinyIDs    = "[506,450,10,382,306,258,342,287,341,63,507,10,506,391,10]"
)

func tinyTokenizer(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", "testdata", "models", "qwen3")
}

func TestTokenizeCommand(t *testing.T) {
	dir := tinyTokenizer(t)
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
		code  int
	}{
		{"text flag", []string{"tokenize", "--tokenizer", dir, "--text", tinyPrompt}, "", `{"ids":` + tinyIDs + "}\n", 0},
		{"stdin", []string{"tokenize", "--tokenizer", dir, "--special"}, tinyPrompt, `{"ids":` + tinyIDs + "}\n", 0},
		{"empty text", []string{"tokenize", "--tokenizer", dir, "--text", ""}, "", `{"ids":[]}` + "\n", 0},
		{"jsonl", []string{"tokenize", "--tokenizer", dir, "--jsonl"},
			`{"text": "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"}` + "\n\n" + `{"text": ""}` + "\n",
			`{"ids":` + tinyIDs + `,"decoded":"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"}` + "\n" + `{"ids":[],"decoded":""}` + "\n", 0},
		{"offsets", []string{"tokenize", "--tokenizer", dir, "--offsets", "--text", "<|im_end|>\n"}, "", `{"ids":[507,10],"offsets":[[0,10],[10,11]]}` + "\n", 0},
		{"missing tokenizer", []string{"tokenize", "--text", "x"}, "", "", 2},
		{"bad jsonl", []string{"tokenize", "--tokenizer", dir, "--jsonl"}, "not json\n", "", 1},
		{"no such dir", []string{"tokenize", "--tokenizer", filepath.Join(t.TempDir(), "none"), "--text", "x"}, "", "", 1},
		{"detokenize", []string{"detokenize", "--tokenizer", dir, "--ids", strings.Trim(tinyIDs, "[]")}, "", `{"text":"` + strings.ReplaceAll(tinyPrompt, "\n", `\n`) + `"}` + "\n", 0},
		{"detokenize skip", []string{"detokenize", "--tokenizer", dir, "--skip-special", "--ids", "507,10"}, "", `{"text":"\n"}` + "\n", 0},
		{"detokenize bad id", []string{"detokenize", "--tokenizer", dir, "--ids", "1,x"}, "", "", 1},
		{"detokenize unknown id", []string{"detokenize", "--tokenizer", dir, "--ids", "99999"}, "", "", 1},
		{"detokenize missing ids", []string{"detokenize", "--tokenizer", dir}, "", "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(tc.args, strings.NewReader(tc.stdin), &out, &errb)
			require.Equal(t, tc.code, code, "stderr: %s", errb.String())
			if tc.code == 0 {
				require.Equal(t, tc.want, out.String())
			} else if tc.code == 1 {
				require.NotEmpty(t, errb.String())
			}
		})
	}
}
