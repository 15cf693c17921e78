package model

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// benchSpec is the benchmark shape of issue 2: hidden 1024, 8 layers, 16 heads, 4 kv heads,
// intermediate 2816, vocab 32000 (Llama layout, untied head, default RoPE).
func benchSpec() *Spec {
	s := &Spec{Architecture: "LlamaForCausalLM", VocabSize: 32000, Hidden: 1024, Intermediate: 2816,
		Layers: 8, Heads: 16, KVHeads: 4, HeadDim: 64, RMSNormEps: 1e-5, MaxPositions: 4096}
	for i := 0; i < s.HeadDim; i += 2 {
		s.RopeInvFreq = append(s.RopeInvFreq, float32(1/math.Pow(10000, float64(i)/float64(s.HeadDim))))
	}
	return s
}

// BenchmarkForward measures a full forward pass with logits at every position on the default
// (pure-Go) backend, random weights: one 128-token sequence, and a batch of 8 of them.
//
//	go test ./internal/model -run '^$' -bench Forward -benchtime 3x -benchmem
func BenchmarkForward(b *testing.B) {
	m, err := NewRandom(benchSpec(), 1, 0.02, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	s := m.Spec
	exec, err := graph.NewExec(m.backend, func(in []*graph.Node) *graph.Node {
		w := s.WeightsFromNodes(in[3:])
		out := s.Forward(w, Inputs{IDs: in[0], Positions: in[1], Mask: in[2]})
		return s.LMHead(w, out.Hidden)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	for _, batch := range []int{1, 8} {
		const T = 128
		b.Run(fmt.Sprintf("batch%dx%d", batch, T), func(b *testing.B) {
			ids := make([]int32, batch*T)
			pos := make([]int32, batch*T)
			mask := make([]bool, batch*T*T)
			for r := range batch {
				for t := range T {
					ids[r*T+t] = int32((r*7919 + t*104729) % s.VocabSize)
					pos[r*T+t] = int32(t)
					for k := 0; k <= t; k++ {
						mask[(r*T+t)*T+k] = true
					}
				}
			}
			args := []any{
				tensors.FromFlatDataAndDimensions(ids, batch, T),
				tensors.FromFlatDataAndDimensions(pos, batch, T),
				tensors.FromFlatDataAndDimensions(mask, batch, T, T),
			}
			for _, w := range m.weights {
				args = append(args, w)
			}
			run := func() {
				outs, err := exec.Exec(args...)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					_ = o.FinalizeAll()
				}
			}
			run() // compile outside the measurement
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(batch*T*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkDecode measures one decode step (one new token per row) against a KV cache of 256
// slots holding 128 tokens, logits for the new tokens only, on the default backend.
//
//	go test ./internal/model -run '^$' -bench Decode -benchtime 10x -benchmem
func BenchmarkDecode(b *testing.B) {
	m, err := NewRandom(benchSpec(), 1, 0.02, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	s := m.Spec
	const S, filled = 256, 128
	exec, err := graph.NewExec(m.backend, func(in []*graph.Node) []*graph.Node {
		nw := len(m.weights)
		w := s.WeightsFromNodes(in[4 : 4+nw])
		caches := in[4+nw:]
		out := s.Forward(w, Inputs{IDs: in[0], Positions: in[1], Mask: in[2],
			Cache: &Cache{Slots: in[3], K: caches[:s.Layers], V: caches[s.Layers:]}})
		return append([]*graph.Node{s.LMHead(w, out.Hidden)}, append(out.K, out.V...)...)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	for _, batch := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch%d_cache%d", batch, S), func(b *testing.B) {
			ids := make([]int32, batch)
			pos := make([]int32, batch)
			mask := make([]bool, batch*S)
			for r := range batch {
				ids[r] = int32(r * 31)
				pos[r] = filled
				for k := 0; k <= filled; k++ {
					mask[r*S+k] = true
				}
			}
			args := []any{
				tensors.FromFlatDataAndDimensions(ids, batch, 1),
				tensors.FromFlatDataAndDimensions(pos, batch, 1),
				tensors.FromFlatDataAndDimensions(mask, batch, 1, S),
				tensors.FromFlatDataAndDimensions(pos, batch, 1),
			}
			for _, w := range m.weights {
				args = append(args, w)
			}
			for range 2 * s.Layers {
				args = append(args, tensors.FromShape(shapes.Make(dtypes.Float32, batch, s.KVHeads, S, s.HeadDim)))
			}
			run := func() {
				outs, err := exec.Exec(args...)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					_ = o.FinalizeAll()
				}
			}
			run()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkProject measures one decode-step projection (project: x W^T) on the default backend
// for 1, 8 and 32 rows, with the weight passed as a program input as in a decode step: the MLP's
// gate_proj [2816 1024] and the LM head [32000 1024]. GFLOP/s counts 2 x rows x in x out; it
// tells whether more rows per step come for free (a memory-bound product) or cost in proportion
// (a compute-bound one).
//
//	go test ./internal/model -run '^$' -bench Project -benchtime 20x
func BenchmarkProject(b *testing.B) {
	backend, err := defaultBackend()
	if err != nil {
		b.Fatal(err)
	}
	const in = 1024
	for _, w := range []struct {
		name string
		out  int
	}{{"gate", 2816}, {"lm_head", 32000}} {
		weight := make([]float32, w.out*in)
		for i := range weight {
			weight[i] = float32(i%7-3) * 0.01
		}
		wt := tensors.FromFlatDataAndDimensions(weight, w.out, in)
		exec, err := graph.NewExec(backend, func(x, w *graph.Node) *graph.Node { return project(x, w) })
		if err != nil {
			b.Fatal(err)
		}
		for _, rows := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s_rows%d", w.name, rows), func(b *testing.B) {
				x := tensors.FromFlatDataAndDimensions(make([]float32, rows*in), rows, in)
				run := func() {
					out, err := exec.Exec(x, wt)
					if err != nil {
						b.Fatal(err)
					}
					_ = out[0].FinalizeAll()
				}
				run() // compile outside the measurement
				for b.Loop() {
					run()
				}
				b.ReportMetric(float64(2*rows*in*w.out*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		exec.Finalize()
		_ = wt.FinalizeAll()
	}
}
