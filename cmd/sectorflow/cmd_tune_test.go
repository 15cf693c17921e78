package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeDataset(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "train.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

const tinyDataset = `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
{"prompt": "2+2=", "completion": "4"}
`

func TestTuneThenMerge(t *testing.T) {
	model := "../../testdata/models/llama"
	data := writeDataset(t, tinyDataset)
	out := t.TempDir()
	args := []string{"tune", "--model", model, "--data", data, "--validation", data, "--out", out,
		"--max-steps", "2", "--rank", "2", "--batch-size", "1", "--targets", "q_proj,v_proj,down_proj", "--checkpoint-every", "1"}
	var stdout, stderr bytes.Buffer
	code := runMain(args, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "adapter written to "+out+": 2 steps")
	require.Contains(t, stdout.String(), "eval loss")
	require.Contains(t, stderr.String(), "step 1/2 epoch 0 loss ")
	require.Contains(t, stderr.String(), "step 2 checkpoint ")
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "checkpoints/step-000001/trainer_state.json"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}

	// Resuming a finished run with the same flags is a no-op that keeps the result.
	stdout.Reset()
	stderr.Reset()
	code = runMain(append(args, "--resume"), nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "2 steps")

	merged := t.TempDir()
	stdout.Reset()
	stderr.Reset()
	code = runMain([]string{"merge", "--model", model, "--adapter", out, "--out", merged}, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "merged checkpoint written to "+merged)
	_, err := os.Stat(filepath.Join(merged, "model.safetensors"))
	require.NoError(t, err)
}

func TestTuneErrors(t *testing.T) {
	model := "../../testdata/models/llama"
	good := writeDataset(t, tinyDataset)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing flags", []string{"--model", model}, 2, "usage: sectorflow tune"},
		{"rank zero", []string{"--model", model, "--data", good, "--out", t.TempDir(), "--rank", "0"}, 1, "--rank: expected a positive integer, found 0"},
		{"bad line", []string{"--model", model, "--data", writeDataset(t, "{\"messages\": []}\n"), "--out", t.TempDir()}, 1, "line 1: empty conversation"},
		{"unknown target", []string{"--model", model, "--data", good, "--out", t.TempDir(), "--targets", "wq"}, 1, `target module "wq"`},
		{"no targets in data", []string{"--model", model, "--data", good, "--out", t.TempDir(), "--max-seq-len", "3", "--truncate"}, 1, "found none"},
		{"no model", []string{"--model", t.TempDir(), "--data", good, "--out", t.TempDir()}, 1, "config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(append([]string{"tune"}, tc.args...), nil, &stdout, &stderr)
			require.Equal(t, tc.code, code)
			require.Contains(t, stderr.String(), tc.msg)
		})
	}
}

func TestMergeUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, runMain([]string{"merge", "--model", "x"}, nil, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: sectorflow merge")
	stderr.Reset()
	require.Equal(t, 1, runMain([]string{"merge", "--model", "../../testdata/models/qwen3", "--adapter", "../../testdata/models/llama/lora", "--out", t.TempDir()}, nil, &stdout, &stderr))
	require.Contains(t, stderr.String(), "does not fit model")
}

func TestTuneValidateOnly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runMain([]string{"tune", "--model", "../../testdata/models/llama", "--data", writeDataset(t, tinyDataset), "--validate"}, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	var report map[string]map[string]int
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report))
	require.Equal(t, 2, report["train"]["examples"])
	require.Equal(t, 0, report["train"]["truncated"])

	stdout.Reset()
	stderr.Reset()
	code = runMain([]string{"tune", "--model", "../../testdata/models/llama", "--data", writeDataset(t, "{}\n"+tinyDataset+"[1]\n"), "--validate"}, nil, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "2 bad line(s); line 1: ")
	require.Contains(t, stderr.String(), "line 4: expected a JSON object, found an array")
}
