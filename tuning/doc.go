// Package tuning is the LoRA fine-tuning engine: it turns a JSONL dataset into loss-masked,
// bucketed or packed batches, trains PEFT-compatible LoRA adapters on a frozen base model with
// AdamW, and writes adapters, resumable checkpoints and merged checkpoints.
//
// The pipeline, each step usable on its own:
//
//   - ParseJSONL reads the three dataset shapes (chat messages, prompt/completion, text) and
//     reports every bad line with its number and reason in a *DatasetError.
//   - Prepare tokenizes examples and marks the loss targets from the chat template's own
//     rendering: assistant turns (with weight 1) and their end-of-turn marker, completions plus
//     EOS, or every token of a text.
//   - Train runs the optimisation and reports progress as events; checkpoints resume to the bit.
//
// tuning knows nothing of storage, billing or tenants: it takes directories, an io.Writer or a
// callback, and the sectorflow package wires the platform in.
package tuning
