package tokenize

import "fmt"

// ChatTemplate returns the chat template of tokenizer_config.json, compiled once, or nil when
// there is none or it does not compile (CompileChatTemplate reports why).
func (t *Tokenizer) ChatTemplate() *ChatTemplate {
	ct, _ := t.CompileChatTemplate()
	return ct
}

// CompileChatTemplate compiles the chat template of tokenizer_config.json with this
// tokenizer's special tokens. It returns nil and no error when there is no template.
func (t *Tokenizer) CompileChatTemplate() (*ChatTemplate, error) {
	t.chatOnce.Do(func() {
		if t.cfg.chatTemplate == "" {
			return
		}
		ct, err := NewChatTemplate(t.cfg.chatTemplate, t.SpecialTokensMap())
		if err != nil {
			t.chatErr = fmt.Errorf("tokenizer_config.json: chat_template: %w", err)
			return
		}
		t.chat = ct
	})
	return t.chat, t.chatErr
}
