// Package peft reads, validates and writes LoRA adapters in Hugging Face PEFT's format:
// adapter_config.json plus adapter_model.safetensors with keys
// base_model.model.<module>.lora_A.weight ([r, in]) and .lora_B.weight ([out, r]).
//
// Semantics follow PEFT's LoraConfig: the output delta of an adapted linear layer is
// ((x A^T) B^T) * scale with scale = alpha/r, or alpha/sqrt(r) with use_rslora; rank_pattern and
// alpha_pattern override r and lora_alpha per module with PEFT's key matching (the regex
// "(.*\.)?(KEY)$" against the module name, first key in file order wins); target_modules is a
// list of module-name suffixes, a regex matched against the whole name, or "all-linear".
// Settings this SDK does not implement (DoRA, fan_in_fan_out, LoRA on embeddings, LoRA biases,
// modules_to_save, layers_to_transform) are rejected with an error rather than ignored.
//
// Load reads an adapter directory; Adapter.Validate checks it against a model configuration
// (every module a linear layer of the model, shapes and ranks consistent with the config);
// Write produces a directory that PEFT, vLLM and this SDK load.
package peft
