package model

import (
	"fmt"
	"path/filepath"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// SpecFromConfig resolves the forward pass's Spec from a validated config.json.
func SpecFromConfig(c *hfconfig.Config) (*Spec, error) {
	s := &Spec{
		Architecture:      c.Architecture,
		VocabSize:         c.VocabSize,
		Hidden:            c.HiddenSize,
		Intermediate:      c.IntermediateSize,
		Layers:            c.NumHiddenLayers,
		Heads:             c.NumAttentionHeads,
		KVHeads:           c.NumKeyValueHeads,
		HeadDim:           c.HeadDim,
		RMSNormEps:        c.RMSNormEps,
		RopeInvFreq:       c.RopeInvFreq(),
		TieWordEmbeddings: c.TieWordEmbeddings,
		QKVBias:           c.QKVBias,
		OBias:             c.OutputBias,
		MLPBias:           c.MLPBias,
		QKNorm:            c.QKNorm,
		MaxPositions:      c.MaxPositionEmbeddings,
	}
	for _, w := range c.SlidingWindows {
		if w > 0 {
			s.SlidingWindows = append([]int(nil), c.SlidingWindows...)
			break
		}
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return nil, fmt.Errorf("hidden_act is %q, want \"silu\"", c.HiddenAct)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reads dir/config.json and the checkpoint in dir (model.safetensors or a sharded index),
// checks every weight against the architecture's table, and returns the model with float32
// weights.
func Load(dir string, opts *Options) (*Model, *hfconfig.Config, error) {
	cfg, err := hfconfig.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	spec, err := SpecFromConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", filepath.Join(dir, hfconfig.FileName), err)
	}
	ck, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	defer ck.Close()
	m, err := New(spec, ck, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m.Config = cfg
	return m, cfg, nil
}
