package graphx

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

func newTestBackend(t *testing.T) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig("go:ops_sequential")
	require.NoError(t, err)
	return b
}

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// gradients returns d(sum(out*w))/d(lhs, rhs) for out = DotGeneral(lhs, rhs) with the given axes,
// using whatever rule is registered for DotGeneral at the time.
func gradients(t *testing.T, backend backends.Backend, lhs, rhs *tensors.Tensor, lc, lb, rc, rb []int, seed uint64) (dl, dr []float32) {
	t.Helper()
	exec, err := graph.NewExec(backend, func(l, r *graph.Node) []*graph.Node {
		out := graph.DotGeneral(l, lc, lb, r, rc, rb)
		w := graph.ConstTensor(l.Graph(), randTensor(rand.New(rand.NewPCG(seed, 7)), out.Shape().Dimensions...))
		loss := graph.ReduceAllSum(graph.Mul(out, w))
		return graph.Gradient(loss, l, r)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Exec(lhs, rhs)
	require.NoError(t, err)
	return tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
}

func TestDotGeneralVJPMatchesGoMLX(t *testing.T) {
	backend := newTestBackend(t)
	tests := []struct {
		name           string
		lhs, rhs       []int
		lc, lb, rc, rb []int
	}{
		{"linear x W^T", []int{2, 3, 5}, []int{4, 5}, []int{2}, nil, []int{1}, nil},
		{"matmul", []int{3, 5}, []int{5, 4}, []int{1}, nil, []int{0}, nil},
		{"attention scores with GQA", []int{2, 3, 2, 2, 4}, []int{2, 2, 6, 4}, []int{4}, []int{0, 2}, []int{3}, []int{0, 1}},
		{"probs times values", []int{2, 2, 3, 2, 6}, []int{2, 2, 6, 4}, []int{4}, []int{0, 1}, []int{2}, []int{0, 1}},
		{"two contracting axes", []int{3, 4, 2}, []int{3, 5, 2}, []int{0, 2}, nil, []int{0, 2}, nil},
		{"batch not leading", []int{3, 2, 4}, []int{4, 2, 5}, []int{2}, []int{1}, []int{0}, []int{1}},
		{"batch axes listed out of order", []int{2, 3, 4}, []int{4, 2, 3, 5}, []int{1}, []int{2, 0}, []int{2}, []int{0, 1}},
		{"no cross axes", []int{2, 3}, []int{2, 3}, []int{1}, []int{0}, []int{1}, []int{0}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			lhs, rhs := randTensor(rng, tc.lhs...), randTensor(rng, tc.rhs...)

			graph.VJPRegistration[graph.NodeTypeDotGeneral] = GoMLXDotGeneralVJP
			wantL, wantR := gradients(t, backend, lhs, rhs, tc.lc, tc.lb, tc.rc, tc.rb, uint64(i))
			Install()
			gotL, gotR := gradients(t, backend, lhs, rhs, tc.lc, tc.lb, tc.rc, tc.rb, uint64(i))

			require.InDeltaSlice(t, wantL, gotL, 1e-4)
			require.InDeltaSlice(t, wantR, gotR, 1e-4)
		})
	}
}

// TestDotGeneralVJPBuildsNoBroadcastProduct checks the reason the rule exists: the gradient graph
// of a [T, in] x [out, in] product holds no node as large as T*out*in, which GoMLX's own rule
// materialises.
func TestDotGeneralVJPBuildsNoBroadcastProduct(t *testing.T) {
	backend := newTestBackend(t)
	const T, in, out = 8, 16, 32
	for _, tc := range []struct {
		name    string
		rule    graph.VJP
		wantBig bool
	}{
		{"GoMLX rule", GoMLXDotGeneralVJP, true},
		{"graphx rule", DotGeneralVJP, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			graph.VJPRegistration[graph.NodeTypeDotGeneral] = tc.rule
			defer Install()
			g := graph.NewGraph(backend, "vjp")
			x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, T, in))
			w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, out, in))
			y := graph.DotGeneral(x, []int{1}, nil, w, []int{1}, nil)
			grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x, w)
			biggest := 0
			for _, n := range g.Nodes() {
				biggest = max(biggest, n.Shape().Size())
			}
			require.Len(t, grads, 2)
			require.Equal(t, tc.wantBig, biggest >= T*in*out, "largest node has %d elements", biggest)
		})
	}
}

// TestDotGeneralVJPUnorderedContraction covers contracting axes listed out of order, where GoMLX
// v0.26.0's own rule builds a wrongly shaped gradient: the result must equal the gradient of the
// same product written with the rhs transposed so that the axes are in order.
func TestDotGeneralVJPUnorderedContraction(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(42, 1))
	lhs, rhs := randTensor(rng, 3, 4, 2), randTensor(rng, 2, 5, 3)
	w := randTensor(rng, 4, 5)
	run := func(fn func(l, r *graph.Node) *graph.Node) (dl, dr []float32) {
		exec, err := graph.NewExec(backend, func(l, r *graph.Node) []*graph.Node {
			loss := graph.ReduceAllSum(graph.Mul(fn(l, r), graph.ConstTensor(l.Graph(), w)))
			return graph.Gradient(loss, l, r)
		})
		require.NoError(t, err)
		defer exec.Finalize()
		outs, err := exec.Exec(lhs, rhs)
		require.NoError(t, err)
		return tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
	}
	// lhs axes (2, 0) contract with rhs axes (0, 2).
	gotL, gotR := run(func(l, r *graph.Node) *graph.Node {
		return graph.DotGeneral(l, []int{2, 0}, nil, r, []int{0, 2}, nil)
	})
	wantL, wantR := run(func(l, r *graph.Node) *graph.Node {
		rt := graph.TransposeAllAxes(r, 2, 1, 0) // [3, 5, 2]: axes now pair with lhs (0, 2)
		return graph.DotGeneral(l, []int{0, 2}, nil, rt, []int{0, 2}, nil)
	})
	require.InDeltaSlice(t, wantL, gotL, 1e-4)
	require.InDeltaSlice(t, wantR, gotR, 1e-4)
}
