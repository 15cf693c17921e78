package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sectorflow/sdk/internal/safetensors"

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

// tmpAdapter is a stand-in for internal/peft until it lands.
func tmpAdapter(t *testing.T, dir string) *Adapter {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	require.NoError(t, err)
	var c struct {
		R     int     `json:"r"`
		Alpha float64 `json:"lora_alpha"`
	}
	require.NoError(t, json.Unmarshal(data, &c))
	f, err := safetensors.Open(filepath.Join(dir, "adapter_model.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	re := regexp.MustCompile(`^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_A\.weight$`)
	a := &Adapter{}
	for _, name := range f.Names() {
		m := re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		layer, _ := strconv.Atoi(m[1])
		A, err := f.Float32(name)
		require.NoError(t, err)
		B, err := f.Float32(strings.Replace(name, "lora_A", "lora_B", 1))
		require.NoError(t, err)
		info, _ := f.Info(name)
		a.Modules = append(a.Modules, LoRAModule{Layer: layer, Module: m[3], Rank: info.Shape[0], A: A, B: B,
			Scale: float32(c.Alpha / float64(info.Shape[0]))})
	}
	return a
}
