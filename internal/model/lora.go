package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// LoRAModule is one adapted projection of a LoRA adapter, resolved against a model: the delta of
// its output is ((x A^T) B^T) * Scale, PEFT's semantics.
type LoRAModule struct {
	// Layer is the decoder layer and Module the projection ("q_proj", ... see [Modules]).
	Layer  int
	Module string
	// Rank is r; A is [r, in] and B is [out, r], row-major.
	Rank int
	A, B []float32
	// Scale is alpha/r (alpha/sqrt(r) with rsLoRA).
	Scale float32
}

// Adapter is a LoRA adapter ready for the forward pass: its modules sorted by layer and module.
type Adapter struct {
	Modules []LoRAModule
}

// Check verifies every module targets a projection of the spec and that A and B have the shapes
// the spec and the rank imply.
func (a *Adapter) Check(s *Spec) error {
	seen := map[string]bool{}
	for _, m := range a.Modules {
		if m.Layer < 0 || m.Layer >= s.Layers {
			return fmt.Errorf("lora %s: layer %d out of range, the model has %d layers", m.Module, m.Layer, s.Layers)
		}
		in, out, err := s.ModuleDims(m.Module)
		if err != nil {
			return fmt.Errorf("lora layer %d: %w", m.Layer, err)
		}
		key := fmt.Sprintf("%d/%s", m.Layer, m.Module)
		if seen[key] {
			return fmt.Errorf("lora layer %d: %s adapted twice", m.Layer, m.Module)
		}
		seen[key] = true
		if m.Rank <= 0 || len(m.A) != m.Rank*in || len(m.B) != out*m.Rank {
			return fmt.Errorf("lora layer %d: %s has %d A and %d B values for rank %d, want A [%d %d] and B [%d %d]",
				m.Layer, m.Module, len(m.A), len(m.B), m.Rank, m.Rank, in, out, m.Rank)
		}
	}
	return nil
}

// signature identifies the graph an adapter needs: which modules, which ranks, which scales.
func (a *Adapter) signature() string {
	if a == nil || len(a.Modules) == 0 {
		return "base"
	}
	var b strings.Builder
	for _, m := range a.Modules {
		fmt.Fprintf(&b, "%d/%s/r%d/s%g;", m.Layer, m.Module, m.Rank, m.Scale)
	}
	return b.String()
}

func (a *Adapter) sorted() *Adapter {
	if a == nil {
		return nil
	}
	mods := append([]LoRAModule(nil), a.Modules...)
	order := map[string]int{}
	for i, m := range Modules {
		order[m] = i
	}
	sort.Slice(mods, func(i, j int) bool {
		if mods[i].Layer != mods[j].Layer {
			return mods[i].Layer < mods[j].Layer
		}
		return order[mods[i].Module] < order[mods[j].Module]
	})
	return &Adapter{Modules: mods}
}

// tensors returns A and B of every module, in module order, as inputs of the compiled program.
func (a *Adapter) tensors(s *Spec) []*tensors.Tensor {
	if a == nil {
		return nil
	}
	out := make([]*tensors.Tensor, 0, 2*len(a.Modules))
	for _, m := range a.Modules {
		in, o, _ := s.ModuleDims(m.Module)
		out = append(out,
			tensors.FromFlatDataAndDimensions(m.A, m.Rank, in),
			tensors.FromFlatDataAndDimensions(m.B, o, m.Rank))
	}
	return out
}

// StaticLoRA returns a LoRAFunc for one adapter whose A and B are given as nodes (2 per module,
// in the adapter's module order): delta = ((x A^T) B^T) * scale.
func StaticLoRA(a *Adapter, ab []*graph.Node) LoRAFunc {
	if a == nil || len(a.Modules) == 0 {
		return nil
	}
	type pair struct {
		a, b  *graph.Node
		scale float32
	}
	byKey := map[string]pair{}
	for i, m := range a.Modules {
		byKey[fmt.Sprintf("%d/%s", m.Layer, m.Module)] = pair{ab[2*i], ab[2*i+1], m.Scale}
	}
	return func(layer int, module string, x *graph.Node) *graph.Node {
		p, ok := byKey[fmt.Sprintf("%d/%s", layer, module)]
		if !ok {
			return nil
		}
		return LoRADelta(x, p.a, p.b, p.scale)
	}
}

// LoRADelta returns ((x A^T) B^T) * scale for x [..., in], A [r, in] and B [out, r].
func LoRADelta(x, a, b *graph.Node, scale float32) *graph.Node {
	xa := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, f32(a), []int{1}, nil)
	d := graph.DotGeneral(xa, []int{xa.Rank() - 1}, nil, f32(b), []int{1}, nil)
	return graph.MulScalar(d, scale)
}

// LoRAStack holds the A and B matrices of N adapter slots for one projection, padded to a common
// rank R with zeros: A [N, R, in], B [N, out, R], and Scale [N] float32 (0 for an empty slot).
// Inference keeps one stack per (layer, module) on the device and serves many adapters per batch.
type LoRAStack struct {
	A, B, Scale *graph.Node
}

// GatherLoRA returns a LoRAFunc that applies to batch row b the adapter slot rows[b] ([B] int32)
// of each projection's stack: delta_b = ((x_b A[s]^T) B[s]^T) * Scale[s] with s = rows[b].
// stacks returns nil for a projection that no slot adapts.
func GatherLoRA(stacks func(layer int, module string) *LoRAStack, rows *graph.Node) LoRAFunc {
	idx := graph.ExpandAxes(rows, -1) // [B, 1]
	return func(layer int, module string, x *graph.Node) *graph.Node {
		st := stacks(layer, module)
		if st == nil {
			return nil
		}
		a := graph.Gather(f32(st.A), idx)                                               // [B, R, in]
		b := graph.Gather(f32(st.B), idx)                                               // [B, out, R]
		xa := graph.DotGeneral(x, []int{x.Rank() - 1}, []int{0}, a, []int{2}, []int{0}) // [B, T, R]
		d := graph.DotGeneral(xa, []int{2}, []int{0}, b, []int{2}, []int{0})            // [B, T, out]
		scale := graph.Reshape(graph.Gather(f32(st.Scale), idx), rows.Shape().Dimensions[0], 1, 1)
		return graph.Mul(d, scale)
	}
}
