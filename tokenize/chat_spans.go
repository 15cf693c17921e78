package tokenize

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Span is the byte range [Start, End) of the rendering that belongs to assistant message
// MessageIndex: what the template writes for that turn after the generation prompt (the content
// as the template rewrites it, the end-of-turn marker and any separator after it).
type Span struct{ MessageIndex, Start, End int }

// Codepoints converts the span into code point (rune) offsets into rendered, for consumers
// that index text by characters (Python strings).
func (s Span) Codepoints(rendered string) (start, end int) {
	if s.Start < 0 || s.End < s.Start || s.End > len(rendered) {
		return -1, -1
	}
	start = utf8.RuneCountInString(rendered[:s.Start])
	return start, start + utf8.RuneCountInString(rendered[s.Start:s.End])
}

// SpanError says why assistant spans cannot be computed for a conversation by prefix
// differences: the first assistant message that fails and the check it fails.
type SpanError struct {
	MessageIndex int
	Reason       string
}

// Error names the message and the failed check, as spans.jsonl's failure field does.
func (e *SpanError) Error() string {
	return fmt.Sprintf("assistant message %d: %s", e.MessageIndex, e.Reason)
}

// AssistantSpans renders the conversation with add_generation_prompt=false and returns one span
// per assistant message, by prefix differences: for assistant message i, with
// P = render(msgs[:i], generation prompt) and F = render(msgs[:i+1]), the span is
// [len(P), len(F)). This needs i > 0, a non-empty generation prompt, F starting with P, and the
// full rendering starting with F (later messages do not rewrite turn i); otherwise the error is
// a *SpanError naming the message and the failed check. opts.AddGenerationPrompt and
// opts.ContinueFinalMessage are ignored.
func (c *ChatTemplate) AssistantSpans(msgs []Message, opts *ChatOptions) (string, []Span, error) {
	var o ChatOptions
	if opts != nil {
		o = *opts
	}
	o.ContinueFinalMessage = false
	render := func(ms []Message, gen bool) (string, error) {
		o.AddGenerationPrompt = gen
		return c.Render(ms, &o)
	}
	full, err := render(msgs, false)
	if err != nil {
		return "", nil, err
	}
	var spans []Span
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		if i == 0 {
			return "", nil, &SpanError{i, "prefix is an empty conversation"}
		}
		withPrompt, err := render(msgs[:i], true)
		if err != nil {
			return "", nil, fmt.Errorf("assistant message %d: render the prefix: %w", i, err)
		}
		without, err := render(msgs[:i], false)
		if err != nil {
			return "", nil, fmt.Errorf("assistant message %d: render the prefix: %w", i, err)
		}
		if without == withPrompt {
			return "", nil, &SpanError{i, "the template adds no generation prompt (the prefix renders the same with and without add_generation_prompt)"}
		}
		upTo, err := render(msgs[:i+1], false)
		if err != nil {
			return "", nil, fmt.Errorf("assistant message %d: render up to it: %w", i, err)
		}
		if !strings.HasPrefix(upTo, withPrompt) {
			return "", nil, &SpanError{i, fmt.Sprintf("the render up to it does not start with the prefix and its generation prompt (differs at code point %d)", firstDiffRune(upTo, withPrompt))}
		}
		if !strings.HasPrefix(full, upTo) {
			return "", nil, &SpanError{i, fmt.Sprintf("the full render does not start with the render up to it — later messages change how this turn is rendered (differs at code point %d)", firstDiffRune(full, upTo))}
		}
		spans = append(spans, Span{MessageIndex: i, Start: len(withPrompt), End: len(upTo)})
	}
	return full, spans, nil
}

// firstDiffRune is the code point index of the first difference between a and b.
func firstDiffRune(a, b string) int {
	n := 0
	for len(a) > 0 && len(b) > 0 {
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if ra != rb || sa != sb {
			break
		}
		a, b = a[sa:], b[sb:]
		n++
	}
	return n
}
