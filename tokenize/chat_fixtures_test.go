package tokenize

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fixtures in testdata/chat_templates are copies of shared/fixtures/chat_templates: what
// Python transformers' apply_chat_template renders (see the README there).

type chatConversation struct {
	ID             string            `json:"id"`
	Messages       []Message         `json:"messages"`
	Tools          []json.RawMessage `json:"tools"`
	TemplateKwargs map[string]any    `json:"template_kwargs"`
	OnlyTemplates  []string          `json:"only_templates"`
}

func (c chatConversation) options(gen bool) *ChatOptions {
	o := &ChatOptions{AddGenerationPrompt: gen, Vars: c.TemplateKwargs}
	if c.Tools != nil {
		for _, t := range c.Tools {
			o.Tools = append(o.Tools, t)
		}
	}
	return o
}

type chatExpected struct {
	ConversationIndex   int     `json:"conversation_index"`
	ID                  string  `json:"id"`
	AddGenerationPrompt bool    `json:"add_generation_prompt"`
	Rendered            *string `json:"rendered"`
	Error               *string `json:"error"`
}

type chatSpans struct {
	ConversationIndex int      `json:"conversation_index"`
	ID                string   `json:"id"`
	OK                bool     `json:"ok"`
	Indices           []int    `json:"assistant_message_indices"`
	Bytes             [][2]int `json:"assistant_spans_utf8_bytes"`
	Codepoints        [][2]int `json:"assistant_spans_codepoints"`
	Texts             []string `json:"assistant_span_texts"`
	Index             int      `json:"assistant_message_index"`
	Failure           string   `json:"failure"`
}

func chatReadJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "%s: %s", path, sc.Text())
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	return out
}

// loadFixtureChatTemplate reads chat_template and the special tokens of a tokenizer_config.json.
func loadFixtureChatTemplate(t testing.TB, path string) *ChatTemplate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	src, ok := cfg["chat_template"].(string)
	require.True(t, ok, "%s has no chat_template string", path)
	ct, err := NewChatTemplate(src, cfg)
	require.NoError(t, err)
	return ct
}

var chatFixtureNames = []string{"qwen3", "tiny_llama", "tiny_mistral", "tiny_qwen2", "tiny_qwen3"}

func TestChatTemplateFixtures(t *testing.T) {
	dir := filepath.Join("testdata", "chat_templates")
	convs := chatReadJSONL[chatConversation](t, filepath.Join(dir, "conversations.jsonl"))
	for _, name := range chatFixtureNames {
		t.Run(name, func(t *testing.T) {
			ct := loadFixtureChatTemplate(t, filepath.Join(dir, name, "tokenizer_config.json"))
			want := chatReadJSONL[chatExpected](t, filepath.Join(dir, name, "expected.jsonl"))
			require.NotEmpty(t, want)
			seen := map[int]int{}
			for _, w := range want {
				c := convs[w.ConversationIndex]
				require.Equal(t, c.ID, w.ID)
				seen[w.ConversationIndex]++
				got, err := ct.Render(c.Messages, c.options(w.AddGenerationPrompt))
				if w.Error != nil {
					var te *TemplateError
					require.ErrorAs(t, err, &te, "%s gen=%v", w.ID, w.AddGenerationPrompt)
					require.Equal(t, *w.Error, err.Error(), "%s gen=%v", w.ID, w.AddGenerationPrompt)
					continue
				}
				require.NoError(t, err, "%s gen=%v", w.ID, w.AddGenerationPrompt)
				require.Equal(t, *w.Rendered, got, "%s gen=%v", w.ID, w.AddGenerationPrompt)
			}
			// Every conversation meant for this template has both records.
			for i, c := range convs {
				if len(c.OnlyTemplates) > 0 && !slices.Contains(c.OnlyTemplates, name) {
					continue
				}
				require.Equal(t, 2, seen[i], "records for %s", c.ID)
			}
		})
	}
}

