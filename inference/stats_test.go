package inference

import (
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
