package inference

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sectorflow/sdk/internal/model"
)

// benchSpec is the benchmark shape of issue 6: hidden 1024, 8 layers, 16 heads, 4 kv heads,
// intermediate 2816, vocab 32000 (Llama layout, random weights).
func benchSpec() *model.Spec {
	s := &model.Spec{Architecture: "LlamaForCausalLM", VocabSize: 32000, Hidden: 1024, Intermediate: 2816,
		Layers: 8, Heads: 16, KVHeads: 4, HeadDim: 64, RMSNormEps: 1e-5, MaxPositions: 4096}
	for i := 0; i < s.HeadDim; i += 2 {
		s.RopeInvFreq = append(s.RopeInvFreq, float32(1/math.Pow(10000, float64(i)/float64(s.HeadDim))))
	}
	return s
}

var (
	benchOnce  sync.Once
	benchModel *model.Model
	benchErr   error
)

func loadBenchModel(b *testing.B) *model.Model {
	benchOnce.Do(func() { benchModel, benchErr = model.NewRandom(benchSpec(), 1, 0.02, nil) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchModel
}

// randomAdapter returns a rank-r adapter on every projection of every layer.
func randomAdapter(s *model.Spec, r int, seed uint64) *adapterWeights {
	rng := rand.New(rand.NewPCG(seed, 3))
	w := &adapterWeights{rank: r}
	for l := range s.Layers {
		for _, mod := range model.Modules {
			in, out, _ := s.ModuleDims(mod)
			m := loraModule{layer: l, target: mod, rank: r, in: in, out: out, scale: 2,
				a: make([]float32, r*in), b: make([]float32, out*r)}
			for i := range m.a {
				m.a[i] = float32(rng.NormFloat64() * 0.01)
			}
			for i := range m.b {
				m.b[i] = float32(rng.NormFloat64() * 0.01)
			}
			w.modules = append(w.modules, m)
		}
	}
	return w
}

// BenchmarkPrefill measures the prefill of one 128-token prompt through the engine (prompt in,
// first token out), pure-Go backend by default.
//
//	go test ./inference -run '^$' -bench Prefill -benchtime 5x -benchmem
func BenchmarkPrefill(b *testing.B) {
	m := loadBenchModel(b)
	e := newModelEngine(m, nil, nil, (&Options{MaxBatch: 1, MaxContext: 256}).withDefaults())
	defer func() { e.closeRun = nil; _ = e.Close() }() // the model is shared between benchmarks
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i*7919 + 13) % 32000
	}
	req := &Request{PromptIDs: prompt, MaxTokens: 1}
	if _, err := e.Generate(context.Background(), req); err != nil { // compile outside the timing
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.Generate(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecode measures decode steps (one token per running request) through the engine's
// runner with greedy sampling, at batch 1, 8 and 32, each request past a 16-token prompt in a 256-slot
// cache; "adapters4" runs batch 8 with four different rank-8 adapters on all projections (two
// rows each), against "adapters0" with none.
//
//	go test ./inference -run '^$' -bench Decode -benchtime 20x -benchmem
func BenchmarkDecode(b *testing.B) {
	m := loadBenchModel(b)
	cases := []struct {
		name     string
		batch    int
		adapters int
	}{{"batch1", 1, 0}, {"batch8", 8, 0}, {"batch32", 32, 0}, {"batch8_adapters4", 8, 4}}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			const S, prompt = 256, 16
			run := newModelRunner(m, c.batch, S, max(c.adapters, 1))
			defer run.close()
			for a := 1; a <= c.adapters; a++ {
				if err := run.setAdapter(a, randomAdapter(m.Spec, 8, uint64(a))); err != nil {
					b.Fatal(err)
				}
			}
			rows := make([]stepRow, c.batch)
			for i := range rows {
				toks := make([]int, prompt)
				for k := range toks {
					toks[k] = (i*31 + k*17) % 32000
				}
				rows[i] = stepRow{slot: i, tokens: toks}
				if c.adapters > 0 {
					rows[i].adapter = 1 + i%c.adapters
				}
			}
			if _, err := run.step(rows); err != nil { // prefill
				b.Fatal(err)
			}
			for i := range rows {
				rows[i].pos, rows[i].tokens = prompt, []int{i}
			}
			decode := func() {
				logits, err := run.step(rows)
				if err != nil {
					b.Fatal(err)
				}
				for i := range rows {
					rows[i].tokens = []int{argmax32(logits[i])}
					rows[i].pos++
					if rows[i].pos >= S {
						rows[i].pos = prompt
					}
				}
			}
			decode() // compile the decode program outside the timing
			for b.Loop() {
				decode()
			}
			b.ReportMetric(float64(c.batch*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkEngineDecode measures end-to-end generation through the scheduler: n concurrent
// greedy requests of 16 prompt tokens and 32 new tokens each; tokens/s counts generated tokens.
//
//	go test ./inference -run '^$' -bench EngineDecode -benchtime 2x -benchmem
func BenchmarkEngineDecode(b *testing.B) {
	m := loadBenchModel(b)
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("requests%d", n), func(b *testing.B) {
			e := newModelEngine(m, nil, nil, (&Options{MaxBatch: n, MaxContext: 64}).withDefaults())
			defer func() { e.closeRun = nil; _ = e.Close() }()
			gen := func() {
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						prompt := make([]int, 16)
						for k := range prompt {
							prompt[k] = (i*131 + k) % 32000
						}
						if _, err := e.Generate(context.Background(), &Request{PromptIDs: prompt, MaxTokens: 32, IgnoreEOS: true}); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			gen()
			for b.Loop() {
				gen()
			}
			b.ReportMetric(float64(32*n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
