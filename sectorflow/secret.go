package sectorflow

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Secret holds a value that must never appear in logs: an API key, a password, a token a job
// was given. Every way of printing it (fmt verbs, String, GoString, slog, JSON and text
// marshalling) yields "[REDACTED:secret]"; only Reveal returns the value. The zero Secret is
// empty and prints as "".
type Secret struct {
	value string
}

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value. Call it only where the value is used, never to log it.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether s is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "[REDACTED:secret]", or "" for the zero Secret.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return marker(kindSecret)
}

// GoString returns the redacted form, so %#v does not reveal the value either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format prints the redacted form for every verb (%d or %x on a struct would otherwise print
// its fields).
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.String()))
	default:
		fmt.Fprint(f, s.String())
	}
}

// LogValue implements slog.LogValuer with the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form, so a Secret in a struct
// marshalled to JSON, YAML or a log does not leak. Serialise Reveal() explicitly where the value
// must be stored.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so a job spec read from JSON or YAML can
// carry secrets in a Secret field. Marshalling it again redacts them: the round trip is one way
// on purpose.
func (s *Secret) UnmarshalText(b []byte) error {
	s.value = string(b)
	return nil
}

// needle is one form of a registered secret to search for.
type needle struct {
	text string
	// run says the needle is base64 (std or URL alphabet): the whole base64 run around a match
	// is replaced, which also removes the partial characters the secret's bits share with its
	// neighbours.
	run byte
}

const (
	runNone = iota
	runStd
	runURL
)

// minCoreLength is the shortest base64 fragment searched inside longer base64 text: shorter
// fragments would match random base64 by chance.
const minCoreLength = 8

// secretNeedles returns the forms of v to search for.
func secretNeedles(v string) []needle {
	var out []needle
	add := func(text string, run byte) {
		if len(text) > 0 {
			out = append(out, needle{text: text, run: run})
		}
	}
	add(v, runNone)
	if q := url.QueryEscape(v); q != v {
		add(q, runNone)
		add(lowerPercent(q), runNone)
	}
	if p := url.PathEscape(v); p != v {
		add(p, runNone)
	}
	if j, err := json.Marshal(v); err == nil && string(j[1:len(j)-1]) != v {
		add(string(j[1:len(j)-1]), runNone)
	}
	if q := strconv.Quote(v); q[1:len(q)-1] != v {
		add(q[1:len(q)-1], runNone)
	}
	for _, enc := range []struct {
		e   *base64.Encoding
		run byte
	}{{base64.RawStdEncoding, runStd}, {base64.RawURLEncoding, runURL}} {
		// The secret alone: its full encoding (padding is swallowed by the run).
		add(enc.e.EncodeToString([]byte(v)), enc.run)
		// The secret inside longer data at byte offset k (mod 3): encode it behind k filler
		// bytes and keep the characters that depend on the secret's bytes only.
		for k := range 3 {
			e := enc.e.EncodeToString(append(make([]byte, k), v...))
			first := []int{0, 2, 3}[k]
			last := (k + len(v)) * 8 / 6
			if last-first >= minCoreLength {
				add(e[first:last], enc.run)
			}
		}
	}
	// A multi-line secret is also searched line by line, for logs redacted a line at a time.
	if strings.ContainsAny(v, "\r\n") {
		for line := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if checkSecret(line) == nil && line != v {
				out = append(out, secretNeedles(line)...)
			}
		}
	}
	return out
}

// lowerPercent lower-cases the hex digits of %XX escapes.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// findSecrets appends the spans of registered secrets found in s.
func (r *PatternRedactor) findSecrets(s string, spans []span) []span {
	for _, n := range r.needles {
		for off := 0; off < len(s); {
			i := strings.Index(s[off:], n.text)
			if i < 0 {
				break
			}
			start, end := off+i, off+i+len(n.text)
			if n.run != runNone {
				for start > 0 && isBase64Byte(s[start-1], n.run) {
					start--
				}
				for end < len(s) && isBase64Byte(s[end], n.run) {
					end++
				}
				for end < len(s) && s[end] == '=' {
					end++
				}
			}
			spans = append(spans, span{start: start, end: end, kind: kindSecret, prio: kindPrio[kindSecret]})
			off = end
		}
	}
	return spans
}

func isBase64Byte(c byte, run byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	case run == runStd:
		return c == '+' || c == '/'
	default:
		return c == '-' || c == '_'
	}
}
