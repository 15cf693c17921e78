package sectorflow

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says what an object is. It is part of every Key, so one tenant's datasets, adapters and
// logs live in separate namespaces.
type Kind string

// The kinds of object a tenant owns.
const (
	KindDataset    Kind = "dataset"    // training or evaluation data
	KindAdapter    Kind = "adapter"    // a LoRA adapter (PEFT format)
	KindModel      Kind = "model"      // a merged model
	KindCheckpoint Kind = "checkpoint" // a resumable training checkpoint
	KindLog        Kind = "log"        // a job log; temporary by default
	KindFile       Kind = "file"       // a file a client uploaded
	KindJob        Kind = "job"        // a job record
)

// Kinds lists every valid Kind, in a stable order.
func Kinds() []Kind {
	return []Kind{KindDataset, KindAdapter, KindModel, KindCheckpoint, KindLog, KindFile, KindJob}
}

// Valid reports whether k is one of the kinds listed by Kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindDataset, KindAdapter, KindModel, KindCheckpoint, KindLog, KindFile, KindJob:
		return true
	}
	return false
}

// Limits on the parts of a Key.
const (
	MaxTenantLen = 64  // bytes in a tenant id
	MaxNameLen   = 200 // bytes in an object name
)

// ErrInvalidKey is the condition every key validation error matches with errors.Is.
var ErrInvalidKey = errors.New("invalid storage key")

// KeyError says which part of a key is invalid and why. It matches ErrInvalidKey.
type KeyError struct {
	Field  string // "tenant", "kind", "name" or "prefix"
	Value  string // the offending value, quoted when printed
	Reason string // what was expected and what was found
}

// Error implements error.
func (e *KeyError) Error() string {
	return fmt.Sprintf("invalid storage key: %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrInvalidKey.
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// Key names one object: the tenant that owns it, its kind and its name within that kind.
//
// Keys are validated strictly so that no key can reach another tenant's data on any backend
// (file system, object store, database): a tenant id is 1 to 64 bytes of lower-case ASCII
// letters, digits, '-' and '_', starting with a letter or digit; a name is 1 to 200 bytes of
// ASCII letters, digits, '.', '-' and '_', starting with a letter or digit, with no "..", and not
// a reserved device name of Windows (CON, NUL, COM1...). Everything else is rejected: path
// separators, absolute paths, NUL and control characters, and every non-ASCII character (so no
// fullwidth, compatibility or look-alike form can alias a valid name).
type Key struct {
	Tenant string
	Kind   Kind
	Name   string
}

// String returns "tenant/kind/name", the form used in errors and object paths.
func (k Key) String() string { return k.Tenant + "/" + string(k.Kind) + "/" + k.Name }

// Validate returns a *KeyError when any part of k is invalid.
func (k Key) Validate() error {
	if err := ValidateTenant(k.Tenant); err != nil {
		return err
	}
	if !k.Kind.Valid() {
		return &KeyError{Field: "kind", Value: string(k.Kind), Reason: fmt.Sprintf("expected one of %v", Kinds())}
	}
	return validateName(k.Name)
}

// ValidateTenant returns a *KeyError when tenant is not a valid tenant id.
func ValidateTenant(tenant string) error {
	bad := func(reason string) error { return &KeyError{Field: "tenant", Value: tenant, Reason: reason} }
	if tenant == "" {
		return bad("expected 1 to 64 bytes, found an empty id")
	}
	if len(tenant) > MaxTenantLen {
		return bad(fmt.Sprintf("expected at most %d bytes, found %d", MaxTenantLen, len(tenant)))
	}
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return bad(fmt.Sprintf("expected lower-case ASCII letters, digits, '-' or '_' (not first), found %s at byte %d", describeByte(tenant, i), i))
		}
	}
	return nil
}

func validateNameChars(name string) error {
	bad := func(reason string) error { return &KeyError{Field: "name", Value: name, Reason: reason} }
	if name == "" {
		return bad(fmt.Sprintf("expected 1 to %d bytes, found an empty name", MaxNameLen))
	}
	if len(name) > MaxNameLen {
		return bad(fmt.Sprintf("expected at most %d bytes, found %d", MaxNameLen, len(name)))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return bad(fmt.Sprintf("expected ASCII letters, digits, '.', '-' or '_' (not first), found %s at byte %d", describeByte(name, i), i))
		}
	}
	if strings.Contains(name, "..") {
		return bad("expected no \"..\", found one")
	}
	return nil
}

func validateName(name string) error {
	if err := validateNameChars(name); err != nil {
		return err
	}
	if strings.HasSuffix(name, ".") {
		// Windows drops a trailing dot, so "a." would alias "a" there.
		return &KeyError{Field: "name", Value: name, Reason: "expected no trailing '.', found one"}
	}
	base, _, _ := strings.Cut(name, ".")
	if isWindowsDevice(base) {
		return &KeyError{Field: "name", Value: name, Reason: fmt.Sprintf("expected a file name, found the reserved device name %q", base)}
	}
	return nil
}

// validatePrefix checks a List prefix: a prefix of "kind/name", so "", "adap", "adapter/",
// "adapter/my-" are all valid.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	kind, name, hasSlash := strings.Cut(prefix, "/")
	bad := func(reason string) error { return &KeyError{Field: "prefix", Value: prefix, Reason: reason} }
	if !hasSlash {
		for _, k := range Kinds() {
			if strings.HasPrefix(string(k), kind) {
				return nil
			}
		}
		return bad(fmt.Sprintf("expected a prefix of \"kind/name\" with a kind from %v", Kinds()))
	}
	if !Kind(kind).Valid() {
		return bad(fmt.Sprintf("expected a kind from %v before '/', found %q", Kinds(), kind))
	}
	if name == "" {
		return nil
	}
	// A device name such as "CON" is a valid prefix of "CONFIG", so only characters are checked.
	if err := validateNameChars(name); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			return bad(ke.Reason)
		}
		return err
	}
	return nil
}

func describeByte(s string, i int) string {
	c := s[i]
	switch {
	case c == 0:
		return "NUL"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("control byte 0x%02x", c)
	case c >= 0x80:
		return fmt.Sprintf("non-ASCII byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", c)
}

func isWindowsDevice(base string) bool {
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return true
	}
	return false
}

// ParseKey parses "tenant/kind/name" (the form String returns) and validates it.
func ParseKey(s string) (Key, error) {
	tenant, rest, ok1 := strings.Cut(s, "/")
	kind, name, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return Key{}, &KeyError{Field: "key", Value: s, Reason: "expected \"tenant/kind/name\""}
	}
	k := Key{Tenant: tenant, Kind: Kind(kind), Name: name}
	if err := k.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// validateListArgs checks the arguments of Driver.ListObjects: a valid tenant and prefix, or
// "" and "" for every tenant.
func validateListArgs(tenant, prefix string) error {
	if tenant == "" {
		if prefix != "" {
			return &KeyError{Field: "prefix", Value: prefix, Reason: "expected no prefix when listing every tenant"}
		}
		return nil
	}
	if err := ValidateTenant(tenant); err != nil {
		return err
	}
	return validatePrefix(prefix)
}
