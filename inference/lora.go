package inference

import (
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/sectorflow/sdk/internal/model"
)

// loraStackNodes are one projection's resident adapters as graph nodes: A [N*R, in] (adapter
// n's A in rows n*R..n*R+r-1) and B^T [out, N*R] (its B times its scale in the matching
// columns); ranks below R are zero-padded.
type loraStackNodes struct {
	a, bt *graph.Node
}

// maskedLoRA returns a LoRA hook that applies, to each batch row, the adapter its selection row
// picks: sel [B, N*R] holds ones over the R columns of the row's adapter (all zeros for none).
// It runs every resident adapter's A on every row, zeroes the products of the adapters the row
// did not select, and contracts with all the (scaled) B matrices at once:
//
//	delta_b = sum_n [n selected by b] * (x_b A_n^T) (scale_n B_n)^T
//
// Three ops per projection (two dense matmuls and a mask), with no gather: on the pure-Go
// backend, gathering each row's A and B (Punica's per-row gather) doubled the decode time at
// batch 8, while these products only add N*R columns to the projection's input width.
func maskedLoRA(stacks map[loraKey]loraStackNodes, sel *graph.Node, T int) model.LoRAFunc {
	dims := sel.Shape().Dimensions
	mask := graph.BroadcastToDims(graph.Reshape(sel, dims[0], 1, dims[1]), dims[0], T, dims[1]) // [B, T, N*R], built once
	return func(layer int, module string, x *graph.Node) *graph.Node {
		st, ok := stacks[loraKey{layer, module}]
		if !ok {
			return nil
		}
		xa := graph.DotGeneral(x, []int{2}, nil, st.a, []int{1}, nil)                     // [B, T, N*R]
		return graph.DotGeneral(graph.Mul(xa, mask), []int{2}, nil, st.bt, []int{1}, nil) // [B, T, out]
	}
}
