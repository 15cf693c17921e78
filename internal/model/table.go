package model

import "fmt"

// TensorSpec is one row of an architecture's weight table: a Hugging Face tensor name and the
// shape it must have.
type TensorSpec struct {
	// Name is the full checkpoint name, e.g. "model.layers.3.self_attn.q_proj.weight".
	Name string
	// Layer is the decoder layer index, or -1 for the embedding, final norm and LM head.
	Layer int
	// Local is the name inside the layer ("self_attn.q_proj.weight") or the full name.
	Local string
	// Shape is the required shape.
	Shape []int
}

// layerTensor is one row of the per-layer table: the local name, the shape, and whether the
// architecture instance has it.
type layerTensor struct {
	local string
	shape func(s *Spec) []int
	has   func(s *Spec) bool
}

func always(*Spec) bool    { return true }
func qkvBias(s *Spec) bool { return s.QKVBias }
func oBias(s *Spec) bool   { return s.OBias }
func mlpBias(s *Spec) bool { return s.MLPBias }
func qkNorm(s *Spec) bool  { return s.QKNorm }
func vec(n func(*Spec) int) func(*Spec) []int {
	return func(s *Spec) []int { return []int{n(s)} }
}
func mat(out, in func(*Spec) int) func(*Spec) []int {
	return func(s *Spec) []int { return []int{out(s), in(s)} }
}
func hidden(s *Spec) int  { return s.Hidden }
func inter(s *Spec) int   { return s.Intermediate }
func qDim(s *Spec) int    { return s.Heads * s.HeadDim }
func kvDim(s *Spec) int   { return s.KVHeads * s.HeadDim }
func headDim(s *Spec) int { return s.HeadDim }

// layerTable is the weight table of one decoder layer, shared by the four architectures; which
// optional rows apply is decided by the Spec flags, within what [archRules] allows per
// architecture.
var layerTable = []layerTensor{
	{"input_layernorm.weight", vec(hidden), always},
	{"self_attn.q_proj.weight", mat(qDim, hidden), always},
	{"self_attn.q_proj.bias", vec(qDim), qkvBias},
	{"self_attn.k_proj.weight", mat(kvDim, hidden), always},
	{"self_attn.k_proj.bias", vec(kvDim), qkvBias},
	{"self_attn.v_proj.weight", mat(kvDim, hidden), always},
	{"self_attn.v_proj.bias", vec(kvDim), qkvBias},
	{"self_attn.q_norm.weight", vec(headDim), qkNorm},
	{"self_attn.k_norm.weight", vec(headDim), qkNorm},
	{"self_attn.o_proj.weight", mat(hidden, qDim), always},
	{"self_attn.o_proj.bias", vec(hidden), oBias},
	{"post_attention_layernorm.weight", vec(hidden), always},
	{"mlp.gate_proj.weight", mat(inter, hidden), always},
	{"mlp.gate_proj.bias", vec(inter), mlpBias},
	{"mlp.up_proj.weight", mat(inter, hidden), always},
	{"mlp.up_proj.bias", vec(inter), mlpBias},
	{"mlp.down_proj.weight", mat(hidden, inter), always},
	{"mlp.down_proj.bias", vec(hidden), mlpBias},
}

// Names of the tensors outside the layers.
const (
	EmbedName  = "model.embed_tokens.weight"
	NormName   = "model.norm.weight"
	LMHeadName = "lm_head.weight"
)

// LayerPrefix returns "model.layers.N.", the prefix of layer N's tensor names.
func LayerPrefix(layer int) string { return fmt.Sprintf("model.layers.%d.", layer) }

// Tensors returns the weight table of this instance in a fixed order: the embedding, every layer's
// tensors, the final norm, and the LM head unless the embeddings are tied. This order is the order
// of [Model.WeightNames] and of the parameters [WeightsFromNodes] expects.
func (s *Spec) Tensors() []TensorSpec {
	out := []TensorSpec{{Name: EmbedName, Layer: -1, Local: EmbedName, Shape: []int{s.VocabSize, s.Hidden}}}
	for i := range s.Layers {
		p := LayerPrefix(i)
		for _, row := range layerTable {
			if row.has(s) {
				out = append(out, TensorSpec{Name: p + row.local, Layer: i, Local: row.local, Shape: row.shape(s)})
			}
		}
	}
	out = append(out, TensorSpec{Name: NormName, Layer: -1, Local: NormName, Shape: []int{s.Hidden}})
	if !s.TieWordEmbeddings {
		out = append(out, TensorSpec{Name: LMHeadName, Layer: -1, Local: LMHeadName, Shape: []int{s.VocabSize, s.Hidden}})
	}
	return out
}

// archRule says which optional tensors an architecture may or must have, as transformers'
// modeling code for it defines them.
type archRule struct {
	// qkvBias and oBias: "never", "always" or "config" (attention_bias decides).
	qkvBias, oBias string
	// mlpBias: whether mlp_bias may add gate/up/down biases.
	mlpBias bool
	// qkNorm: whether the layer has q_norm and k_norm.
	qkNorm bool
	// sliding: whether layers may use a sliding window.
	sliding bool
}

// archRules is the per-architecture part of the weight tables:
//
//	LlamaForCausalLM    q/k/v/o biases iff attention_bias, gate/up/down biases iff mlp_bias, no window
//	MistralForCausalLM  no biases, sliding_window on every layer when set
//	Qwen2ForCausalLM    q/k/v biases always, o never; sliding on layers >= max_window_layers
//	Qwen3ForCausalLM    q_norm and k_norm always; q/k/v/o biases iff attention_bias; sliding as Qwen2
var archRules = map[string]archRule{
	"LlamaForCausalLM":   {qkvBias: "config", oBias: "config", mlpBias: true},
	"MistralForCausalLM": {qkvBias: "never", oBias: "never", sliding: true},
	"Qwen2ForCausalLM":   {qkvBias: "always", oBias: "never", sliding: true},
	"Qwen3ForCausalLM":   {qkvBias: "config", oBias: "config", qkNorm: true, sliding: true},
}

// checkArch verifies the Spec's optional tensors are ones its architecture has.
func (s *Spec) checkArch() error {
	r, ok := archRules[s.Architecture]
	if !ok {
		return fmt.Errorf("%w: %q, supported: %v", ErrUnsupportedArch, s.Architecture, Architectures)
	}
	bias := func(what, rule string, have bool) error {
		switch {
		case rule == "never" && have:
			return fmt.Errorf("%s: %s biases requested, but the architecture has none", s.Architecture, what)
		case rule == "always" && !have:
			return fmt.Errorf("%s: %s biases missing, but the architecture always has them", s.Architecture, what)
		}
		return nil
	}
	if err := bias("q/k/v", r.qkvBias, s.QKVBias); err != nil {
		return err
	}
	if err := bias("o_proj", r.oBias, s.OBias); err != nil {
		return err
	}
	if s.MLPBias && !r.mlpBias {
		return fmt.Errorf("%s: MLP biases requested, but the architecture has none", s.Architecture)
	}
	if s.QKNorm != r.qkNorm {
		return fmt.Errorf("%s: q/k norm is %v, want %v for this architecture", s.Architecture, s.QKNorm, r.qkNorm)
	}
	for i, w := range s.SlidingWindows {
		if w > 0 && !r.sliding {
			return fmt.Errorf("%s: layer %d has a sliding window, but the architecture has none", s.Architecture, i)
		}
	}
	return nil
}
