package model

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// alteredReader hides or reshapes tensors of a real checkpoint.
type alteredReader struct {
	TensorReader
	hide  map[string]bool
	shape map[string][]int
}

func (r alteredReader) Info(name string) (safetensors.TensorInfo, bool) {
	if r.hide[name] {
		return safetensors.TensorInfo{}, false
	}
	info, ok := r.TensorReader.Info(name)
	if s, found := r.shape[name]; found {
		info.Shape = s
	}
	return info, ok
}

func TestBadWeights(t *testing.T) {
	dir := filepath.Join(modelsDir, "qwen2")
	cfg, err := hfconfig.Load(dir)
	require.NoError(t, err)
	spec, err := SpecFromConfig(cfg)
	require.NoError(t, err)
	ck, err := safetensors.OpenDir(dir)
	require.NoError(t, err)
	defer ck.Close()

	tests := []struct {
		name    string
		hide    []string
		shape   map[string][]int
		wantErr []string
		is      error
	}{
		{
			name:    "missing layer tensor",
			hide:    []string{"model.layers.1.input_layernorm.weight"},
			wantErr: []string{"layer 1: missing input_layernorm.weight"},
			is:      ErrMissingTensor,
		},
		{
			name:    "missing qwen2 bias",
			hide:    []string{"model.layers.0.self_attn.k_proj.bias"},
			wantErr: []string{"layer 0: missing self_attn.k_proj.bias"},
			is:      ErrMissingTensor,
		},
		{
			name:    "missing embedding",
			hide:    []string{"model.embed_tokens.weight"},
			wantErr: []string{"missing model.embed_tokens.weight"},
			is:      ErrMissingTensor,
		},
		{
			name:    "wrong shape",
			shape:   map[string][]int{"model.layers.1.self_attn.q_proj.weight": {64, 32}},
			wantErr: []string{"layer 1: self_attn.q_proj.weight has shape [64 32], want [64 64]"},
			is:      ErrShape,
		},
		{
			name:  "two problems reported together",
			hide:  []string{"model.norm.weight"},
			shape: map[string][]int{"model.layers.0.mlp.down_proj.weight": {160, 64}},
			wantErr: []string{
				"layer 0: mlp.down_proj.weight has shape [160 64], want [64 160]",
				"missing model.norm.weight",
			},
			is: ErrShape,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := alteredReader{TensorReader: ck, hide: map[string]bool{}, shape: tc.shape}
			for _, h := range tc.hide {
				r.hide[h] = true
			}
			_, err := New(spec, r, nil)
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.is), "error %v is not %v", err, tc.is)
			for _, want := range tc.wantErr {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestBadLoadInputs(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		{"no directory", filepath.Join(modelsDir, "nonexistent"), "load model"},
		{"no checkpoint", "../../testdata", "load model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(tc.dir, nil)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestLogitsRejectsBadIDs(t *testing.T) {
	m := loadModel(t, "qwen3")
	tests := []struct {
		name    string
		ids     []int32
		adapter *Adapter
		wantErr string
	}{
		{"empty", nil, nil, "no token ids"},
		{"id past the vocabulary", []int32{1, 512}, nil, "token 1 is id 512, want 0 <= id < vocab size 512"},
		{"negative id", []int32{-1}, nil, "token 0 is id -1"},
		{"adapter for a missing layer", []int32{1}, &Adapter{Modules: []LoRAModule{{Layer: 5, Module: ModuleQ, Rank: 1}}}, "layer 5 out of range"},
		{"adapter with wrong A size", []int32{1}, &Adapter{Modules: []LoRAModule{{Layer: 0, Module: ModuleQ, Rank: 2, A: make([]float32, 3), B: make([]float32, 256)}}}, "want A [2 64] and B [128 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Logits(t.Context(), tc.ids, tc.adapter)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestSpecValidateArchitectureRules(t *testing.T) {
	base := func(arch string) *Spec {
		return &Spec{Architecture: arch, VocabSize: 8, Hidden: 4, Intermediate: 8, Layers: 2, Heads: 2, KVHeads: 1,
			HeadDim: 2, RMSNormEps: 1e-6, RopeInvFreq: []float32{1}}
	}
	tests := []struct {
		name    string
		spec    func() *Spec
		wantErr string
	}{
		{"llama plain", func() *Spec { return base("LlamaForCausalLM") }, ""},
		{"llama with attention and mlp biases", func() *Spec {
			s := base("LlamaForCausalLM")
			s.QKVBias, s.OBias, s.MLPBias = true, true, true
			return s
		}, ""},
		{"qwen2 without its biases", func() *Spec { return base("Qwen2ForCausalLM") }, "q/k/v biases missing"},
		{"qwen2 with o bias", func() *Spec {
			s := base("Qwen2ForCausalLM")
			s.QKVBias, s.OBias = true, true
			return s
		}, "o_proj biases requested"},
		{"mistral with biases", func() *Spec {
			s := base("MistralForCausalLM")
			s.QKVBias = true
			return s
		}, "q/k/v biases requested"},
		{"qwen3 without q/k norm", func() *Spec { return base("Qwen3ForCausalLM") }, "q/k norm is false, want true"},
		{"llama with a sliding window", func() *Spec {
			s := base("LlamaForCausalLM")
			s.SlidingWindows = []int{0, 4}
			return s
		}, "layer 1 has a sliding window"},
		{"unknown architecture", func() *Spec { return base("GemmaForCausalLM") }, `unsupported architecture: "GemmaForCausalLM", supported: [LlamaForCausalLM`},
		{"heads not a multiple of kv heads", func() *Spec {
			s := base("LlamaForCausalLM")
			s.Heads, s.KVHeads = 3, 2
			return s
		}, "num_attention_heads 3 is not a multiple of num_key_value_heads 2"},
		{"rope frequencies of the wrong length", func() *Spec {
			s := base("LlamaForCausalLM")
			s.RopeInvFreq = nil
			return s
		}, "have 0, want head_dim/2 = 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec().Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// TestPlaceOnDeviceWithoutSharedBuffers takes the path XLA takes (device-only weight tensors,
// host copies released) on the pure-Go backend and checks the logits still match the reference.
func TestPlaceOnDeviceWithoutSharedBuffers(t *testing.T) {
	dir := filepath.Join(modelsDir, "qwen2")
	cfg, err := hfconfig.Load(dir)
	require.NoError(t, err)
	spec, err := SpecFromConfig(cfg)
	require.NoError(t, err)
	ck, err := safetensors.OpenDir(dir)
	require.NoError(t, err)
	defer ck.Close()
	w, err := spec.readWeights(ck, false)
	require.NoError(t, err)
	b, err := defaultBackend()
	require.NoError(t, err)
	require.NoError(t, placeOnDevice(b, w, false))
	for _, x := range w {
		require.False(t, x.HasLocal(), "host copy kept")
	}
	m, err := newModel(spec, w, &Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	want := readExpected(t, dir, "logits.json")
	got, err := m.Logits(t.Context(), want.IDs, nil)
	require.NoError(t, err)
	require.Less(t, maxAbsDiff(t, want.Logits, got), 1e-4)
}
