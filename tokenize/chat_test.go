package tokenize

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const chatMLTemplate = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

func TestMessageJSON(t *testing.T) {
	tests := []struct {
		name, in string
		role     string
		content  any
		extra    []string // Extra keys
		out      string   // MarshalJSON
		err      string
	}{
		{"plain", `{"role": "user", "content": "hi"}`, "user", "hi", nil, `{"role":"user","content":"hi"}`, ""},
		{"extra keys keep order and bytes", `{"content": null, "tool_calls": [{"function": {"name": "f", "arguments": {"z": 1, "a": 2}}}], "role": "assistant", "name": "bot"}`,
			"assistant", nil, []string{"name", "tool_calls"},
			`{"content":null,"tool_calls":[{"function":{"name":"f","arguments":{"z":1,"a":2}}}],"role":"assistant","name":"bot"}`, ""},
		{"parts", `{"role": "user", "content": [{"type": "text", "text": "a"}]}`, "user", []any{map[string]any{"type": "text", "text": "a"}}, nil,
			`{"role":"user","content":[{"text":"a","type":"text"}]}`, ""},
		{"no content", `{"role": "user"}`, "user", nil, nil, `{"role":"user"}`, ""},
		{"role not a string", `{"role": 1}`, "", nil, nil, "", "role: want a string, found 1"},
		{"content an object", `{"role": "tool", "content": {"z": 1, "a": [2]}}`, "tool", json.RawMessage(`{"z": 1, "a": [2]}`), nil, `{"role":"tool","content":{"z":1,"a":[2]}}`, ""},
		{"not an object", `["user"]`, "", nil, nil, "", "want a JSON object"},
		{"duplicate key", `{"role": "user", "role": "system"}`, "", nil, nil, "", `duplicate key "role"`},
		{"truncated", `{"role": "user"`, "", nil, nil, "", "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := json.Unmarshal([]byte(tt.in), &m)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.role, m.Role)
			require.Equal(t, tt.content, m.Content)
			var keys []string
			for k := range m.Extra {
				keys = append(keys, k)
			}
			require.ElementsMatch(t, tt.extra, keys)
			out, err := json.Marshal(m)
			require.NoError(t, err)
			require.Equal(t, tt.out, string(out))
		})
	}
}

func TestGoBuiltMessages(t *testing.T) {
	ct, err := NewChatTemplate("{% for m in messages %}{{ m|tojson }}|{{ m.name }}|{{ m.content is none }};{% endfor %}", nil)
	require.NoError(t, err)
	out, err := ct.Render([]Message{
		{Role: "user", Content: "hi", Extra: map[string]any{"name": "ann", "meta": map[string]any{"b": 1, "a": []int{1}}}},
		{Role: "assistant"},
	}, nil)
	require.NoError(t, err)
	// Go maps have no order: Extra keys and map keys come sorted after role and content.
	require.Equal(t, `{"role": "user", "content": "hi", "meta": {"a": [1], "b": 1}, "name": "ann"}|ann|False;{"role": "assistant", "content": null}||True;`, out)
}

func TestChatTemplateVariables(t *testing.T) {
	src := "{{ bos_token }}|{{ eos_token }}|{{ pad_token is defined }}|{{ additional_special_tokens }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}|{{ flag }}|{{ strftime_now('%Y-%m-%d %a %b %H:%M') }}"
	ct, err := NewChatTemplate(src, map[string]any{
		"bos_token":                 map[string]any{"content": "<s>", "special": true},
		"eos_token":                 json.RawMessage(`{"content": "</s>"}`),
		"pad_token":                 nil,
		"chat_template":             "ignored",
		"additional_special_tokens": []string{"<a>", "<b>"},
	})
	require.NoError(t, err)
	now := func() time.Time { return time.Date(2024, 7, 26, 9, 5, 3, 0, time.UTC) }
	out, err := ct.Render(nil, &ChatOptions{AddGenerationPrompt: true, Vars: map[string]any{"flag": 1.5}, Now: now})
	require.NoError(t, err)
	require.Equal(t, "<s>|</s>|False|['<a>', '<b>']|None|None|True|1.5|2024-07-26 Fri Jul 09:05", out)
	out, err = ct.Render(nil, &ChatOptions{
		Tools:     []any{json.RawMessage(`{"z": 1, "a": 2}`)},
		Documents: []any{map[string]any{"title": "T", "text": "x"}},
		Vars:      map[string]any{"bos_token": "[override]"},
		Now:       now,
	})
	require.NoError(t, err)
	require.Equal(t, "[override]|</s>|False|['<a>', '<b>']|[{'z': 1, 'a': 2}]|[{'text': 'x', 'title': 'T'}]|False||2024-07-26 Fri Jul 09:05", out)

	_, err = ct.Render(nil, &ChatOptions{Vars: map[string]any{"messages": 1}})
	require.ErrorContains(t, err, `variable "messages" is set by Render`)

	_, err = NewChatTemplate("x", map[string]any{"bos_token": 3})
	require.ErrorContains(t, err, "special token bos_token")
}

