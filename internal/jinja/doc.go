// Package jinja is a focused implementation of the Jinja2 template language, as Python's Jinja2
// 3.x renders it, for the chat templates that Hugging Face tokenizers ship in
// tokenizer_config.json.
//
// It follows Python semantics where templates can observe them: whitespace control ({%- -%},
// trim_blocks, lstrip_blocks as transformers sets them), scoping of set inside loops and
// namespace(), Python truthiness, str() and repr() of values, code point based string indexing,
// Python's str methods (strip, split, startswith, ...), dict attribute lookup (.items, .get) and
// the builtin filters and tests. Values are plain Go values: nil (None), bool, int64, float64,
// string, []any (list), Tuple, *Dict (an ordered dict, as Python's), *Namespace, Undefined and
// callables. Rendering is bounded (steps, output size, recursion depth) so that untrusted
// templates cannot hang or exhaust memory.
//
// Templates are parsed once and are safe to render concurrently.
package jinja
