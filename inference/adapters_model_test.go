package inference

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/internal/peft"
)

// writeSmallAdapter writes a rank-2 adapter on q_proj and v_proj only (the fixture's own is
// rank 4 on all seven projections) for the llama fixture: hidden 64, q 64, kv 32, 2 layers.
func writeSmallAdapter(t *testing.T) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	a := &peft.Adapter{Config: &peft.Config{PeftType: "LORA", TaskType: "CAUSAL_LM", R: 2, LoraAlpha: 4,
		TargetModules: []string{"q_proj", "v_proj"}, Bias: "none"}}
	for l := range 2 {
		for _, mod := range []struct {
			kind    string
			in, out int
		}{{"q_proj", 64, 64}, {"v_proj", 64, 32}} {
			m := peft.Module{Name: fmt.Sprintf("model.layers.%d.self_attn.%s", l, mod.kind), Layer: l, Kind: mod.kind,
				Rank: 2, In: mod.in, Out: mod.out, A: make([]float32, 2*mod.in), B: make([]float32, mod.out*2), Scale: 2}
			for i := range m.A {
				m.A[i] = float32(rng.NormFloat64() * 0.3)
			}
			for i := range m.B {
				m.B[i] = float32(rng.NormFloat64() * 0.3)
			}
			a.Modules = append(a.Modules, m)
		}
	}
	dir := filepath.Join(t.TempDir(), "small")
	require.NoError(t, peft.Write(dir, a, nil))
	return dir
}

// TestAdaptersOfDifferentRanksAndTargets: two adapters with different ranks and targets, resident
// together, each match a no-cache recompute with that adapter applied directly, and a batch that
// mixes them with the base model gives what each gives alone.
func TestAdaptersOfDifferentRanksAndTargets(t *testing.T) {
	small := writeSmallAdapter(t)
	e := loadFixture(t, "llama", &Options{MaxBatch: 4, MaxContext: 64})
	require.NoError(t, e.LoadAdapter(t.Context(), "small", small))

	m, _, err := model.Load(fixtureDir("llama"), nil)
	require.NoError(t, err)
	defer m.Close()
	ref := map[string]*model.Adapter{"": nil}
	ref["small"], err = m.LoadAdapter(small)
	require.NoError(t, err)
	ref["lora"], err = m.LoadAdapter(filepath.Join(fixtureDir("llama"), "lora"))
	require.NoError(t, err)

	prompt := readExpected(t, "llama", "generate.json").Prompt
	const n = 8
	greedyRef := func(adapter string) []int {
		seq := make([]int32, len(prompt))
		for i, id := range prompt {
			seq[i] = int32(id)
		}
		var out []int
		for range n {
			logits, err := m.Logits(context.Background(), seq, ref[adapter])
			require.NoError(t, err)
			tok := argmax32(logits[len(seq)-1])
			out = append(out, tok)
			seq = append(seq, int32(tok))
		}
		return out
	}
	names := []string{"small", "lora", "", "small"}
	want := map[string][]int{}
	for _, a := range []string{"small", "lora", ""} {
		want[a] = greedyRef(a)
	}
	require.NotEqual(t, want["small"], want[""], "the small adapter changes the output")

	got := make([][]int, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, a := range names {
		wg.Go(func() {
			res, err := e.Generate(context.Background(), &Request{PromptIDs: prompt[i:], Adapter: a, MaxTokens: n, IgnoreEOS: true})
			if err == nil {
				got[i] = res.TokenIDs
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, a := range names {
		require.NoError(t, errs[i])
		if i == 0 {
			require.Equal(t, want[a], got[i], "adapter %q", a)
		}
		alone, err := e.Generate(t.Context(), &Request{PromptIDs: prompt[i:], Adapter: a, MaxTokens: n, IgnoreEOS: true})
		require.NoError(t, err)
		require.Equal(t, alone.TokenIDs, got[i], "request %d, adapter %q", i, a)
	}
	require.Equal(t, want["lora"], mustGenerate(t, e, &Request{PromptIDs: prompt, Adapter: "lora", MaxTokens: n, IgnoreEOS: true}))
	require.Equal(t, want[""], mustGenerate(t, e, &Request{PromptIDs: prompt, MaxTokens: n, IgnoreEOS: true}))
}

func mustGenerate(t *testing.T, e *Engine, r *Request) []int {
	t.Helper()
	res, err := e.Generate(t.Context(), r)
	require.NoError(t, err)
	return res.TokenIDs
}
