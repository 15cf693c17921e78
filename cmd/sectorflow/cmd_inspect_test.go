package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		model string
		want  []string
	}{
		{"llama", []string{
			"architecture:      LlamaForCausalLM",
			"parameters:        151872 (151.9K)", // 2*512*64 + 2*(2*64 + 2*64*64 + 2*32*64 + 3*64*160) + 64
			"layers:            2",
			"heads:             4",
			"kv heads:          2",
			"head dim:          16",
			"vocab:             512",
			"context length:    131072",
			"rope:              theta 500000, llama3 (factor 8, low 1, high 4, original context 8192)",
			"LoRA r=4 alpha=8",
		}},
		{"llama_bf16", []string{"dtype:             bfloat16 (stored BF16)"}},
		{"qwen3", []string{"architecture:      Qwen3ForCausalLM", "head dim:          32", "tied embeddings:   true"}},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, 0, runMain([]string{"inspect", filepath.Join(modelsDir, tc.model)}, nil, &out, &errb), errb.String())
			for _, w := range tc.want {
				require.Contains(t, out.String(), w)
			}
		})
	}
}

func TestInspectJSON(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, runMain([]string{"inspect", "--json", filepath.Join(modelsDir, "qwen2")}, nil, &out, &errb), errb.String())
	var rep struct {
		Architecture string `json:"architecture"`
		Parameters   int64  `json:"parameters"`
		KVHeads      int    `json:"kv_heads"`
		Adapter      *struct {
			Rank int `json:"r"`
		} `json:"adapter"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, "Qwen2ForCausalLM", rep.Architecture)
	require.Equal(t, 2, rep.KVHeads)
	require.NotNil(t, rep.Adapter)
	require.Equal(t, 4, rep.Adapter.Rank)
	// tied: 512*64 + 2*(2*64 + 64*64+64 + 2*(32*64+32) + 64*64 + 3*64*160) + 64
	require.Equal(t, int64(32768+2*(128+4160+2*2080+4096+30720)+64), rep.Parameters)
}

// modelWithConfig copies the llama fixture's weights under a new config.json.
func modelWithConfig(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	src := filepath.Join(modelsDir, "llama")
	data, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	edit(cfg)
	dir := t.TempDir()
	data, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
	weights, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o644))
	return dir
}

func TestInspectErrors(t *testing.T) {
	unknownArch := modelWithConfig(t, func(c map[string]any) { c["architectures"] = []string{"GPTNeoXForCausalLM"} })
	yarn := modelWithConfig(t, func(c map[string]any) {
		c["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4.0}
	})
	wrongShape := modelWithConfig(t, func(c map[string]any) { c["intermediate_size"] = 128 })
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no dir", []string{"inspect"}, 2, "usage: sectorflow inspect"},
		{"not a model", []string{"inspect", "../../testdata"}, 1, "config"},
		{"unknown architecture", []string{"inspect", unknownArch}, 1, "GPTNeoXForCausalLM"},
		{"unsupported rope type", []string{"inspect", yarn}, 1, "yarn"},
		{"weights disagree with config", []string{"inspect", wrongShape}, 1, "layer 0: mlp.gate_proj.weight has shape [160 64], want [128 64]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, tc.wantCode, runMain(tc.args, nil, &out, &errb))
			require.Contains(t, errb.String(), tc.wantErr)
		})
	}
}
