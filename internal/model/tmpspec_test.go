package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// tmpSpec is a stand-in for hfconfig until it lands: default RoPE only.
func tmpSpec(t *testing.T, dir string) *Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var c struct {
		Architectures []string
		VocabSize     int     `json:"vocab_size"`
		Hidden        int     `json:"hidden_size"`
		Inter         int     `json:"intermediate_size"`
		Layers        int     `json:"num_hidden_layers"`
		Heads         int     `json:"num_attention_heads"`
		KV            int     `json:"num_key_value_heads"`
		HeadDim       int     `json:"head_dim"`
		Eps           float64 `json:"rms_norm_eps"`
		Theta         float64 `json:"rope_theta"`
		Tie           bool    `json:"tie_word_embeddings"`
	}
	require.NoError(t, json.Unmarshal(data, &c))
	s := &Spec{Architecture: c.Architectures[0], VocabSize: c.VocabSize, Hidden: c.Hidden, Intermediate: c.Inter,
		Layers: c.Layers, Heads: c.Heads, KVHeads: c.KV, HeadDim: c.HeadDim, RMSNormEps: c.Eps, TieWordEmbeddings: c.Tie}
	for i := 0; i < c.HeadDim; i += 2 {
		e := float32(i) / float32(c.HeadDim)
		s.RopeInvFreq = append(s.RopeInvFreq, float32(1)/float32(math.Pow(c.Theta, float64(e))))
	}
	s.QKVBias = s.Architecture == "Qwen2ForCausalLM"
	s.QKNorm = s.Architecture == "Qwen3ForCausalLM"
	return s
}
