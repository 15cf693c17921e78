package model

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// batchRun is one graph-level forward call: ids/positions [B][T], mask [B][T][S], and optionally
// a cache (slots [B][T] and the K/V tensors of the previous step, or nil for zeros of S slots).
type batchRun struct {
	ids, pos [][]int32
	mask     [][][]bool
	slots    [][]int32
	cacheS   int
	k, v     []*tensors.Tensor
}

func flat2(x [][]int32) *tensors.Tensor {
	var out []int32
	for _, r := range x {
		out = append(out, r...)
	}
	return tensors.FromFlatDataAndDimensions(out, len(x), len(x[0]))
}

// runBatch executes Spec.Forward + LMHead on the graph level and returns logits [B][T][V] and
// the updated cache.
func runBatch(t *testing.T, m *Model, r batchRun) ([][][]float32, []*tensors.Tensor, []*tensors.Tensor) {
	t.Helper()
	s := m.Spec
	B, T := len(r.ids), len(r.ids[0])
	S := len(r.mask[0][0])
	var mflat []bool
	for _, a := range r.mask {
		for _, b := range a {
			mflat = append(mflat, b...)
		}
	}
	args := []any{flat2(r.ids), flat2(r.pos), tensors.FromFlatDataAndDimensions(mflat, B, T, S)}
	nw := len(m.weights)
	for _, w := range m.weights {
		args = append(args, w)
	}
	withCache := r.slots != nil
	if withCache {
		args = append(args, flat2(r.slots))
		for _, list := range [][]*tensors.Tensor{r.k, r.v} {
			for i := range s.Layers {
				if list == nil {
					args = append(args, tensors.FromShape(shapes.Make(dtypes.Float32, B, s.KVHeads, r.cacheS, s.HeadDim)))
				} else {
					args = append(args, list[i])
				}
			}
		}
	}
	exec, err := graph.NewExec(m.backend, func(in []*graph.Node) []*graph.Node {
		w := s.WeightsFromNodes(in[3 : 3+nw])
		inputs := Inputs{IDs: in[0], Positions: in[1], Mask: in[2]}
		if withCache {
			rest := in[3+nw:]
			inputs.Cache = &Cache{Slots: rest[0], K: rest[1 : 1+s.Layers], V: rest[1+s.Layers : 1+2*s.Layers]}
		}
		out := s.Forward(w, inputs)
		return append(append([]*graph.Node{s.LMHead(w, out.Hidden)}, out.K...), out.V...)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Exec(args...)
	require.NoError(t, err)
	flat := tensors.MustCopyFlatData[float32](outs[0])
	V := s.VocabSize
	logits := make([][][]float32, B)
	for b := range B {
		for tt := range T {
			off := (b*T + tt) * V
			logits[b] = append(logits[b], flat[off:off+V])
		}
	}
	if !withCache {
		return logits, nil, nil
	}
	return logits, outs[1 : 1+s.Layers], outs[1+s.Layers:]
}

func seq(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

// causal returns mask rows [T][S]: key s visible to query at position qpos[t] iff
// s <= qpos[t] and s < valid.
func causal(qpos []int32, S, valid int) [][]bool {
	out := make([][]bool, len(qpos))
	for t, p := range qpos {
		out[t] = make([]bool, S)
		for s := 0; s < S && s < valid; s++ {
			out[t][s] = int32(s) <= p
		}
	}
	return out
}

func TestKVCacheMatchesFullForward(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     string
		prefill int
	}{
		{"qwen3 prefill 6 then decode", filepath.Join(modelsDir, "qwen3"), 6},
		{"mistral sliding window 4, prefill 5", "testdata/mistral_sliding", 5},
		{"qwen2 sliding on some layers, prefill 7", "testdata/qwen2_partial_sliding", 7},
		{"qwen2 decode from the first token", filepath.Join(modelsDir, "qwen2"), 1},
		{"wide outputs: decode takes the chunked projections", "testdata/qwen2_wide", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadDir(t, tc.dir)
			want := readExpected(t, tc.dir, "logits.json")
			ids := want.IDs
			T := len(ids)
			full, _, _ := runBatch(t, m, batchRun{ids: [][]int32{ids}, pos: [][]int32{seq(0, T)}, mask: [][][]bool{causal(seq(0, T), T, T)}})
			require.Less(t, maxAbsDiff(t, want.Logits, full[0]), 1e-4, "full forward against the reference")
			const S = 24 // more slots than tokens: the unused ones must stay masked
			var k, v []*tensors.Tensor
			var got [][]float32
			for start := 0; start < T; {
				n := 1
				if start == 0 {
					n = tc.prefill
				}
				pos := seq(start, n)
				logits, nk, nv := runBatch(t, m, batchRun{
					ids: [][]int32{ids[start : start+n]}, pos: [][]int32{pos}, mask: [][][]bool{causal(pos, S, start+n)},
					slots: [][]int32{pos}, cacheS: S, k: k, v: v,
				})
				got = append(got, logits[0]...)
				k, v = nk, nv
				start += n
			}
			require.Less(t, maxAbsDiff(t, full[0], got), 1e-4, "cached against uncached")
			require.Less(t, maxAbsDiff(t, want.Logits, got), 1e-4, "cached against the reference")
		})
	}
}

func TestPaddedRowMatchesRowAlone(t *testing.T) {
	m := loadModel(t, "qwen2")
	long := readExpected(t, filepath.Join(modelsDir, "qwen2"), "logits.json").IDs
	T := len(long)
	short := long[3:12]
	pad := T - len(short)
	// Row 1 is left-padded: pads at positions 0 (masked as keys), real tokens at 0..len-1.
	ids1 := append(make([]int32, pad), short...)
	pos1 := append(make([]int32, pad), seq(0, len(short))...)
	mask1 := make([][]bool, T)
	for q := range T {
		mask1[q] = make([]bool, T)
		for s := pad; s <= q; s++ {
			mask1[q][s] = q >= pad
		}
	}
	batch, _, _ := runBatch(t, m, batchRun{
		ids: [][]int32{long, ids1}, pos: [][]int32{seq(0, T), pos1},
		mask: [][][]bool{causal(seq(0, T), T, T), mask1},
	})
	alone, err := m.Logits(context.Background(), short, nil)
	require.NoError(t, err)
	require.Less(t, maxAbsDiff(t, alone, batch[1][pad:]), 1e-4)
	longAlone, err := m.Logits(context.Background(), long, nil)
	require.NoError(t, err)
	require.Less(t, maxAbsDiff(t, longAlone, batch[0]), 1e-4)
}

// TestForwardShapeErrors checks the graph-level misuse errors Forward raises (as GoMLX panics,
// which engines recover at their boundary).
func TestForwardShapeErrors(t *testing.T) {
	m := loadModel(t, "llama")
	s := m.Spec
	tests := []struct {
		name    string
		posDims []int
		mask    []int
		wantErr string
	}{
		{"mask of the wrong length", []int{1, 4}, []int{1, 4, 5}, "mask has shape (Bool)[1 4 5], want Bool[1 4 4]"},
		{"positions of the wrong length", []int{1, 3}, []int{1, 4, 4}, "positions has shape (Int32)[1 3], want Int32[1 4]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.NewGraph(m.backend, "forward")
			var nodes []*graph.Node
			for i, ts := range s.Tensors() {
				nodes = append(nodes, graph.Parameter(g, fmt.Sprintf("w%d", i), shapes.Make(dtypes.Float32, ts.Shape...)))
			}
			in := Inputs{
				IDs:       graph.Parameter(g, "ids", shapes.Make(dtypes.Int32, 1, 4)),
				Positions: graph.Parameter(g, "pos", shapes.Make(dtypes.Int32, tc.posDims...)),
				Mask:      graph.Parameter(g, "mask", shapes.Make(dtypes.Bool, tc.mask...)),
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err, _ = r.(error)
					}
				}()
				s.Forward(s.WeightsFromNodes(nodes), in)
			}()
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// TestSelectPositions picks each row's last real token before the LM head and compares with the
// reference logits at those positions.
func TestSelectPositions(t *testing.T) {
	dir := filepath.Join(modelsDir, "qwen3")
	m := loadModel(t, "qwen3")
	s := m.Spec
	want := readExpected(t, dir, "logits.json")
	T := len(want.IDs)
	index := []int32{int32(T - 1), 4}
	var ids, pos []int32
	var mask []bool
	for range index {
		ids = append(ids, want.IDs...)
		pos = append(pos, seq(0, T)...)
		for q := range T {
			for k := range T {
				mask = append(mask, k <= q)
			}
		}
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(ids, 2, T),
		tensors.FromFlatDataAndDimensions(pos, 2, T),
		tensors.FromFlatDataAndDimensions(mask, 2, T, T),
		tensors.FromFlatDataAndDimensions(index, 2),
	}
	for _, w := range m.weights {
		args = append(args, w)
	}
	exec, err := graph.NewExec(m.backend, func(in []*graph.Node) *graph.Node {
		w := s.WeightsFromNodes(in[4:])
		out := s.Forward(w, Inputs{IDs: in[0], Positions: in[1], Mask: in[2]})
		return s.LMHead(w, SelectPositions(out.Hidden, in[3]))
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Exec(args...)
	require.NoError(t, err)
	require.Equal(t, []int{2, s.VocabSize}, outs[0].Shape().Dimensions)
	flat := tensors.MustCopyFlatData[float32](outs[0])
	got := [][]float32{flat[:s.VocabSize], flat[s.VocabSize:]}
	require.Less(t, maxAbsDiff(t, [][]float32{want.Logits[T-1], want.Logits[4]}, got), 1e-4)
}

// TestPackedSequences packs two prompts into one row (positions restart, a block-diagonal mask
// from SameSegmentMask and CausalMask) and compares each with the reference: causal logits of a
// prefix are the reference's first rows.
func TestPackedSequences(t *testing.T) {
	for _, name := range []string{"llama", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(modelsDir, name)
			m := loadModel(t, name)
			s := m.Spec
			want := readExpected(t, dir, "logits.json")
			a, b := 7, 8
			ids := append(append([]int32{}, want.IDs[:a]...), want.IDs[:b]...)
			pos := append(seq(0, a), seq(0, b)...)
			segs := make([]int32, a+b)
			for i := a; i < a+b; i++ {
				segs[i] = 1
			}
			T := a + b
			args := []any{
				tensors.FromFlatDataAndDimensions(ids, 1, T),
				tensors.FromFlatDataAndDimensions(pos, 1, T),
				tensors.FromFlatDataAndDimensions(segs, 1, T),
			}
			for _, w := range m.weights {
				args = append(args, w)
			}
			exec, err := graph.NewExec(m.backend, func(in []*graph.Node) *graph.Node {
				w := s.WeightsFromNodes(in[3:])
				mask := graph.LogicalAnd(CausalMask(in[1], in[1], nil), SameSegmentMask(in[2], in[2]))
				out := s.Forward(w, Inputs{IDs: in[0], Positions: in[1], Mask: mask})
				return s.LMHead(w, out.Hidden)
			})
			require.NoError(t, err)
			defer exec.Finalize()
			outs, err := exec.Exec(args...)
			require.NoError(t, err)
			flat := tensors.MustCopyFlatData[float32](outs[0])
			V := s.VocabSize
			got := make([][]float32, T)
			for i := range T {
				got[i] = flat[i*V : (i+1)*V]
			}
			expected := append(append([][]float32{}, want.Logits[:a]...), want.Logits[:b]...)
			require.Less(t, maxAbsDiff(t, expected, got), 1e-4)
		})
	}
}
