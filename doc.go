// Package sdk is the root of the SectorFlow Go SDK: LoRA fine-tuning and batched, multi-adapter
// inference for open-weight language models (Llama, Mistral, Qwen2, Qwen3), in pure Go.
//
// The module is organised so that dependencies point one way:
//
//	cmd/sectorflow   the command line (inspect, logits, tokenize, tune, generate, serve, ...)
//	examples/        runnable programs, each with a test that runs it
//	sectorflow/      the facade most programs import: Model, Tuner, Storage, Meter, Redactor
//	tuning/          the LoRA training engine (datasets, loss masks, AdamW, checkpoints)
//	inference/       the generation engine (KV cache, continuous batching, sampling, multi-LoRA)
//	tokenize/        pure-Go tokenizers read from tokenizer.json, and chat templates
//	internal/        architectures, safetensors and config IO, backend selection, graph code
//
// Compute runs on GoMLX. With nothing configured the SDK uses GoMLX's pure-Go backend, which
// needs no C library and no download; set GOMLX_BACKEND (for example "xla:cuda") to use an
// installed XLA PJRT plugin. See README.md for the two commands that run everything.
package sdk
