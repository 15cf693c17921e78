package model

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestProjectMatchesMatmul checks x W^T, including the chunked form used for decode steps,
// against a float64 product computed here.
func TestProjectMatchesMatmul(t *testing.T) {
	m := loadModel(t, "qwen3") // only for its backend
	tests := []struct {
		name      string
		b, t, in  int
		out       int
		wantSplit bool
	}{
		{"decode row, large output", 1, 1, 16, 32000, true},
		{"batch of 8 rows", 8, 1, 8, 2816, true},
		{"two rows of three tokens, odd output", 2, 3, 8, 1500, true},
		{"prefill: not split", 1, 64, 8, 2048, false},
		{"prime output: not split", 1, 1, 8, 1031, false},
		{"small output: not split", 1, 1, 8, 512, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			x := make([]float32, tc.b*tc.t*tc.in)
			w := make([]float32, tc.out*tc.in)
			for j := range x {
				x[j] = float32(rng.NormFloat64())
			}
			for j := range w {
				w[j] = float32(rng.NormFloat64())
			}
			var split bool
			exec, err := graph.NewExec(m.backend, func(xn, wn *graph.Node) *graph.Node {
				y := project(xn, wn)
				for _, n := range xn.Graph().Nodes() {
					if d := n.Shape().Dimensions; len(d) == 3 && d[1] == tc.b*tc.t && d[0]*d[2] == tc.out && d[0] > 1 {
						split = true
					}
				}
				return y
			})
			require.NoError(t, err)
			defer exec.Finalize()
			outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, tc.b, tc.t, tc.in), tensors.FromFlatDataAndDimensions(w, tc.out, tc.in))
			require.NoError(t, err)
			require.Equal(t, []int{tc.b, tc.t, tc.out}, outs[0].Shape().Dimensions)
			require.Equal(t, tc.wantSplit, split)
			got := tensors.MustCopyFlatData[float32](outs[0])
			for r := range tc.b * tc.t {
				for o := range tc.out {
					var want float64
					for k := range tc.in {
						want += float64(x[r*tc.in+k]) * float64(w[o*tc.in+k])
					}
					require.InDelta(t, want, got[r*tc.out+o], 1e-4, "row %d output %d", r, o)
				}
			}
		})
	}
}

// TestProjectGradient differentiates sum(project(x, W) * R) through the chunked form and compares
// with dx = R W and dW = R^T x computed here.
func TestProjectGradient(t *testing.T) {
	m := loadModel(t, "qwen3")
	const rows, in, out = 4, 8, 2048
	rng := rand.New(rand.NewPCG(3, 3))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	x, w, r := fill(rows*in), fill(out*in), fill(rows*out)
	exec, err := graph.NewExec(m.backend, func(xn, wn, rn *graph.Node) []*graph.Node {
		loss := graph.ReduceAllSum(graph.Mul(project(xn, wn), rn))
		return graph.Gradient(loss, xn, wn)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, 1, rows, in),
		tensors.FromFlatDataAndDimensions(w, out, in), tensors.FromFlatDataAndDimensions(r, 1, rows, out))
	require.NoError(t, err)
	dx := tensors.MustCopyFlatData[float32](outs[0])
	dw := tensors.MustCopyFlatData[float32](outs[1])
	for i := range rows {
		for k := range in {
			var want float64
			for o := range out {
				want += float64(r[i*out+o]) * float64(w[o*in+k])
			}
			require.InDelta(t, want, dx[i*in+k], 1e-3)
		}
	}
	for o := range out {
		for k := range in {
			var want float64
			for i := range rows {
				want += float64(r[i*out+o]) * float64(x[i*in+k])
			}
			require.InDelta(t, want, dw[o*in+k], 1e-4)
		}
	}
}

// TestProjectRank2 covers [rows, in] inputs (what SelectPositions hands to the LM head).
func TestProjectRank2(t *testing.T) {
	m := loadModel(t, "qwen3")
	const rows, in, out = 3, 4, 3000
	x := make([]float32, rows*in)
	w := make([]float32, out*in)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	exec, err := graph.NewExec(m.backend, func(xn, wn *graph.Node) *graph.Node { return project(xn, wn) })
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, rows, in), tensors.FromFlatDataAndDimensions(w, out, in))
	require.NoError(t, err)
	require.Equal(t, []int{rows, out}, outs[0].Shape().Dimensions)
	got := tensors.MustCopyFlatData[float32](outs[0])
	for r := range rows {
		for o := range out {
			var want float32
			for k := range in {
				want += x[r*in+k] * w[o*in+k]
			}
			require.Equal(t, want, got[r*out+o], "row %d output %d", r, o) // small integers: exact
		}
	}
}
