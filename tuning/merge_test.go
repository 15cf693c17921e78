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
