package inference

import (
	"errors"
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
			checkCacheMatchesRecompute(t, name, &model.Options{BF16: true}, cacheCheck{logitsTol: 0.05, maxLogitTol: 0.1})
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
