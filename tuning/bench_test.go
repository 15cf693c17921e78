package tuning

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"syscall"
	"testing"

	"github.com/sectorflow/sdk/internal/model"
)

// benchSpec is the documented training benchmark shape: Llama layout, hidden 512, 4 layers,
// 8 heads, 4 kv heads, head_dim 64, intermediate 1408, vocab 8192, untied head, default RoPE.
func benchSpec() *model.Spec {
	s := &model.Spec{Architecture: "LlamaForCausalLM", VocabSize: 8192, Hidden: 512, Intermediate: 1408,
		Layers: 4, Heads: 8, KVHeads: 4, HeadDim: 64, RMSNormEps: 1e-5, MaxPositions: 4096}
	for i := 0; i < s.HeadDim; i += 2 {
		s.RopeInvFreq = append(s.RopeInvFreq, float32(1/math.Pow(10000, float64(i)/float64(s.HeadDim))))
	}
	return s
}

// BenchmarkTrainStep measures one training micro-batch (forward, cross-entropy over every
// position, gradients of LoRA rank 8 on all seven projections) on the default (pure-Go) backend
// with random weights, plus the host side (gradient copy-out) but not the AdamW update. It
// reports training tokens/s and the process's peak resident memory.
//
//	go test ./tuning -run '^$' -bench TrainStep -benchtime 3x -benchmem
func BenchmarkTrainStep(b *testing.B) {
	m, err := model.NewRandom(benchSpec(), 1, 0.02, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	set, err := newLoRASet(dimsOf(m.Spec), []string{"all-linear"}, 8, 16, false, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, mod := range set.Modules { // non-zero B, as after the first update
		for i := range mod.B {
			mod.B[i] = 1e-3
		}
	}
	st, err := newStepper(m, set, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, shape := range [][2]int{{1, 256}, {4, 128}} {
		rows, T := shape[0], shape[1]
		b.Run(fmt.Sprintf("batch%dx%d", rows, T), func(b *testing.B) {
			var samples []Sample
			var plan batchPlan
			for r := range rows {
				s := Sample{IDs: make([]int32, T), Targets: make([]bool, T)}
				for t := range T {
					s.IDs[t] = int32((r*7919 + t*104729) % m.Spec.VocabSize)
					s.Targets[t] = t > 0
				}
				samples = append(samples, s)
				plan = append(plan, []int{r})
			}
			batch := buildBatch(samples, plan, T, 0)
			run := func() {
				if _, _, err := st.run(context.Background(), batch, true, 0); err != nil {
					b.Fatal(err)
				}
			}
			run() // compile outside the measurement
			cpu0 := cpuSeconds()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(rows*T*b.N)/b.Elapsed().Seconds(), "tokens/s")
			// CPU seconds per step: on a shared machine wall time overstates the cost.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/step")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MiB")
		})
	}
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
