// Package tuning is the LoRA fine-tuning engine: it turns a JSONL dataset into loss-masked,
// bucketed or packed batches, trains PEFT-compatible LoRA adapters on a frozen base model with
// AdamW, and writes adapters, resumable checkpoints and merged checkpoints.
//
// The pipeline, each step usable on its own:
//
//   - ParseJSONL reads the three dataset shapes (chat messages, prompt/completion, text) and
//     reports every bad line with its number and reason in a *DatasetError.
//   - Prepare tokenizes examples and marks the loss targets from the chat template's own
//     rendering (TargetMask): assistant turns with weight 1 and their end-of-turn marker,
//     completions plus EOS, or every token of a text. ValidateDataset runs both with a model's
//     tokenizer and returns the statistics.
//   - Train runs the optimisation (PEFT initialisation, AdamW, warmup and decay, global-norm
//     clipping, gradient accumulation normalised by target tokens), reports progress as events,
//     and writes the adapter in PEFT format; its checkpoints resume to the bit.
//   - Merge folds an adapter into its base model as a plain Hugging Face checkpoint.
//
// tuning knows nothing of storage, billing or tenants: it takes paths and a callback, and the
// sectorflow package wires the platform in.
package tuning
