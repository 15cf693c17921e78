package tuning

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sectorflow/sdk/tokenize"
)

// servingFiles are copied from the model directory beside the adapter so that serving uses the
// tokenizer and chat template training used.
var servingFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"}

// templateRenderer adapts a tokenize.ChatTemplate to ChatRenderer.
type templateRenderer struct{ t *tokenize.ChatTemplate }

// RenderAssistantSpans implements ChatRenderer with the template's own rendering.
func (r templateRenderer) RenderAssistantSpans(msgs []Message) (string, []MessageSpan, error) {
	tm := make([]tokenize.Message, len(msgs))
	for i, m := range msgs {
		tm[i] = tokenize.Message{Role: m.Role, Content: m.Content}
	}
	text, spans, err := r.t.AssistantSpans(tm, nil)
	if err != nil {
		return "", nil, err
	}
	out := make([]MessageSpan, len(spans))
	for i, s := range spans {
		out[i] = MessageSpan{MessageIndex: s.MessageIndex, Start: s.Start, End: s.End}
	}
	return text, out, nil
}

// loadCodec loads the tokenizer, chat template and end-of-turn ids of a model directory.
func loadCodec(modelDir string) (*codec, error) {
	tok, err := tokenize.Load(modelDir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	c := &codec{tok: tok, files: map[string][]byte{}}
	// The tokenizer's own eos_token first: it is what prompt/completion and text samples end
	// with (as TRL appends tokenizer.eos_token); generation_config's ids also end a turn.
	seen := map[int]bool{}
	if id, ok := tok.TokenToID(tok.EOSToken()); ok && tok.EOSToken() != "" {
		c.eos, seen[id] = append(c.eos, id), true
	}
	for _, id := range tok.EOSTokenIDs() {
		if !seen[id] {
			c.eos, seen[id] = append(c.eos, id), true
		}
	}
	if len(c.eos) == 0 {
		return nil, fmt.Errorf("load tokenizer from %s: expected an eos_token (tokenizer_config.json) or eos_token_id (generation_config.json), found neither; a fine-tuned model could never learn to stop", modelDir)
	}
	if src := tok.ChatTemplateSource(); src != "" {
		ct, err := tokenize.NewChatTemplate(src, tok.SpecialTokensMap())
		if err != nil {
			return nil, fmt.Errorf("load chat template of %s: %w", modelDir, err)
		}
		c.chat, c.template = templateRenderer{ct}, src
	}
	for _, name := range servingFiles {
		data, err := os.ReadFile(filepath.Join(modelDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", name, err)
		}
		c.files[name] = data
	}
	return c, nil
}
