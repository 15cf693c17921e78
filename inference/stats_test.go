package inference

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStatsCountPrograms: the first request compiles its prefill and decode programs; the same
// request again compiles nothing new; a longer prompt needs a new prefill bucket.
func TestStatsCountPrograms(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxContext: 64})
	require.Zero(t, e.Stats().Programs)
	req := func(n int) *Request {
		p := make([]int, n)
		for i := range p {
			p[i] = 1 + i
		}
		return &Request{PromptIDs: p, MaxTokens: 3, IgnoreEOS: true}
	}
	_, err := e.Generate(t.Context(), req(5))
	require.NoError(t, err)
	st := e.Stats()
	require.Equal(t, 2, st.Programs) // prefill T=16 and decode, one cache row
	require.Positive(t, st.FirstRuns)
	_, err = e.Generate(t.Context(), req(7))
	require.NoError(t, err)
	require.Equal(t, 2, e.Stats().Programs)
	_, err = e.Generate(t.Context(), req(20))
	require.NoError(t, err)
	require.Equal(t, 3, e.Stats().Programs) // prefill T=32
}

// TestWideBatchSamplesInParallel: a step with at least parallelPicks rows samples them on
// several goroutines; every request, greedy or seeded sampling with penalties, must still get
// exactly what it gets alone.
func TestWideBatchSamplesInParallel(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxBatch: 16, MaxContext: 64})
	prompt := readExpected(t, "llama", "generate.json").Prompt
	const n = 12
	require.GreaterOrEqual(t, n, parallelPicks)
	reqs := make([]*Request, n)
	for i := range reqs {
		seed := int64(100 + i)
		r := &Request{PromptIDs: prompt[i%4 : 5+i%6], MaxTokens: 10, IgnoreEOS: true}
		switch i % 3 {
		case 1:
			r.Sampling = Sampling{Temperature: 1.1, TopP: 0.9, Seed: &seed}
		case 2:
			r.Sampling = Sampling{Temperature: 0.8, RepetitionPenalty: 1.3, PresencePenalty: 0.5, Seed: &seed}
			r.Logprobs = true
			r.TopLogprobs = 2
		}
		reqs[i] = r
	}
	got := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() { got[i], errs[i] = e.Generate(t.Context(), r) })
	}
	wg.Wait()
	for i, r := range reqs {
		require.NoError(t, errs[i])
		alone, err := e.Generate(t.Context(), r)
		require.NoError(t, err)
		require.Equal(t, alone.TokenIDs, got[i].TokenIDs, "request %d", i)
		require.Equal(t, alone.Logprobs, got[i].Logprobs, "request %d", i)
	}
}
