package tuning

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAdamWOneStepByHand(t *testing.T) {
	// lr 0.1, wd 0.01, betas (0.9, 0.999), eps 1e-8, step 1. By hand:
	// p=1, g=0.5:     p*(1-0.001)=0.999; m=0.05; v=0.00025; denom=sqrt(v)/sqrt(0.001)+eps=0.50000001
	//                 p = 0.999 - (0.1/0.1)*0.05/0.50000001 = 0.8990000020
	// p=-2, g=-0.001: p=-1.998; m=-1e-4; v=1e-9; denom=0.001+1e-8=0.00100001
	//                 p = -1.998 + 1e-4/0.00100001 = -1.8980009999900
	p := []float32{1, -2}
	g := []float32{0.5, -0.001}
	st := &adamState{M: make([]float32, 2), V: make([]float32, 2)}
	adamWStep(adamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}, 0.1, 1, p, g, st)
	require.InDelta(t, 0.8990000020, float64(p[0]), 1e-6)
	require.InDelta(t, -1.8980009999900, float64(p[1]), 1e-6)
	require.InDelta(t, 0.05, float64(st.M[0]), 1e-9)
	require.InDelta(t, 0.00025, float64(st.V[0]), 1e-10)
	// Step 2 with g=0.5 again on element 0: m=0.095, v=0.00049975, bc1=0.19, bc2=0.001999
	// p = 0.899000002*0.999 - (0.1/0.19)*0.095/(sqrt(0.00049975)/sqrt(0.001999)+1e-8)
	want := 0.899000002*0.999 - (0.1/0.19)*0.095/(math.Sqrt(0.00049975)/math.Sqrt(0.001999)+1e-8)
	adamWStep(adamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}, 0.1, 2, p, g, st)
	require.InDelta(t, want, float64(p[0]), 1e-6)
}

func TestClipGlobalNorm(t *testing.T) {
	tests := []struct {
		name     string
		max      float64
		wantNorm float64
		want     [][]float32
	}{
		{"clipped", 1, 5, [][]float32{{0.6 * 5 / 5.000001}, {0.8 * 5 / 5.000001}}},
		{"under the limit", 10, 5, [][]float32{{3}, {4}}},
		{"disabled", 0, 5, [][]float32{{3}, {4}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := [][]float32{{3}, {4}}
			require.InDelta(t, tc.wantNorm, clipGlobalNorm(g, tc.max), 1e-12)
			require.InDeltaSlice(t, tc.want[0], g[0], 1e-6)
			require.InDeltaSlice(t, tc.want[1], g[1], 1e-6)
		})
	}
}

func TestLRFactor(t *testing.T) {
	tests := []struct {
		s                   Schedule
		step, warmup, total int
		want                float64
	}{
		{ScheduleConstant, 0, 2, 10, 0},
		{ScheduleConstant, 1, 2, 10, 0.5},
		{ScheduleConstant, 5, 2, 10, 1},
		{ScheduleLinear, 2, 2, 10, 1},
		{ScheduleLinear, 6, 2, 10, 0.5},
		{ScheduleLinear, 10, 2, 10, 0},
		{ScheduleCosine, 2, 2, 10, 1},
		{ScheduleCosine, 6, 2, 10, 0.5},
		{ScheduleCosine, 4, 2, 10, 0.5 * (1 + math.Cos(math.Pi/4))},
		{ScheduleCosine, 10, 2, 10, 0},
		{ScheduleLinear, 0, 0, 4, 1},
	}
	for _, tc := range tests {
		got, err := lrFactor(tc.s, tc.step, tc.warmup, tc.total)
		require.NoError(t, err)
		require.InDelta(t, tc.want, got, 1e-12, "%s step %d", tc.s, tc.step)
	}
	_, err := lrFactor("exponential", 5, 0, 10)
	require.ErrorContains(t, err, `expected constant, linear or cosine, found "exponential"`)
}
