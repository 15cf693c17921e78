package tokenize

import (
	"strings"
)

// StreamDecoder turns a stream of generated ids into text incrementally. Text is emitted as
// soon as it is final: never a broken UTF-8 sequence, never half of a byte-fallback run. The
// concatenation of everything Add and Flush return equals Decode of all the ids.
// A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	t    *Tokenizer
	skip bool
	// ids[start:] is the decoding window; prefix is the text of ids[start:read], already emitted.
	ids    []int
	start  int
	read   int
	prefix string
	out    strings.Builder // all emitted text, to reconcile at Flush
}

// NewStreamDecoder returns a decoder for one generated sequence.
func (t *Tokenizer) NewStreamDecoder(skipSpecialTokens bool) *StreamDecoder {
	return &StreamDecoder{t: t, skip: skipSpecialTokens}
}

// Add appends one id and returns the text that became final ("" when none did).
func (d *StreamDecoder) Add(id int) string {
	d.ids = append(d.ids, id)
	if d.t.byteFallback {
		// A later byte token can turn a valid run into U+FFFD replacements, so a run of
		// <0xXX> tokens is final only once a token of another kind follows it.
		// A skipped special token adds no text and does not end a run either.
		if s, ok := d.t.tokenString(id); ok {
			if _, isByte := parseByteToken(s); isByte || (d.skip && d.t.specialContent[s]) {
				return ""
			}
		}
	}
	text := d.t.Decode(d.ids[d.start:], d.skip)
	if len(text) <= len(d.prefix) || strings.HasSuffix(text, "\uFFFD") || !strings.HasPrefix(text, d.prefix) {
		return ""
	}
	newText := text[len(d.prefix):]
	// Keep the ids since the last emission as context for the next one (decoders such as
	// Metaspace treat the first token of a window differently).
	d.start = d.read
	d.read = len(d.ids)
	d.prefix = d.t.Decode(d.ids[d.start:], d.skip)
	d.out.WriteString(newText)
	return newText
}

// Flush returns whatever text is still held back (such as an incomplete UTF-8 sequence at the
// very end, which decodes to U+FFFD as in Decode).
func (d *StreamDecoder) Flush() string {
	full := d.t.Decode(d.ids, d.skip)
	done := d.out.String()
	var rest string
	if strings.HasPrefix(full, done) {
		rest = full[len(done):]
	} else {
		// The windowed decode disagreed with the full one; emit what the window says.
		text := d.t.Decode(d.ids[d.start:], d.skip)
		if strings.HasPrefix(text, d.prefix) {
			rest = text[len(d.prefix):]
		}
	}
	d.out.WriteString(rest)
	d.start, d.read = len(d.ids), len(d.ids)
	d.prefix = ""
	return rest
}
