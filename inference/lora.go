package inference

import (
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/sectorflow/sdk/internal/model"
)

// loraStackNodes are one projection's adapters as graph nodes: A [N*R, in] (adapter n's A in
// rows n*R..n*R+r-1), B^T [out, N*R] (its B in the matching columns) and scale [N]; ranks below
// R are zero-padded.
type loraStackNodes struct {
	a, bt, scale *graph.Node
}

// maskedLoRA returns a LoRA hook that applies, to each batch row, the adapter selected by sel
// [B, N] (a one-hot row, all zeros for no adapter). It runs every resident adapter's A on every
// row, zeroes the products of the adapters a row did not select (weighting the selected one by
// its scale), and contracts with all the B matrices at once:
//
//	delta_b = sum_n sel[b,n] * scale[n] * (x_b A_n^T) B_n^T
//
// Two dense matmuls per projection, with no gather: on the pure-Go backend, gathering each row's
// A and B (Punica's per-row gather) cost more than the base model's matmuls at batch 8, while
// these products add N*R columns to the input's width, a few percent for typical N and R.
func maskedLoRA(stacks map[loraKey]loraStackNodes, sel *graph.Node, rank int) model.LoRAFunc {
	B, N := sel.Shape().Dimensions[0], sel.Shape().Dimensions[1]
	return func(layer int, module string, x *graph.Node) *graph.Node {
		st, ok := stacks[loraKey{layer, module}]
		if !ok {
			return nil
		}
		T := x.Shape().Dimensions[1]
		xa := graph.DotGeneral(x, []int{2}, nil, st.a, []int{1}, nil) // [B, T, N*R]
		w := graph.Mul(sel, graph.Reshape(st.scale, 1, N))            // [B, N]
		xa = graph.Mul(graph.Reshape(xa, B, T, N, rank), graph.Reshape(w, B, 1, N, 1))
		xa = graph.Reshape(xa, B, T, N*rank)
		return graph.DotGeneral(xa, []int{2}, nil, st.bt, []int{1}, nil) // [B, T, out]
	}
}
