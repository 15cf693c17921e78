package sectorflow

import (
	"context"
	"fmt"
	"log/slog"
)

// RedactingHandler is a slog.Handler that censors secrets before records reach the handler it
// wraps: the message, every attribute key and string value, values inside groups, attributes
// added with WithAttrs, group names, and what LogValuer values resolve to. Values of other types
// (errors, Stringers, structs) are printed with fmt and replaced by the redacted text when it
// differs. An attribute whose key names a secret (password, client_secret, api_key, a token, ...)
// has its whole string value replaced, since a bare password has no recognisable shape.
type RedactingHandler struct {
	inner slog.Handler
	r     Redactor
}

// NewRedactingHandler wraps inner so that every record passes through r first. A nil r means
// a PatternRedactor with no registered secrets; a nil inner discards the records.
func NewRedactingHandler(inner slog.Handler, r Redactor) *RedactingHandler {
	if r == nil {
		r = defaultRedactor()
	}
	if inner == nil {
		inner = slog.DiscardHandler
	}
	return &RedactingHandler{inner: inner, r: r}
}

// defaultRedactor returns the built-in patterns without registered secrets.
func defaultRedactor() Redactor {
	r, err := NewPatternRedactor(nil)
	if err != nil { // cannot happen: there are no secrets to reject
		return RedactorFunc(func(string) string { return marker(kindUnstable) })
	}
	return r
}

// Enabled reports whether the wrapped handler handles level.
func (h *RedactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle redacts rec and passes it on.
func (h *RedactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs redacts attrs and returns a handler that adds them to every record.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &RedactingHandler{inner: h.inner.WithAttrs(red), r: h.r}
}

// WithGroup returns a handler that nests later attributes under name.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{inner: h.inner.WithGroup(h.r.Redact(name)), r: h.r}
}

// Unwrap returns the wrapped handler.
func (h *RedactingHandler) Unwrap() slog.Handler { return h.inner }

// attr returns a redacted copy of a.
func (h *RedactingHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	key := h.r.Redact(a.Key)
	if v.Kind() == slog.KindGroup {
		group := v.Group()
		red := make([]slog.Attr, len(group))
		for i, g := range group {
			red[i] = h.attr(g)
		}
		return slog.Attr{Key: key, Value: slog.GroupValue(red...)}
	}
	kind, strength := classifyKey(a.Key)
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if strength != notSecret && secretValue(s, strength) {
			return slog.String(key, marker(kind))
		}
		return slog.String(key, h.r.Redact(s))
	case slog.KindAny:
		s := anyText(v.Any())
		if strength != notSecret && secretValue(s, strength) {
			return slog.String(key, marker(kind))
		}
		if red := h.r.Redact(s); red != s {
			return slog.String(key, red)
		}
	}
	return slog.Attr{Key: key, Value: v}
}

// anyText is how a handler would print v; fmt recovers from a panicking Error or String method.
func anyText(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprintf("%+v", v)
}
