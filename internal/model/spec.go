package model

import (
	"errors"
	"fmt"
)

// ErrUnsupportedArch is wrapped by errors about an architecture this package cannot run.
var ErrUnsupportedArch = errors.New("unsupported architecture")

// Architectures lists the Hugging Face architecture names this package runs, in the order they
// are documented.
var Architectures = []string{"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}

// Spec is everything the forward pass needs to know about an architecture instance: sizes,
// which optional tensors exist, RoPE inverse frequencies and sliding-window layers. It is
// resolved from config.json by [SpecFromConfig]; benchmarks and tests may build one directly.
type Spec struct {
	// Architecture is the Hugging Face name, e.g. "LlamaForCausalLM".
	Architecture string
	// VocabSize, Hidden, Intermediate, Layers, Heads, KVHeads and HeadDim are the sizes.
	// HeadDim*Heads may differ from Hidden (Qwen3).
	VocabSize, Hidden, Intermediate, Layers, Heads, KVHeads, HeadDim int
	// RMSNormEps is the epsilon of every RMSNorm.
	RMSNormEps float64
	// RopeInvFreq holds the HeadDim/2 RoPE inverse frequencies with any scaling applied.
	RopeInvFreq []float32
	// TieWordEmbeddings makes the LM head reuse model.embed_tokens.weight.
	TieWordEmbeddings bool
	// QKVBias, OBias and MLPBias say which projections have a bias tensor.
	QKVBias, OBias, MLPBias bool
	// QKNorm enables Qwen3's per-head RMSNorm of q and k before RoPE.
	QKNorm bool
	// SlidingWindows[i] is layer i's attention window, 0 for none (nil: no layer has one); a query
	// at position p then sees keys at positions > p - window (transformers' sliding mask).
	SlidingWindows []int
	// MaxPositions is the context length from config.json (informational).
	MaxPositions int
	// BF16 makes Forward and LMHead run their matrix products on bfloat16 operands (see
	// [Options].BF16, which sets it on the model's copy of the spec); false: float32.
	BF16 bool
}

// Validate checks the sizes are positive and consistent and the optional tensors are ones the
// architecture has.
func (s *Spec) Validate() error {
	if err := s.checkArch(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", s.VocabSize}, {"hidden_size", s.Hidden}, {"intermediate_size", s.Intermediate},
		{"num_hidden_layers", s.Layers}, {"num_attention_heads", s.Heads}, {"num_key_value_heads", s.KVHeads},
		{"head_dim", s.HeadDim}} {
		if f.v <= 0 {
			return fmt.Errorf("%s is %d, want a positive number", f.name, f.v)
		}
	}
	if s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", s.Heads, s.KVHeads)
	}
	if s.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim is %d, want an even number for RoPE", s.HeadDim)
	}
	if len(s.RopeInvFreq) != s.HeadDim/2 {
		return fmt.Errorf("rope inverse frequencies: have %d, want head_dim/2 = %d", len(s.RopeInvFreq), s.HeadDim/2)
	}
	if s.SlidingWindows != nil && len(s.SlidingWindows) != s.Layers {
		return fmt.Errorf("sliding windows: have %d, want one per layer (%d)", len(s.SlidingWindows), s.Layers)
	}
	for i, w := range s.SlidingWindows {
		if w < 0 {
			return fmt.Errorf("layer %d: sliding window %d, want >= 0", i, w)
		}
	}
	return nil
}

// window returns layer i's sliding window, 0 for none.
func (s *Spec) window(i int) int {
	if i < len(s.SlidingWindows) {
		return s.SlidingWindows[i]
	}
	return 0
}

// Module names of the seven LoRA-targetable projections, as PEFT's target_modules spell them.
const (
	ModuleQ    = "q_proj"
	ModuleK    = "k_proj"
	ModuleV    = "v_proj"
	ModuleO    = "o_proj"
	ModuleGate = "gate_proj"
	ModuleUp   = "up_proj"
	ModuleDown = "down_proj"
)

// Modules lists the projection module names in the order a layer applies them.
var Modules = []string{ModuleQ, ModuleK, ModuleV, ModuleO, ModuleGate, ModuleUp, ModuleDown}

// ModuleDims returns the input and output sizes of a projection module ("q_proj", ...).
func (s *Spec) ModuleDims(module string) (in, out int, err error) {
	q, kv := s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	switch module {
	case ModuleQ:
		return s.Hidden, q, nil
	case ModuleK, ModuleV:
		return s.Hidden, kv, nil
	case ModuleO:
		return q, s.Hidden, nil
	case ModuleGate, ModuleUp:
		return s.Hidden, s.Intermediate, nil
	case ModuleDown:
		return s.Intermediate, s.Hidden, nil
	}
	return 0, 0, fmt.Errorf("unknown module %q, want one of %v", module, Modules)
}

// ModulePath returns the module's path inside a layer, e.g. "self_attn.q_proj" or "mlp.up_proj".
func ModulePath(module string) string {
	switch module {
	case ModuleGate, ModuleUp, ModuleDown:
		return "mlp." + module
	}
	return "self_attn." + module
}

// ParamCount returns the number of base parameters (tied embeddings counted once).
func (s *Spec) ParamCount() int64 {
	var n int64
	for _, t := range s.Tensors() {
		p := int64(1)
		for _, d := range t.Shape {
			p *= int64(d)
		}
		n += p
	}
	return n
}
