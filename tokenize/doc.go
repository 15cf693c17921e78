// Package tokenize is a pure-Go implementation of Hugging Face tokenizers: it reads
// tokenizer.json (BPE, byte-level or SentencePiece-style, WordPiece, WordLevel and Unigram
// models with their normalizers, pre-tokenizers, post-processors, decoders and added tokens),
// tokenizer_config.json and generation_config.json, and produces the same ids and the same
// decoded text as the Rust tokenizers crate that transformers uses.
//
// Any tokenizer.json feature it does not implement is a load error naming the component and
// its JSON path (wrapping ErrUnsupported), never a silent difference.
//
//	tok, err := tokenize.Load("path/to/model")
//	if err != nil { ... }
//	ids := tok.Encode("Hello world", true)
//	text := tok.Decode(ids, true)
//
// For streaming generation, NewStreamDecoder turns ids into text as soon as the text is final.
// ChatTemplate renders tokenizer_config.json's chat template (Jinja) the way transformers'
// apply_chat_template does, and finds the spans of assistant messages for loss masks.
//
// A Tokenizer is immutable after loading and safe for concurrent use; EncodeBatch encodes in
// parallel.
package tokenize
