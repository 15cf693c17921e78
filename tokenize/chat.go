package tokenize

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sectorflow/sdk/internal/jinja"
)

// TemplateError is an error the template raised itself with raise_exception(msg); Error
// returns msg exactly, as Python's jinja2.TemplateError(msg) prints.
type TemplateError struct{ Message string }

// Error returns the message the template raised, unchanged.
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
