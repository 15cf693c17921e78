package tokenize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sectorflow/sdk/internal/jinja"
)

// Message is one turn of a conversation, in the shape of OpenAI's chat API and of the dicts that
// Hugging Face chat templates read.
//
// When a Message is decoded from JSON, the values of Extra are json.RawMessage: the template
// decodes them itself so that objects keep their key order (tool call arguments printed with
// tojson come out in the order the client sent them, as in Python). Extra values may also be
// ordinary Go values (maps are then printed with their keys sorted).
type Message struct {
	Role    string
	Content any            // usually a string; may be a list of parts ([]any of map[string]any)
	Extra   map[string]any // other keys (name, reasoning_content, tool_calls, ...), visible to the template as message fields

	// keys is the key order of the JSON object the message was decoded from; nil for messages
	// built in Go (role, content, then Extra in sorted order).
	keys []string
	// rawContent is the JSON of a list content, whose objects keep their key order when the
	// template prints them; it is used while Content still holds what was decoded from it.
	rawContent json.RawMessage
}

// MarshalJSON writes the message as a JSON object: role, content, then the Extra keys.
func (m Message) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range m.keyOrder() {
		var v any
		switch k {
		case "role":
			v = m.Role
		case "content":
			v = m.Content
		default:
			v = m.Extra[k]
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("marshal message field %q: %w", k, err)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a message object: "role" must be a string; "content" becomes a string, nil
// or a list of parts ([]any), or a json.RawMessage for other JSON values (such as a tool result
// object); other keys go to Extra as json.RawMessage.
func (m *Message) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("decode message: want a JSON object, found %s", chatAbbrev(data))
	}
	*m = Message{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decode message: %w", err)
		}
		k, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("decode message field %q: %w", k, err)
		}
		if chatHasKey(m.keys, k) {
			return fmt.Errorf("decode message: duplicate key %q", k)
		}
		m.keys = append(m.keys, k)
		switch k {
		case "role":
			if err := json.Unmarshal(raw, &m.Role); err != nil {
				return fmt.Errorf("decode message: role: want a string, found %s", chatAbbrev(raw))
			}
		case "content":
			var c any
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("decode message: content: %w", err)
			}
			switch c.(type) {
			case []any:
				m.Content = c
				m.rawContent = append(json.RawMessage(nil), raw...)
			case nil, string:
				m.Content = c
			default:
				// Objects (such as a tool result) and other values stay raw, keeping key order.
				m.Content = append(json.RawMessage(nil), raw...)
			}
		default:
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[k] = append(json.RawMessage(nil), raw...)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	return nil
}

func chatHasKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func chatAbbrev(b []byte) string {
	s := string(b)
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// keyOrder lists the fields the template sees, in order.
func (m Message) keyOrder() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range m.keys {
		switch k {
		case "role", "content":
		default:
			if _, ok := m.Extra[k]; !ok {
				continue
			}
		}
		out = append(out, k)
		seen[k] = true
	}
	if m.keys == nil {
		out = append(out, "role", "content")
		seen["role"], seen["content"] = true, true
	}
	var rest []string
	for k := range m.Extra {
		if !seen[k] && k != "role" && k != "content" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// templateValue converts the message into the dict the template iterates over.
func (m Message) templateValue() (*jinja.Dict, error) {
	d := jinja.NewDict()
	for _, k := range m.keyOrder() {
		var v any
		switch k {
		case "role":
			v = m.Role
		case "content":
			v = m.Content
			if m.rawContent != nil && m.contentUnchanged() {
				v = m.rawContent
			}
		default:
			v = m.Extra[k]
		}
		c, err := jinja.FromGo(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		d.Set(k, c)
	}
	return d, nil
}

// contentUnchanged reports whether Content still equals what rawContent decodes to.
func (m Message) contentUnchanged() bool {
	var c any
	if json.Unmarshal(m.rawContent, &c) != nil {
		return false
	}
	return reflect.DeepEqual(c, m.Content)
}

// TemplateError is an error the template raised itself with raise_exception(msg); Error
// returns msg exactly, as Python's jinja2.TemplateError(msg) prints.
type TemplateError struct{ Message string }

func (e *TemplateError) Error() string { return e.Message }

// ChatTemplate is a parsed Hugging Face chat template (the chat_template of
// tokenizer_config.json), rendered as transformers' apply_chat_template(..., tokenize=False)
// does. It is safe for concurrent use.
type ChatTemplate struct {
	tmpl            *jinja.Template
	special         map[string]any
	mentionsContent bool // the source contains "content", which ContinueFinalMessage needs
}

// specialTokenNames are the special_tokens_map keys transformers passes to templates.
var specialTokenNames = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// NewChatTemplate parses src with the Jinja settings of transformers (trim_blocks,
// lstrip_blocks). specialTokens is the tokenizer's special tokens map: bos_token, eos_token,
// unk_token, sep_token, pad_token, cls_token and mask_token as strings or AddedToken objects
// ({"content": ...}), nil when unset, and additional_special_tokens as a list; other keys are
// ignored. Syntax errors name the template line.
func NewChatTemplate(src string, specialTokens map[string]any) (*ChatTemplate, error) {
	t, err := jinja.Parse(src, &jinja.Options{TrimBlocks: true, LstripBlocks: true})
	if err != nil {
		return nil, fmt.Errorf("parse chat template: %w", err)
	}
	special := map[string]any{}
	for _, k := range specialTokenNames {
		v, ok := specialTokens[k]
		if !ok || v == nil {
			continue
		}
		s, err := tokenContentString(v)
		if err != nil {
			return nil, fmt.Errorf("chat template special token %s: %w", k, err)
		}
		special[k] = s
	}
	if v, ok := specialTokens["additional_special_tokens"]; ok && v != nil {
		items, err := jinja.FromGo(v)
		if err != nil {
			return nil, fmt.Errorf("chat template additional_special_tokens: %w", err)
		}
		list, ok := items.([]any)
		if !ok {
			return nil, fmt.Errorf("chat template additional_special_tokens: want a list, found %T", v)
		}
		var names []any
		for i, it := range list {
			s, err := tokenContentString(it)
			if err != nil {
				return nil, fmt.Errorf("chat template additional_special_tokens[%d]: %w", i, err)
			}
			names = append(names, s)
		}
		if len(names) > 0 {
			special["additional_special_tokens"] = names
		}
	}
	return &ChatTemplate{tmpl: t, special: special, mentionsContent: strings.Contains(src, "content")}, nil
}

// tokenContentString accepts a token as a string or an AddedToken object with "content".
func tokenContentString(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	c, err := jinja.FromGo(v)
	if err != nil {
		return "", err
	}
	if d, ok := c.(*jinja.Dict); ok {
		if s, ok := d.Get("content"); ok {
			if str, ok := s.(string); ok {
				return str, nil
			}
		}
	}
	if s, ok := c.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("want a string or an object with a string \"content\", found %T", v)
}

// ChatOptions are the optional inputs of a rendering; nil means all defaults.
type ChatOptions struct {
	AddGenerationPrompt bool
	Tools               []any          // nil -> template sees None
	Documents           []any          // retrieval documents ({"title", "text"} objects); nil -> None
	Vars                map[string]any // extra template variables (e.g. enable_thinking)
	// ContinueFinalMessage renders the conversation so that it ends inside the final message,
	// without its end-of-turn marker, for the model to continue it (prefill), as transformers'
	// continue_final_message does. It cannot be combined with AddGenerationPrompt.
	ContinueFinalMessage bool
	// Now is the clock of strftime_now; nil means time.Now.
	Now func() time.Time
}

// continueTag is transformers' sentinel for continue_final_message, trailing space included.
const continueTag = "CONTINUE_FINAL_MESSAGE_TAG "

// reservedChatVars are the variables Render sets itself; Vars may not override them, as
// Python would reject a duplicate keyword argument.
var reservedChatVars = map[string]bool{"messages": true, "tools": true, "documents": true, "add_generation_prompt": true}

// Render renders the conversation. When the template calls raise_exception(msg) the error is a
// *TemplateError whose Error() is exactly msg; other failures are wrapped errors that name the
// template line.
func (c *ChatTemplate) Render(msgs []Message, opts *ChatOptions) (string, error) {
	out, _, err := c.render(msgs, opts)
	return out, err
}

// HasGeneration reports whether the template marks assistant output with {% generation %}
// blocks, which GenerationSpans reads.
func (c *ChatTemplate) HasGeneration() bool {
	return c != nil && c.tmpl != nil && c.tmpl.HasGeneration()
}

// GenerationSpans renders the conversation and returns the byte ranges [start, end) of the
// output of the template's {% generation %} blocks: what transformers'
// apply_chat_template(..., return_assistant_tokens_mask=True) marks as assistant text. Unlike
// AssistantSpans it needs no prefix renderings, so it works for templates that rewrite past
// turns; it fails for templates without generation blocks (see HasGeneration).
func (c *ChatTemplate) GenerationSpans(msgs []Message, opts *ChatOptions) (string, [][2]int, error) {
	if !c.HasGeneration() {
		return "", nil, fmt.Errorf("generation spans: the chat template has no {%% generation %%} blocks")
	}
	if opts != nil && opts.ContinueFinalMessage {
		return "", nil, fmt.Errorf("generation spans: ContinueFinalMessage cuts the rendering; spans need the whole of it")
	}
	return c.render(msgs, opts)
}

func (c *ChatTemplate) render(msgs []Message, opts *ChatOptions) (string, [][2]int, error) {
	if c == nil || c.tmpl == nil {
		return "", nil, fmt.Errorf("render chat template: the ChatTemplate was not made by NewChatTemplate")
	}
	var o ChatOptions
	if opts != nil {
		o = *opts
	}
	vars := map[string]any{}
	for k, v := range c.special {
		vars[k] = v
	}
	list := make([]any, len(msgs))
	for i, m := range msgs {
		d, err := m.templateValue()
		if err != nil {
			return "", nil, fmt.Errorf("render chat template: message %d: %w", i, err)
		}
		list[i] = d
	}
	var finalText string
	if o.ContinueFinalMessage {
		if o.AddGenerationPrompt {
			return "", nil, fmt.Errorf("render chat template: ContinueFinalMessage and AddGenerationPrompt are not compatible: continue the final message, or prompt a new assistant message")
		}
		var err error
		if finalText, err = c.tagFinalMessage(list); err != nil {
			return "", nil, fmt.Errorf("render chat template: %w", err)
		}
	}
	vars["messages"] = list
	vars["documents"] = nil
	if o.Documents != nil {
		docs, err := jinja.FromGo(o.Documents)
		if err != nil {
			return "", nil, fmt.Errorf("render chat template: documents: %w", err)
		}
		vars["documents"] = docs
	}
	vars["add_generation_prompt"] = o.AddGenerationPrompt
	if o.Tools != nil {
		tools, err := jinja.FromGo(o.Tools)
		if err != nil {
			return "", nil, fmt.Errorf("render chat template: tools: %w", err)
		}
		vars["tools"] = tools
	} else {
		vars["tools"] = nil
	}
	for k, v := range o.Vars {
		if reservedChatVars[k] {
			return "", nil, fmt.Errorf("render chat template: variable %q is set by Render; pass it through its own option", k)
		}
		vars[k] = v
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	vars["raise_exception"] = &jinja.Function{Name: "raise_exception", Fn: func(args []any, _ *jinja.Dict) (any, error) {
		msg := ""
		if len(args) > 0 {
			msg = jinja.Str(args[0])
		}
		return nil, &TemplateError{Message: msg}
	}}
	vars["strftime_now"] = &jinja.Function{Name: "strftime_now", Fn: func(args []any, _ *jinja.Dict) (any, error) {
		if len(args) != 1 {
			return nil, &jinja.Error{Msg: fmt.Sprintf("strftime_now: want 1 argument (a format), found %d", len(args))}
		}
		f, ok := args[0].(string)
		if !ok {
			return nil, &jinja.Error{Msg: "strftime_now: the format must be a string"}
		}
		return strftime(now(), f), nil
	}}
	out, spans, err := c.tmpl.RenderSpans(vars)
	if err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			return "", nil, te
		}
		return "", nil, fmt.Errorf("render chat template: %w", err)
	}
	if o.ContinueFinalMessage {
		out, err := cutAtContinueTag(out, finalText)
		return out, nil, err
	}
	return out, spans, nil
}

// tagFinalMessage appends continueTag to the final message's text (its content string, or the
// text of its last text part) and returns that text as it was.
func (c *ChatTemplate) tagFinalMessage(list []any) (string, error) {
	if len(list) == 0 {
		return "", fmt.Errorf("ContinueFinalMessage needs a final message, found an empty conversation")
	}
	if !c.mentionsContent {
		return "", fmt.Errorf("ContinueFinalMessage: the chat template never reads \"content\"")
	}
	last := list[len(list)-1].(*jinja.Dict)
	content, _ := last.Get("content")
	switch x := content.(type) {
	case string:
		last.Set("content", x+continueTag)
		return x, nil
	case []any:
		for i := len(x) - 1; i >= 0; i-- {
			part, ok := x[i].(*jinja.Dict)
			if !ok {
				continue
			}
			if text, ok := part.Get("text"); ok {
				s, isStr := text.(string)
				if !isStr {
					return "", fmt.Errorf("ContinueFinalMessage: the final message's text part is a %T, want a string", text)
				}
				part.Set("text", s+continueTag)
				return s, nil
			}
		}
		return "", fmt.Errorf("ContinueFinalMessage: the final message has no text part to continue")
	case nil:
		return "", fmt.Errorf("ContinueFinalMessage: the final message has no \"content\" to continue")
	}
	return "", fmt.Errorf("ContinueFinalMessage: the final message's content is a %T, want a string or a list of parts", content)
}

// cutAtContinueTag ends the rendering where the tagged final message ends, as transformers
// does: at the tag when the template kept it intact, else before it with trailing whitespace
// removed (the template trimmed the content).
func cutAtContinueTag(out, finalText string) (string, error) {
	bare := strings.TrimSpace(continueTag)
	stripped := strings.TrimFunc(finalText, jinja.IsSpace)
	loc := strings.LastIndex(out, bare)
	if loc < 0 || !strings.Contains(out, stripped) {
		return "", fmt.Errorf("render chat template: ContinueFinalMessage: the final message does not appear in the rendering (the template rewrites it), so it cannot be continued")
	}
	if strings.HasPrefix(out[loc:], continueTag) {
		return out[:loc], nil
	}
	return strings.TrimRightFunc(out[:loc], jinja.IsSpace), nil
}

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
