package model

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/safetensors"
)

const modelsDir = "../../testdata/models"

type expectedLogits struct {
	IDs    []int32     `json:"ids"`
	Logits [][]float32 `json:"logits"`
}

func readExpected(t *testing.T, dir, name string) expectedLogits {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "expected", name))
	require.NoError(t, err)
	var e expectedLogits
	require.NoError(t, json.Unmarshal(data, &e))
	return e
}

func maxAbsDiff(t *testing.T, want, got [][]float32) float64 {
	t.Helper()
	require.Len(t, got, len(want))
	worst := 0.0
	for i := range want {
		require.Len(t, got[i], len(want[i]))
		for j := range want[i] {
			worst = math.Max(worst, math.Abs(float64(want[i][j]-got[i][j])))
		}
	}
	return worst
}

func TestLogitsMatchReferenceTmp(t *testing.T) {
	for _, name := range []string{"mistral", "qwen2", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(modelsDir, name)
			spec := tmpSpec(t, dir)
			ck, err := safetensors.OpenDir(dir)
			require.NoError(t, err)
			defer ck.Close()
			m, err := New(spec, ck, nil)
			require.NoError(t, err)
			defer m.Close()
			for _, tc := range []struct {
				file    string
				adapter *Adapter
			}{{"logits.json", nil}, {"logits_lora.json", tmpAdapter(t, filepath.Join(dir, "lora"))}} {
				want := readExpected(t, dir, tc.file)
				got, err := m.Logits(context.Background(), want.IDs, tc.adapter)
				require.NoError(t, err)
				d := maxAbsDiff(t, want.Logits, got)
				t.Logf("%s: max abs diff %g", tc.file, d)
				require.Less(t, d, 1e-4)
			}
		})
	}
}