func TestChatTemplateErrors(t *testing.T) {
	tests := []struct {
		name, src string
		parseErr  string
		renderErr string
		raised    bool
	}{
		{"syntax error names line", "ok\n{% if x %}\n", "line 2", "", false},
		{"unknown filter", "{{ messages|shout }}", "No filter named 'shout'", "", false},
		{"raise_exception is exact", "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", "", "Conversation roles must alternate user/assistant/user/assistant/...", true},
		{"runtime error names line", "\n\n{{ messages[0].content + 1 }}", "", "render chat template: line 3: can only concatenate str", false},
		{"undefined", "{{ nothing.attr }}", "", "'nothing' is undefined", false},
		{"strftime_now arity", "{{ strftime_now() }}", "", "strftime_now: want 1 argument", false},
	}
	msgs := []Message{{Role: "user", Content: "hi"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := NewChatTemplate(tt.src, nil)
			if tt.parseErr != "" {
				require.ErrorContains(t, err, tt.parseErr)
				return
			}
			require.NoError(t, err)
			_, err = ct.Render(msgs, nil)
			require.Error(t, err)
			var te *TemplateError
			require.Equal(t, tt.raised, errors.As(err, &te))
			if tt.raised {
				require.Equal(t, tt.renderErr, err.Error())
			} else {
				require.ErrorContains(t, err, tt.renderErr)
			}
		})
	}
}

func TestAssistantSpans(t *testing.T) {
	chatml, err := NewChatTemplate(chatMLTemplate, nil)
	require.NoError(t, err)
	noPrompt, err := NewChatTemplate("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}", nil)
	require.NoError(t, err)
	rewriting, err := NewChatTemplate("{% for m in messages %}{% if loop.last %}{{ m.content|upper }}{% else %}{{ m.content }}{% endif %};{% endfor %}{% if add_generation_prompt %}>{% endif %}", nil)
	require.NoError(t, err)
	lastMarked, err := NewChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% if loop.last and m.role == 'assistant' %}!{% endif %};{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}", nil)
	require.NoError(t, err)
	conv := []Message{
		{Role: "system", Content: "S"},
		{Role: "user", Content: "héllo"},
		{Role: "assistant", Content: "a1"},
		{Role: "user", Content: "u2"},
		{Role: "assistant", Content: "ünï"},
	}
	tests := []struct {
		name     string
		ct       *ChatTemplate
		msgs     []Message
		rendered string
		spans    []Span
		err      string
	}{
		{"chatml", chatml, conv,
			"<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhéllo<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nu2<|im_end|>\n<|im_start|>assistant\nünï<|im_end|>\n",
			[]Span{{2, 87, 100}, {4, 152, 168}}, ""},
		{"no assistant", chatml, conv[:2], "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhéllo<|im_end|>\n", nil, ""},
		{"assistant first", chatml, []Message{{Role: "assistant", Content: "x"}}, "", nil, "assistant message 0: prefix is an empty conversation"},
		{"no generation prompt", noPrompt, conv, "", nil, "assistant message 2: the template adds no generation prompt (the prefix renders the same with and without add_generation_prompt)"},
		{"later turns rewrite", lastMarked, conv[1:], "", nil, "assistant message 1: the full render does not start with the render up to it — later messages change how this turn is rendered (differs at code point 25)"},
		{"turn rewrites prompt", rewriting, conv[1:3], "", nil, "assistant message 1: the render up to it does not start with the prefix and its generation prompt (differs at code point 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rendered, spans, err := tt.ct.AssistantSpans(tt.msgs, &ChatOptions{AddGenerationPrompt: true})
			if tt.err != "" {
				var se *SpanError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tt.err, err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.rendered, rendered)
			require.Equal(t, tt.spans, spans)
		})
	}
	// The spans cover the content and the end-of-turn marker.
	rendered, spans, err := chatml.AssistantSpans(conv, nil)
	require.NoError(t, err)
	require.Equal(t, "a1<|im_end|>\n", rendered[spans[0].Start:spans[0].End])
	require.Equal(t, "ünï<|im_end|>\n", rendered[spans[1].Start:spans[1].End])
}

