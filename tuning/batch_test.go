package tuning

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleOf(ids []int32, targets ...int) Sample {
	s := Sample{IDs: ids, Targets: make([]bool, len(ids))}
	for _, t := range targets {
		s.Targets[t] = true
	}
	return s
}

func TestBuildBatchPacked(t *testing.T) {
	samples := []Sample{
		sampleOf([]int32{10, 11, 12}, 2),
		sampleOf([]int32{20, 21}, 1),
	}
	b := buildBatch(samples, batchPlan{{0, 1}}, 64, 0)
	require.Equal(t, 1, b.Rows)
	require.Equal(t, 16, b.Len)
	require.Equal(t, []int32{10, 11, 12, 20, 21}, b.IDs[:5])
	require.Equal(t, []int32{0, 1, 2, 0, 1, 0}, b.Positions[:6])
	require.Equal(t, []int32{1, 1, 1, 2, 2, 0}, b.Segments[:6])
	require.Equal(t, []int32{-1, 12, -1, 21, -1, -1}, b.Labels[:6])
	require.Equal(t, 2, b.TargetTokens)
	require.Equal(t, 2, b.Samples)
	// The second sample sees only itself; padding sees only itself.
	require.True(t, b.Allowed(0, 4, 3))
	require.False(t, b.Allowed(0, 3, 2), "packed samples must not see each other")
	require.False(t, b.Allowed(0, 1, 2), "causal")
	require.True(t, b.Allowed(0, 7, 7))
	require.False(t, b.Allowed(0, 7, 0))
}

func TestBuildBatchPadsRows(t *testing.T) {
	b := buildBatch([]Sample{sampleOf([]int32{1, 2}, 1)}, batchPlan{{0}}, 64, 3)
	require.Equal(t, 3, b.Rows)
	require.Len(t, b.IDs, 3*16)
	for i := 16; i < 48; i++ {
		require.Zero(t, b.Segments[i])
		require.Equal(t, int32(-1), b.Labels[i])
	}
	require.Equal(t, 1, b.TargetTokens)
}

func TestPlanEpoch(t *testing.T) {
	lengths := []int{5, 60, 7, 30, 8, 31, 6, 59, 9, 10}
	t.Run("bucketed covers every sample once and is deterministic", func(t *testing.T) {
		plans := planEpoch(lengths, 2, false, 64, 7, 0)
		require.Equal(t, plans, planEpoch(lengths, 2, false, 64, 7, 0))
		var seen []int
		for _, p := range plans {
			require.LessOrEqual(t, len(p), 2)
			for _, row := range p {
				require.Len(t, row, 1)
				seen = append(seen, row[0])
			}
		}
		slices.Sort(seen)
		require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, seen)
		require.NotEqual(t, plans, planEpoch(lengths, 2, false, 64, 7, 1), "each epoch reshuffles")
	})
	t.Run("packed rows fit", func(t *testing.T) {
		plans := planEpoch(lengths, 2, true, 64, 7, 0)
		var seen []int
		for _, p := range plans {
			for _, row := range p {
				n := 0
				for _, i := range row {
					n += lengths[i]
					seen = append(seen, i)
				}
				require.LessOrEqual(t, n, 64)
			}
		}
		slices.Sort(seen)
		require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, seen)
	})
}

func TestBucketLen(t *testing.T) {
	for _, tc := range [][3]int{{1, 512, 16}, {16, 512, 16}, {17, 512, 32}, {300, 512, 512}, {300, 400, 400}} {
		require.Equal(t, tc[2], bucketLen(tc[0], tc[1]), "%v", tc)
	}
}
