package tuning

import (
	"fmt"
	"slices"

	"github.com/sectorflow/sdk/internal/peft"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// PEFT file names.
const (
	AdapterConfigFile  = peft.ConfigFile
	AdapterWeightsFile = peft.WeightsFile
)

// peftAdapter returns s as an internal/peft adapter sharing s's weights, so that the one PEFT
// writer in the SDK produces what Train saves.
func (s *loraSet) peftAdapter(baseModel string, dropout float64) *peft.Adapter {
	a := &peft.Adapter{
		Config: &peft.Config{
			PeftType: "LORA", TaskType: "CAUSAL_LM", Bias: "none",
			R: s.Rank, LoraAlpha: s.Alpha, LoraDropout: dropout, UseRSLoRA: s.RSLoRA,
			TargetModules: s.Targets, BaseModelNameOrPath: baseModel,
		},
		Modules: make([]peft.Module, 0, len(s.Modules)),
	}
	for _, m := range s.Modules {
		a.Modules = append(a.Modules, peft.Module{
			Name: m.Name, Layer: m.Layer, Kind: m.Target, Rank: s.Rank, In: m.In, Out: m.Out,
			A: m.A, B: m.B, Scale: s.Scale(),
		})
	}
	return a
}

// writeAdapter writes s into dir in PEFT's format (float32 weights) with peft.Write.
func writeAdapter(dir string, s *loraSet, baseModel string, dropout float64) error {
	return peft.Write(dir, s.peftAdapter(baseModel, dropout), nil)
}

// readAdapterWeights loads A and B of every module of s from a PEFT adapter_model.safetensors,
// checking shapes; it is how a checkpoint is resumed. It reads into s's own slices rather than
// through peft.Load, which would allocate every tensor again only to be copied.
func readAdapterWeights(path string, s *loraSet) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("read adapter: %w", err)
	}
	defer f.Close()
	for _, m := range s.Modules {
		for _, ab := range []struct {
			name  string
			dst   []float32
			shape []int
		}{{"A", m.A, []int{s.Rank, m.In}}, {"B", m.B, []int{m.Out, s.Rank}}} {
			key := peft.Key(m.Name, ab.name)
			info, ok := f.Info(key)
			if !ok {
				return fmt.Errorf("read adapter %s: missing tensor %s", path, key)
			}
			if !slices.Equal(info.Shape, ab.shape) {
				return fmt.Errorf("read adapter %s: %s has shape %v, want %v", path, key, info.Shape, ab.shape)
			}
			if err := f.Float32Into(key, ab.dst); err != nil {
				return fmt.Errorf("read adapter %s: %w", path, err)
			}
		}
	}
	return nil
}