func TestChatTemplateAssistantSpansFixtures(t *testing.T) {
	dir := filepath.Join("testdata", "chat_templates")
	convs := chatReadJSONL[chatConversation](t, filepath.Join(dir, "conversations.jsonl"))
	for _, name := range chatFixtureNames {
		t.Run(name, func(t *testing.T) {
			ct := loadFixtureChatTemplate(t, filepath.Join(dir, name, "tokenizer_config.json"))
			want := chatReadJSONL[chatSpans](t, filepath.Join(dir, name, "spans.jsonl"))
			require.NotEmpty(t, want)
			for _, w := range want {
				c := convs[w.ConversationIndex]
				rendered, spans, err := ct.AssistantSpans(c.Messages, c.options(false))
				if !w.OK {
					var se *SpanError
					require.ErrorAs(t, err, &se, w.ID)
					require.Equal(t, w.Index, se.MessageIndex, w.ID)
					require.Equal(t, w.Failure, err.Error(), w.ID)
					continue
				}
				require.NoError(t, err, w.ID)
				require.Len(t, spans, len(w.Bytes), w.ID)
				for i, s := range spans {
					require.Equal(t, w.Indices[i], s.MessageIndex, w.ID)
					require.Equal(t, w.Bytes[i], [2]int{s.Start, s.End}, w.ID)
					require.Equal(t, w.Texts[i], rendered[s.Start:s.End], w.ID)
					cs, ce := s.Codepoints(rendered)
					require.Equal(t, w.Codepoints[i], [2]int{cs, ce}, w.ID)
				}
			}
		})
	}
}

// TestChatTemplateSharedFixtures runs the same comparison on every template folder of
// shared/fixtures/chat_templates beside the repository (templates added there later are picked
// up too): tiny_<arch> takes models/<arch>/tokenizer_config.json, any other name
// tokenizers/<name>/tokenizer_config.json. It skips when shared/ is absent;
// SECTORFLOW_FIXTURES points it at another fixtures folder.
func TestChatTemplateSharedFixtures(t *testing.T) {
	root := filepath.Join("..", "..", "shared", "fixtures")
	if d := os.Getenv("SECTORFLOW_FIXTURES"); d != "" {
		root = d
	}
	dir := filepath.Join(root, "chat_templates")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("shared fixtures not found at %s: %v", dir, err)
	}
	convs := chatReadJSONL[chatConversation](t, filepath.Join(dir, "conversations.jsonl"))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		cfg := filepath.Join(root, "tokenizers", name, "tokenizer_config.json")
		if arch, ok := strings.CutPrefix(name, "tiny_"); ok {
			cfg = filepath.Join(root, "models", arch, "tokenizer_config.json")
		}
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(cfg); err != nil {
				t.Skipf("no template for %s: %v", name, err)
			}
			ct := loadFixtureChatTemplate(t, cfg)
			for _, w := range chatReadJSONL[chatExpected](t, filepath.Join(dir, name, "expected.jsonl")) {
				c := convs[w.ConversationIndex]
				got, err := ct.Render(c.Messages, c.options(w.AddGenerationPrompt))
				if w.Error != nil {
					require.Error(t, err, "%s gen=%v", w.ID, w.AddGenerationPrompt)
					require.Equal(t, *w.Error, err.Error(), "%s gen=%v", w.ID, w.AddGenerationPrompt)
					continue
				}
				require.NoError(t, err, "%s gen=%v", w.ID, w.AddGenerationPrompt)
				require.Equal(t, *w.Rendered, got, "%s gen=%v", w.ID, w.AddGenerationPrompt)
			}
			spansPath := filepath.Join(dir, name, "spans.jsonl")
			if _, err := os.Stat(spansPath); err != nil {
				return
			}
			for _, w := range chatReadJSONL[chatSpans](t, spansPath) {
				c := convs[w.ConversationIndex]
				rendered, spans, err := ct.AssistantSpans(c.Messages, c.options(false))
				if !w.OK {
					require.Error(t, err, w.ID)
					continue
				}
				require.NoError(t, err, w.ID)
				require.Len(t, spans, len(w.Bytes), w.ID)
				for i, s := range spans {
					require.Equal(t, w.Indices[i], s.MessageIndex, w.ID)
					require.Equal(t, w.Bytes[i], [2]int{s.Start, s.End}, w.ID)
					require.Equal(t, w.Texts[i], rendered[s.Start:s.End], w.ID)
				}
			}
		})
	}
}
