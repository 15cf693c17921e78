package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const modelsDir = "../../testdata/models"

func TestLogitsCommandMatchesReference(t *testing.T) {
	tests := []struct {
		name     string
		model    string
		adapter  bool
		expected string
		// precision is the --precision flag; tol the max abs difference from the float32
		// reference (bfloat16: the reference in bf16 is 0.05 off, so at most 0.1).
		precision string
		tol       float64
	}{
		{"llama", "llama", false, "logits.json", "", 1e-4},
		{"qwen3 with adapter", "qwen3", true, "logits_lora.json", "", 1e-4},
		{"llama in bfloat16", "llama", false, "logits.json", "bfloat16", 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(modelsDir, tc.model)
			data, err := os.ReadFile(filepath.Join(dir, "expected", tc.expected))
			require.NoError(t, err)
			var want struct {
				IDs    []int       `json:"ids"`
				Logits [][]float64 `json:"logits"`
			}
			require.NoError(t, json.Unmarshal(data, &want))
			ids := make([]string, len(want.IDs))
			for i, id := range want.IDs {
				ids[i] = strconv.Itoa(id)
			}
			args := []string{"logits", "--model", dir, "--ids", strings.Join(ids, ",")}
			if tc.adapter {
				args = append(args, "--adapter", filepath.Join(dir, "lora"))
			}
			if tc.precision != "" {
				args = append(args, "--precision", tc.precision)
			}
			var out, errb bytes.Buffer
			require.Equal(t, 0, runMain(args, nil, &out, &errb), errb.String())
			var got struct {
				Logits [][]float64 `json:"logits"`
			}
			require.NoError(t, json.Unmarshal(out.Bytes(), &got))
			require.Len(t, got.Logits, len(want.Logits))
			for i := range want.Logits {
				require.Len(t, got.Logits[i], len(want.Logits[i]))
				for j := range want.Logits[i] {
					require.LessOrEqual(t, math.Abs(got.Logits[i][j]-want.Logits[i][j]), tc.tol, "position %d, logit %d", i, j)
				}
			}
		})
	}
}

func TestLogitsCommandErrors(t *testing.T) {
	// An adapter whose config says r=2 while its tensors have rank 4.
	src := filepath.Join(modelsDir, "llama", "lora")
	badRank := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "adapter_config.json"))
	require.NoError(t, err)
	cfg = bytes.Replace(cfg, []byte(`"r": 4`), []byte(`"r": 2`), 1)
	require.NoError(t, os.WriteFile(filepath.Join(badRank, "adapter_config.json"), cfg, 0o644))
	weights, err := os.ReadFile(filepath.Join(src, "adapter_model.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(badRank, "adapter_model.safetensors"), weights, 0o644))

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no flags", []string{"logits"}, 2, "usage: sectorflow logits"},
		{"unknown precision", []string{"logits", "--model", filepath.Join(modelsDir, "llama"), "--precision", "fp8", "--ids", "1"}, 1, `precision "fp8": want float32 or bfloat16`},
		{"bad id", []string{"logits", "--model", filepath.Join(modelsDir, "llama"), "--ids", "1,x"}, 1, `item 2 is "x"`},
		{"id past vocab", []string{"logits", "--model", filepath.Join(modelsDir, "llama"), "--ids", "1,600"}, 1, "want 0 <= id < vocab size 512"},
		{"adapter rank disagrees with its config", []string{"logits", "--model", filepath.Join(modelsDir, "llama"), "--adapter", badRank, "--ids", "1"}, 1, "gives it r=2"},
		{"missing model", []string{"logits", "--model", filepath.Join(modelsDir, "none"), "--ids", "1"}, 1, "load model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, tc.wantCode, runMain(tc.args, nil, &out, &errb))
			require.Contains(t, errb.String(), tc.wantErr)
		})
	}
}
