package inference

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/model"
)

// TestBF16CacheMatchesRecompute decodes with bfloat16 products through the KV cache (teacher
// forced on the reference's greedy tokens) and compares every step's logits with a bf16
// recompute of the whole sequence: the two paths must agree to bfloat16 rounding, and both must
// stay near the float32 reference's top logit.
func TestBF16CacheMatchesRecompute(t *testing.T) {
	for _, name := range []string{"llama", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			m, _, err := model.Load(fixtureDir(name), &model.Options{BF16: true})
			require.NoError(t, err)
			defer m.Close()
			adapter, err := m.LoadAdapter(filepath.Join(fixtureDir(name), "lora"))
			require.NoError(t, err)
			for _, tc := range []struct {
				file    string
				adapter *model.Adapter
			}{{"generate.json", nil}, {"generate_lora.json", adapter}} {
				want := readExpected(t, name, tc.file)
				run := newModelRunner(m, 2, 64, 2)
				slot := 0
				if tc.adapter != nil {
					require.NoError(t, run.setAdapter(1, weightsFromModelAdapter(tc.adapter)))
					slot = 1
				}
				seq := append([]int(nil), want.Prompt...)
				row := stepRow{slot: 1, tokens: want.Prompt, adapter: slot}
				for i, tok := range want.Generated {
					logits, err := run.step([]stepRow{row})
					require.NoError(t, err)
					ids := make([]int32, len(seq))
					for k, v := range seq {
						ids[k] = int32(v)
					}
					full, err := m.Logits(context.Background(), ids, tc.adapter)
					require.NoError(t, err)
					require.InDeltaSlice(t, full[len(seq)-1], logits[0], 0.05, "%s step %d", tc.file, i)
					require.InDelta(t, want.MaxLogit[i], logits[0][tok], 0.1, "%s step %d", tc.file, i)
					row = stepRow{slot: 1, pos: len(seq), tokens: []int{tok}, adapter: slot}
					seq = append(seq, tok)
				}
				run.close()
			}
		})
	}
}

// TestBF16EngineGenerates runs the public path with Precision "bfloat16" (greedy, with and
// without the adapter) and checks that a precision it does not know is refused at Load.
func TestBF16EngineGenerates(t *testing.T) {
	e := loadFixture(t, "llama", &Options{Precision: "bfloat16", MaxContext: 64})
	want := readExpected(t, "llama", "generate.json")
	res, err := e.Generate(t.Context(), &Request{PromptIDs: want.Prompt, MaxTokens: 4, IgnoreEOS: true})
	require.NoError(t, err)
	require.Len(t, res.TokenIDs, 4)
	// The first greedy token has a wide margin in the fixture: bfloat16 keeps it.
	require.Equal(t, want.Generated[0], res.TokenIDs[0])

	_, err = Load(t.Context(), fixtureDir("llama"), &Options{Precision: "half"})
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrInvalidRequest), "%v", err)
	require.ErrorContains(t, err, `precision "half": want float32 or bfloat16`)
}
