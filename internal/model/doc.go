// Package model runs the decoder-only transformer architectures of Hugging Face checkpoints
// (LlamaForCausalLM incl. llama3 RoPE scaling, MistralForCausalLM with its sliding window,
// Qwen2ForCausalLM with q/k/v biases, Qwen3ForCausalLM with per-head q/k RMSNorm) as GoMLX
// graphs, numerically matching transformers in float32.
//
// # Layers of the API
//
// Host side: a [Spec] describes an architecture instance (sizes, optional tensors, RoPE inverse
// frequencies, sliding layers); [Spec.Tensors] is its explicit weight table, in a fixed order.
// [Load] reads a model directory (config.json through internal/hfconfig, safetensors through
// internal/safetensors); [New] reads and checks the weights from any checkpoint reader (errors
// such as "layer 7: self_attn.q_proj.weight has shape [64 32], want [64 64]" or
// "layer 1: missing input_layernorm.weight"), converting F16/BF16 to float32 on load unless
// [Options].KeepBF16. [Model.LoadAdapter] reads and validates a PEFT LoRA adapter.
// [Model.Logits] is the convenient whole-sequence entry point used by the CLI and tests; it is
// safe for concurrent use and caches one compiled program per adapter layout and length bucket.
//
// Graph side (for the tuning and inference engines): weights enter a graph as nodes, never as
// constants, so one compiled program serves every weight set. Get them from graph parameters or
// context variables fed with [Model.Weights] (in the order of [Model.WeightNames]) and map them
// with [Spec.WeightsFromNodes]. Then [Spec.Forward] builds the decoder:
//
//	w := spec.WeightsFromNodes(weightNodes)
//	out := spec.Forward(w, model.Inputs{
//		IDs:       ids,       // [B, T] int32
//		Positions: positions, // [B, T] int32, RoPE positions per token
//		Mask:      mask,      // [B, T, S] bool: query t may attend key s (S = T without a cache)
//		Cache:     cache,     // optional: per-layer K/V [B, KVHeads, S, HeadDim] + Slots [B, T]
//		LoRA:      lora,      // optional: func(layer, module, x) delta
//	})
//	logits := spec.LMHead(w, out.Hidden) // [B, T, vocab]
//	last := spec.LMHead(w, model.SelectPositions(out.Hidden, lastIndex)) // [B, vocab]
//
// Causality, padding (left or right) and packed sequences (block-diagonal masks with per-sample
// positions) are all expressed by the caller's Mask and Positions; sliding-window layers add
// "key position > query position - window" on top. [CausalMask] builds the common masks.
//
// With a Cache, the T new tokens' keys and values are written into the fixed-size cache at the
// given slots (a one-hot product: the pure-Go backend lacks DynamicUpdateSlice) and attention runs
// over all S slots; Outputs.K and Outputs.V are the updated caches to feed the next step.
//
// LoRA: a [LoRAFunc] returns the already-scaled delta of a projection's output for its input
// [B, T, in]; [StaticLoRA] builds one from an [Adapter]'s A/B nodes, [LoRADelta] is the PEFT
// formula ((x A^T) B^T) * scale. Tuning plugs trainable variables; inference serves several
// adapters in one batch with [GatherLoRA], which picks each row's adapter slot from per-projection
// [LoRAStack]s (A [N, R, in], B [N, out, R], Scale [N], ranks zero-padded to R; slot 0 empty).
//
// # Traps of GoMLX v0.26.0's pure-Go backend this package avoids
//
// Nothing on the differentiable path uses Slice, Split, Pad or DynamicSlice (rotate_half is a
// constant signed permutation matmul); RMSNorm uses 1/Sqrt (Rsqrt has no gradient); importing
// this package imports internal/graphx, which registers a DotGeneral gradient built from two
// DotGenerals. Decode steps (up to 32 rows) split large projections into chunks along a batch
// axis, which the pure-Go backend runs in parallel instead of re-blocking the whole LM head on
// every token. Graph building panics (GoMLX style); [Model.Logits] recovers and returns errors,
// and engines calling [Spec.Forward] must recover at their boundary too.
package model
