package hfconfig

import (
	"errors"
	"fmt"
)

// ErrUnsupportedArch is wrapped by the error for an architecture this package does not know.
var ErrUnsupportedArch = errors.New("unsupported architecture")

// ErrUnsupported is wrapped by errors for a recognised setting whose value is not implemented
// (for example rope_type "yarn" or hidden_act "gelu").
var ErrUnsupported = errors.New("unsupported setting")

// ConfigError reports one invalid or unsupported field of config.json.
type ConfigError struct {
	// Field is the config.json key, e.g. "num_key_value_heads" or "rope_scaling.factor".
	Field string
	// Reason says what was expected and what was found.
	Reason string
	// Err is an optional sentinel (ErrUnsupported, ErrUnsupportedArch) for errors.Is.
	Err error
}

// Error implements error.
func (e *ConfigError) Error() string { return fmt.Sprintf("config.json: %s: %s", e.Field, e.Reason) }

// Unwrap returns the sentinel, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