func TestChatTemplateConcurrent(t *testing.T) {
	ct, err := NewChatTemplate(chatMLTemplate, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := ct.Render([]Message{{Role: "user", Content: "x"}}, &ChatOptions{AddGenerationPrompt: true})
			if err == nil && out != "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n" {
				err = errors.New("unexpected rendering " + out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// FuzzChatTemplate renders arbitrary templates on a fixed conversation: errors are fine,
// panics and hangs are not.
func FuzzChatTemplate(f *testing.F) {
	f.Add(chatMLTemplate)
	f.Add("{{ bos_token }}{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('alternate') }}{% endif %}{{ m.content|trim }}{% endfor %}")
	f.Add("{%- set ns = namespace(i=messages|length - 1) %}{%- for m in messages[::-1] %}{{ m.content.split('</think>')[-1].lstrip('\\n') }}{% endfor %}")
	msgs := []Message{{Role: "system", Content: "s"}, {Role: "user", Content: " <think>a</think>\nb "}, {Role: "assistant", Content: "c", Extra: map[string]any{"tool_calls": json.RawMessage(`[{"function": {"name": "f", "arguments": {"x": 1}}}]`)}}}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		ct, err := NewChatTemplate(src, map[string]any{"bos_token": "<s>"})
		if err != nil {
			return
		}
		_, _ = ct.Render(msgs, &ChatOptions{AddGenerationPrompt: true})
		_, _, _ = ct.AssistantSpans(msgs, nil)
	})
}

// FuzzMessageJSON decodes untrusted message JSON: errors are fine, panics are not, and what
// decodes re-encodes to JSON that decodes to the same message.
func FuzzMessageJSON(f *testing.F) {
	f.Add(`{"role": "user", "content": "hi"}`)
	f.Add(`{"role": "assistant", "content": null, "tool_calls": [{"function": {"arguments": "{}"}}]}`)
	f.Add(`{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var m Message
		if json.Unmarshal([]byte(in), &m) != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal %q: %v", in, err)
		}
		var back Message
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		again, err := json.Marshal(back)
		if err != nil || string(again) != string(out) {
			t.Fatalf("round trip changed %s to %s (%v)", out, again, err)
		}
	})
}

func TestDecodedContentKeepsKeyOrder(t *testing.T) {
	ct, err := NewChatTemplate("{% for m in messages %}{{ m.content }}|{{ m.content is mapping }};{% endfor %}", nil)
	require.NoError(t, err)
	var msgs []Message
	require.NoError(t, json.Unmarshal([]byte(`[{"role": "user", "content": [{"type": "text", "text": "a"}]}, {"role": "tool", "content": {"z": 1, "a": 2}}]`), &msgs))
	out, err := ct.Render(msgs, nil)
	require.NoError(t, err)
	require.Equal(t, "[{'type': 'text', 'text': 'a'}]|False;{'z': 1, 'a': 2}|True;", out)

	// Once the caller changes the parts, the template sees the new value (keys sorted).
	msgs[0].Content = []any{map[string]any{"type": "text", "text": "b"}}
	out, err = ct.Render(msgs[:1], nil)
	require.NoError(t, err)
	require.Equal(t, "[{'text': 'b', 'type': 'text'}]|False;", out)
}

func TestContinueFinalMessage(t *testing.T) {
	chatml, err := NewChatTemplate(chatMLTemplate, nil)
	require.NoError(t, err)
	trimming, err := NewChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content|trim }}</s>{% endfor %}", nil)
	require.NoError(t, err)
	parts, err := NewChatTemplate("{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}[{{ p.type }}:{{ p.text }}]{% endfor %}{% endif %};{% endfor %}", nil)
	require.NoError(t, err)
	upper, err := NewChatTemplate("{% for m in messages %}{{ m.content|upper }};{% endfor %}", nil)
	require.NoError(t, err)
	noContent, err := NewChatTemplate("{% for m in messages %}{{ m.role }}{% endfor %}", nil)
	require.NoError(t, err)
	prefill := []Message{{Role: "user", Content: " hi "}, {Role: "assistant", Content: "Sure, "}}
	tests := []struct {
		name string
		ct   *ChatTemplate
		msgs []Message
		gen  bool
		want string
		err  string
	}{
		{"template keeps spacing", chatml, prefill, false, "<|im_start|>user\n hi <|im_end|>\n<|im_start|>assistant\nSure, ", ""},
		{"template trims content", trimming, prefill, false, "<user>hi</s><assistant>Sure,", ""},
		{"last text part", parts, []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: []any{
			map[string]any{"type": "text", "text": "A"}, map[string]any{"type": "image"}}}}, false, "hi;[text:A", ""},
		{"with generation prompt", chatml, prefill, true, "", "not compatible"},
		{"empty conversation", chatml, nil, false, "", "empty conversation"},
		{"no content", chatml, []Message{{Role: "assistant"}}, false, "", `no "content" to continue`},
		{"no text part", parts, []Message{{Role: "user", Content: []any{map[string]any{"type": "image"}}}}, false, "", "no text part"},
		{"template never reads content", noContent, prefill, false, "", `never reads "content"`},
		{"template rewrites content", upper, []Message{{Role: "assistant", Content: "sure"}}, false, "", "does not appear in the rendering"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ct.Render(tt.msgs, &ChatOptions{ContinueFinalMessage: true, AddGenerationPrompt: tt.gen})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	// The caller's messages are not modified.
	require.Equal(t, "Sure, ", prefill[1].Content)
}

func TestGenerationSpans(t *testing.T) {
	tagged, err := NewChatTemplate("{% for m in messages %}<|im_start|>{{ m.role }}\n"+
		"{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>\n{% endgeneration %}"+
		"{% else %}{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}"+
		"{% macro unplaced() %}{% generation %}x{% endgeneration %}{% endmacro %}{% set y = unplaced() %}", nil)
	require.NoError(t, err)
	require.True(t, tagged.HasGeneration())
	msgs := []Message{{Role: "user", Content: "hé"}, {Role: "assistant", Content: "a1"}, {Role: "user", Content: "u"}, {Role: "assistant", Content: "a2"}}
	rendered, spans, err := tagged.GenerationSpans(msgs, nil)
	require.NoError(t, err)
	// "<|im_start|>user\nhé<|im_end|>\n" is 31 bytes, "<|im_start|>assistant\n" 22,
	// "<|im_start|>user\nu<|im_end|>\n" 29.
	require.Equal(t, [][2]int{{53, 66}, {117, 130}}, spans)
	require.Equal(t, "a1<|im_end|>\n", rendered[53:66])
	require.Equal(t, "a2<|im_end|>\n", rendered[117:130])

	plain, err := NewChatTemplate(chatMLTemplate, nil)
	require.NoError(t, err)
	require.False(t, plain.HasGeneration())
	_, _, err = plain.GenerationSpans(msgs, nil)
	require.ErrorContains(t, err, "no {% generation %} blocks")
	_, _, err = tagged.GenerationSpans(msgs, &ChatOptions{ContinueFinalMessage: true})
	require.ErrorContains(t, err, "ContinueFinalMessage")
}

func TestZeroChatTemplate(t *testing.T) {
	for _, ct := range []*ChatTemplate{nil, {}} {
		_, err := ct.Render([]Message{{Role: "user", Content: "x"}}, nil)
		require.ErrorContains(t, err, "not made by NewChatTemplate")
		_, _, err = ct.AssistantSpans([]Message{{Role: "user", Content: "x"}}, nil)
		require.Error(t, err)
		require.False(t, ct.HasGeneration())
	}
}
