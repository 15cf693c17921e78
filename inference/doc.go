// Package inference is the generation engine: it runs a causal language model with a KV cache,
// batches many requests continuously (requests join and leave between decode steps), samples
// each request with its own settings and random source, stops on EOS ids, stop token ids and stop
// strings, streams text deltas, and mixes LoRA adapters per request inside one batch, as S-LoRA
// and Punica do, without merging weights.
//
// An Engine is safe for concurrent use: any number of goroutines call Generate or Stream, and a
// single scheduler goroutine owns the model and its KV cache.
//
//	eng, err := inference.Load(ctx, "path/to/checkpoint", nil)
//	if err != nil { ... }
//	defer eng.Close()
//	res, err := eng.Generate(ctx, &inference.Request{Prompt: "Hello", MaxTokens: 32})
//
// No GoMLX type appears in this package's API; the compute runs on the backend that
// internal/backend chooses (the pure-Go backend when nothing else is configured).
package inference
