// Package sectorflow is the facade of the SectorFlow SDK: load a model and generate text with
// per-request LoRA adapters (Model), fine-tune LoRA adapters (Tuner), and plug the platform
// contracts in: tenant-scoped Storage with retention and encryption at rest, a Meter that
// receives usage for billing, and a Redactor that keeps client secrets out of job logs.
//
// Each contract is a small interface with good default implementations in this package (a
// file-system store, an in-memory store, in-memory and JSON-lines meters, a pattern redactor and
// a redacting slog.Handler); a hosted platform implements the same interfaces and proves its
// implementations with the conformance suite in sectorflow/storagetest.
//
// Compute runs on GoMLX: the pure-Go backend by default (nothing to install), or an NVIDIA GPU
// through XLA with a CUDA PJRT plugin (GOMLX_BACKEND=xla:cuda or ModelOptions.Backend; the
// README's GPU section has the steps). ModelOptions.Precision and TuneOptions.Precision choose
// exact float32 (the default) or bfloat16 products, which is what to use on a GPU.
package sectorflow
