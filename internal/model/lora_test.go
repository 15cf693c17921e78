package model

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestGatherLoRAServesAdaptersPerRow runs one batch whose rows use adapter slot 0 (empty), the
// fixture adapter, and the fixture adapter padded to a larger rank in another slot, and compares
// each row with the reference logits with and without the adapter.
func TestGatherLoRAServesAdaptersPerRow(t *testing.T) {
	dir := filepath.Join(modelsDir, "qwen2")
	m := loadModel(t, "qwen2")
	s := m.Spec
	adapter, err := m.LoadAdapter(filepath.Join(dir, "lora"))
	require.NoError(t, err)
	base := readExpected(t, dir, "logits.json")
	lora := readExpected(t, dir, "logits_lora.json")
	require.Equal(t, base.IDs, lora.IDs)

	// Three slots: 0 empty, 1 the adapter at its rank, 2 the adapter padded to rank R.
	const N = 3
	R := adapter.Modules[0].Rank + 2
	var stackArgs []any
	index := map[string]int{}
	for i, mod := range adapter.Modules {
		in, out, err := s.ModuleDims(mod.Module)
		require.NoError(t, err)
		A := make([]float32, N*R*in)
		B := make([]float32, N*out*R)
		for slot := 1; slot < N; slot++ {
			for r := range mod.Rank {
				copy(A[(slot*R+r)*in:(slot*R+r+1)*in], mod.A[r*in:(r+1)*in])
				for o := range out {
					B[(slot*out+o)*R+r] = mod.B[o*mod.Rank+r]
				}
			}
		}
		index[fmt.Sprintf("%d/%s", mod.Layer, mod.Module)] = i
		stackArgs = append(stackArgs,
			tensors.FromFlatDataAndDimensions(A, N, R, in),
			tensors.FromFlatDataAndDimensions(B, N, out, R),
			tensors.FromFlatDataAndDimensions([]float32{0, mod.Scale, mod.Scale}, N))
	}

	rows := []int32{1, 0, 2}
	T := len(base.IDs)
	var ids, pos []int32
	var mask []bool
	for range rows {
		ids = append(ids, base.IDs...)
		pos = append(pos, seq(0, T)...)
		for q := range T {
			for k := range T {
				mask = append(mask, k <= q)
			}
		}
	}
	B := len(rows)
	args := []any{
		tensors.FromFlatDataAndDimensions(ids, B, T),
		tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(mask, B, T, T),
		tensors.FromFlatDataAndDimensions(rows, B),
	}
	nw := len(m.weights)
	for _, w := range m.weights {
		args = append(args, w)
	}
	args = append(args, stackArgs...)
	exec, err := graph.NewExec(m.backend, func(in []*graph.Node) *graph.Node {
		w := s.WeightsFromNodes(in[4 : 4+nw])
		st := in[4+nw:]
		hook := GatherLoRA(func(layer int, module string) *LoRAStack {
			i, ok := index[fmt.Sprintf("%d/%s", layer, module)]
			if !ok {
				return nil
			}
			return &LoRAStack{A: st[3*i], B: st[3*i+1], Scale: st[3*i+2]}
		}, in[3])
		out := s.Forward(w, Inputs{IDs: in[0], Positions: in[1], Mask: in[2], LoRA: hook})
		return s.LMHead(w, out.Hidden)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Exec(args...)
	require.NoError(t, err)
	flat := tensors.MustCopyFlatData[float32](outs[0])
	V := s.VocabSize
	for b, slot := range rows {
		got := make([][]float32, T)
		for tt := range T {
			off := (b*T + tt) * V
			got[tt] = flat[off : off+V]
		}
		want := base.Logits
		if slot != 0 {
			want = lora.Logits
		}
		require.Less(t, maxAbsDiff(t, want, got), 1e-4, "row %d (slot %d)", b, slot)
	}
}
