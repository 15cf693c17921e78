package model

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// LayerNodes holds one decoder layer's weights as graph nodes. Optional tensors the
// architecture lacks are nil.
type LayerNodes struct {
	InputNorm, PostAttnNorm    *graph.Node // [hidden]
	Q, K, V, O                 *graph.Node // [out, in], as stored by Hugging Face
	QBias, KBias, VBias, OBias *graph.Node // [out] or nil
	QNorm, KNorm               *graph.Node // [head_dim] (Qwen3) or nil
	Gate, Up, Down             *graph.Node // [out, in]
	GateBias, UpBias, DownBias *graph.Node // [out] or nil
}

// WeightNodes holds a model's base weights as graph nodes: graph parameters, context variables or
// anything else the caller builds. LMHead is the embedding node itself when embeddings are tied.
type WeightNodes struct {
	Embed  *graph.Node // [vocab, hidden]
	Norm   *graph.Node // [hidden]
	LMHead *graph.Node // [vocab, hidden]
	Layers []LayerNodes
}

// WeightsFromNodes maps nodes given in the order of [Spec.Tensors] (the order of
// [Model.WeightNames]) to a WeightNodes. It panics, as graph building does, when the count or a
// shape is wrong.
func (s *Spec) WeightsFromNodes(nodes []*graph.Node) *WeightNodes {
	table := s.Tensors()
	if len(nodes) != len(table) {
		panic(fmt.Errorf("model weights: got %d nodes, want %d (one per tensor of the weight table)", len(nodes), len(table)))
	}
	w := &WeightNodes{Layers: make([]LayerNodes, s.Layers)}
	for i, t := range table {
		n := nodes[i]
		if got := n.Shape().Dimensions; !equalInts(got, t.Shape) {
			panic(fmt.Errorf("model weights: %s has shape %v, want %v", t.Name, got, t.Shape))
		}
		if t.Layer < 0 {
			switch t.Name {
			case EmbedName:
				w.Embed = n
			case NormName:
				w.Norm = n
			case LMHeadName:
				w.LMHead = n
			}
			continue
		}
		l := &w.Layers[t.Layer]
		dst := map[string]**graph.Node{
			"input_layernorm.weight":          &l.InputNorm,
			"post_attention_layernorm.weight": &l.PostAttnNorm,
			"self_attn.q_proj.weight":         &l.Q,
			"self_attn.k_proj.weight":         &l.K,
			"self_attn.v_proj.weight":         &l.V,
			"self_attn.o_proj.weight":         &l.O,
			"self_attn.q_proj.bias":           &l.QBias,
			"self_attn.k_proj.bias":           &l.KBias,
			"self_attn.v_proj.bias":           &l.VBias,
			"self_attn.o_proj.bias":           &l.OBias,
			"self_attn.q_norm.weight":         &l.QNorm,
			"self_attn.k_norm.weight":         &l.KNorm,
			"mlp.gate_proj.weight":            &l.Gate,
			"mlp.up_proj.weight":              &l.Up,
			"mlp.down_proj.weight":            &l.Down,
			"mlp.gate_proj.bias":              &l.GateBias,
			"mlp.up_proj.bias":                &l.UpBias,
			"mlp.down_proj.bias":              &l.DownBias,
		}[t.Local]
		if dst == nil {
			panic(fmt.Errorf("model weights: no slot for %s", t.Name))
		}
		*dst = n
	}
	if s.TieWordEmbeddings {
		w.LMHead = w.Embed
	}
	return w
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
