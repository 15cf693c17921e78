package tokenize

import (
	"errors"
	"fmt"
)

// ErrUnsupported is wrapped by load errors for tokenizer.json features this package does not
// implement, so that no tokenizer is ever loaded with a silent difference from the Rust crate.
var ErrUnsupported = errors.New("unsupported tokenizer feature")

// FormatError reports a value in tokenizer.json (or a config file) that cannot be used: a
// missing or mistyped field, an unknown or unsupported component. Path is the JSON path of the
// value, such as "pre_tokenizer.pretokenizers[0].pattern".
type FormatError struct {
	File   string // "tokenizer.json", "tokenizer_config.json" or "generation_config.json"
	Path   string
	Reason string
	Err    error // ErrUnsupported, a JSON error, or nil
}

func (e *FormatError) Error() string {
	msg := fmt.Sprintf("%s: %s: %s", e.File, e.Path, e.Reason)
	if e.Err != nil && !errors.Is(e.Err, ErrUnsupported) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }
