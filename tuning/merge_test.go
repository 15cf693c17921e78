package tuning

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// TestMergeMatchesReference merges each fixture's PEFT adapter and checks the merged checkpoint
// keeps the base's tensor names and dtypes and gives the reference's base+adapter logits.
func TestMergeMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		tol  float64
	}{
		{"llama", 1e-4},
		{"qwen2", 1e-4},
		{"qwen3", 1e-4},
		{"mistral", 1e-4},
		// Merged weights are rounded to bf16 once more, as transformers' merge_and_unload does.
		{"llama_bf16", 5e-2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(fixtureDir, tc.name)
			out := t.TempDir()
			require.NoError(t, Merge(context.Background(), dir, filepath.Join(dir, "lora"), out))

			base, err := safetensors.OpenDir(dir)
			require.NoError(t, err)
			defer base.Close()
			got, err := safetensors.OpenDir(out)
			require.NoError(t, err)
			defer got.Close()
			require.Equal(t, base.Names(), got.Names())
			changed := 0
			for _, n := range base.Names() {
				bi, _ := base.Info(n)
				gi, _ := got.Info(n)
				require.Equal(t, bi.DType, gi.DType, n)
				require.Equal(t, bi.Shape, gi.Shape, n)
				bb, err := base.Bytes(n)
				require.NoError(t, err)
				gb, err := got.Bytes(n)
				require.NoError(t, err)
				if string(bb) != string(gb) {
					changed++
				}
			}
			require.Equal(t, 14, changed, "the seven projections of both layers change, nothing else")
			_, err = os.Stat(filepath.Join(out, "tokenizer.json"))
			require.NoError(t, err)

			m, _, err := model.Load(out, nil)
			require.NoError(t, err)
			defer m.Close()
			var ref struct {
				IDs    []int32     `json:"ids"`
				Logits [][]float64 `json:"logits"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "expected", "logits_lora.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &ref))
			logits, err := m.Logits(context.Background(), ref.IDs, nil)
			require.NoError(t, err)
			worst := 0.0
			for i := range ref.Logits {
				for j := range ref.Logits[i] {
					worst = math.Max(worst, math.Abs(float64(logits[i][j])-ref.Logits[i][j]))
				}
			}
			require.Less(t, worst, tc.tol)
		})
	}
}

func TestMergeErrors(t *testing.T) {
	llama := filepath.Join(fixtureDir, "llama")
	tests := []struct {
		name, model, adapter, out, msg string
	}{
		{"adapter of another shape", filepath.Join(fixtureDir, "qwen3"), filepath.Join(llama, "lora"), "", "does not fit model"},
		{"no adapter", llama, t.TempDir(), "", "load adapter"},
		{"output is the model", llama, filepath.Join(llama, "lora"), llama, "is the model directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == "" {
				out = t.TempDir()
			}
			err := Merge(context.Background(), tc.model, tc.adapter, out)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// TestMergeSharded: a sharded base keeps its shard layout and index, and the merged model gives
// the reference's base+adapter logits.
func TestMergeSharded(t *testing.T) {
	src := filepath.Join(fixtureDir, "llama")
	base := t.TempDir()
	ck, err := safetensors.OpenDir(src)
	require.NoError(t, err)
	names := ck.Names()
	shards := map[string][]safetensors.Tensor{}
	weightMap := map[string]string{}
	for i, n := range names {
		shard := "model-00001-of-00002.safetensors"
		if i%2 == 1 {
			shard = "model-00002-of-00002.safetensors"
		}
		info, _ := ck.Info(n)
		data, err := ck.Bytes(n)
		require.NoError(t, err)
		shards[shard] = append(shards[shard], safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: data})
		weightMap[n] = shard
	}
	ck.Close()
	for shard, ts := range shards {
		require.NoError(t, safetensors.WriteFile(filepath.Join(base, shard), ts, map[string]string{"format": "pt"}))
	}
	index, err := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(base, "model.safetensors.index.json"), index, 0o644))
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(base, f), data, 0o644))
	}

	out := t.TempDir()
	require.NoError(t, Merge(context.Background(), base, filepath.Join(src, "lora"), out))
	for _, f := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	_, err = os.Stat(filepath.Join(out, "model.safetensors"))
	require.True(t, os.IsNotExist(err), "no single-file checkpoint beside the shards")

	m, _, err := model.Load(out, nil)
	require.NoError(t, err)
	defer m.Close()
	var ref struct {
		IDs    []int32     `json:"ids"`
		Logits [][]float64 `json:"logits"`
	}
	data, err := os.ReadFile(filepath.Join(src, "expected", "logits_lora.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &ref))
	logits, err := m.Logits(context.Background(), ref.IDs, nil)
	require.NoError(t, err)
	for i := range ref.Logits {
		for j := range ref.Logits[i] {
			require.InDelta(t, ref.Logits[i][j], float64(logits[i][j]), 1e-4)
		}
	}
}
