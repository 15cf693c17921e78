// Package hfconfig reads a Hugging Face config.json into a typed, validated Config for the
// supported decoder architectures (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM), filling in transformers' defaults for absent keys.
//
// It resolves everything an engine needs from the raw keys: head_dim, the number of key/value
// heads, which projections carry biases, per-layer sliding windows (Mistral's sliding_window;
// Qwen2/Qwen3's use_sliding_window, max_window_layers and layer_types), the RoPE parameters in
// both transformers v4 (rope_theta + rope_scaling) and v5 (rope_parameters) layouts, and the
// RoPE inverse frequencies computed in float32 exactly as transformers does. Unsupported
// settings (an unknown architecture, a rope type other than default, linear or llama3, an
// activation other than silu) are errors, never silent fallbacks.
package hfconfig
