package tuning

import (
	"fmt"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// specFromConfig maps a validated config.json onto the forward pass's Spec.
func specFromConfig(c *hfconfig.Config) *model.Spec {
	s := &model.Spec{
		Architecture: c.Architecture, VocabSize: c.VocabSize, Hidden: c.HiddenSize,
		Intermediate: c.IntermediateSize, Layers: c.NumHiddenLayers, Heads: c.NumAttentionHeads,
		KVHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim, RMSNormEps: c.RMSNormEps,
		RopeInvFreq: c.RopeInvFreq(), TieWordEmbeddings: c.TieWordEmbeddings,
		QKVBias: c.QKVBias, OBias: c.OutputBias, MLPBias: c.MLPBias, QKNorm: c.QKNorm,
		MaxPositions: c.MaxPositionEmbeddings,
	}
	for _, w := range c.SlidingWindows {
		if w > 0 {
			s.SlidingWindows = append([]int(nil), c.SlidingWindows...)
			break
		}
	}
	return s
}

// loadModel reads config.json and the safetensors checkpoint of a Hugging Face model directory.
func loadModel(dir string) (*model.Model, *hfconfig.Config, error) {
	cfg, err := hfconfig.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	ckpt, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	defer ckpt.Close()
	m, err := model.New(specFromConfig(cfg), ckpt, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, cfg, nil
}
