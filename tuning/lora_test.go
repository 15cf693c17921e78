package tuning

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewLoRASetPEFTInit(t *testing.T) {
	d := dims{Layers: 2, Hidden: 64, Intermediate: 160, Heads: 4, KVHeads: 2, HeadDim: 16}
	s, err := newLoRASet(d, []string{"all-linear"}, 4, 8, false, 42)
	require.NoError(t, err)
	require.Len(t, s.Modules, 14)
	require.Equal(t, 2.0, s.Scale())
	want := map[string][2]int{"q_proj": {64, 64}, "k_proj": {64, 32}, "v_proj": {64, 32}, "o_proj": {64, 64},
		"gate_proj": {64, 160}, "up_proj": {64, 160}, "down_proj": {160, 64}}
	require.Equal(t, "model.layers.0.self_attn.q_proj", s.Modules[0].Name)
	require.Equal(t, "model.layers.1.mlp.down_proj", s.Modules[13].Name)
	for _, m := range s.Modules {
		require.Equal(t, want[m.Target], [2]int{m.In, m.Out}, m.Name)
		require.Len(t, m.A, 4*m.In)
		require.Len(t, m.B, m.Out*4)
		bound := 1 / math.Sqrt(float64(m.In))
		maxAbs := 0.0
		for _, a := range m.A {
			require.LessOrEqual(t, math.Abs(float64(a)), bound)
			maxAbs = math.Max(maxAbs, math.Abs(float64(a)))
		}
		require.Greater(t, maxAbs, 0.9*bound, "A should fill its uniform range")
		for _, b := range m.B {
			require.Zero(t, b)
		}
	}
	again, err := newLoRASet(d, []string{"all-linear"}, 4, 8, false, 42)
	require.NoError(t, err)
	require.Equal(t, s.Modules[3].A, again.Modules[3].A, "same seed, same init")
	other, err := newLoRASet(d, []string{"all-linear"}, 4, 8, false, 43)
	require.NoError(t, err)
	require.NotEqual(t, s.Modules[3].A, other.Modules[3].A)
	rs, err := newLoRASet(d, []string{"q_proj"}, 4, 8, true, 1)
	require.NoError(t, err)
	require.Equal(t, 4.0, rs.Scale())
}

func TestNewLoRASetErrors(t *testing.T) {
	d := dims{Layers: 1, Hidden: 8, Intermediate: 16, Heads: 2, KVHeads: 1, HeadDim: 4}
	tests := []struct {
		name    string
		targets []string
		rank    int
		alpha   float64
		msg     string
	}{
		{"rank zero", nil, 0, 8, "rank: expected a positive integer, found 0"},
		{"rank negative", nil, -2, 8, "found -2"},
		{"alpha zero", nil, 4, 0, "alpha: expected a positive number"},
		{"unknown target", []string{"q_proj", "c_attn"}, 4, 8, `target module "c_attn": the model has no such projection`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newLoRASet(d, tc.targets, tc.rank, tc.alpha, false, 1)
			require.ErrorIs(t, err, ErrBadOption)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}
