package inference

import (
	"errors"
	"fmt"

	"github.com/sectorflow/sdk/tokenize"
)

// ErrNoChatTemplate is returned by ChatPrompt for a model whose tokenizer_config.json has no
// chat template.
var ErrNoChatTemplate = errors.New("the model has no chat template")

// ChatPrompt renders a conversation with the model's chat template, adding the assistant's
// generation prompt, and encodes it without adding special tokens a second time, as
// transformers' apply_chat_template does. opts may be nil; AddGenerationPrompt is always set.
func (e *Engine) ChatPrompt(msgs []tokenize.Message, opts *tokenize.ChatOptions) ([]int, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: the conversation has no messages", ErrInvalidRequest)
	}
	if e.tok == nil {
		return nil, fmt.Errorf("chat: %w (the model has no tokenizer.json)", ErrNoChatTemplate)
	}
	ct, err := e.tok.CompileChatTemplate()
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	if ct == nil {
		return nil, fmt.Errorf("chat: %w in tokenizer_config.json", ErrNoChatTemplate)
	}
	var o tokenize.ChatOptions
	if opts != nil {
		o = *opts
	}
	o.AddGenerationPrompt = true
	text, err := ct.Render(msgs, &o)
	if err != nil {
		return nil, fmt.Errorf("%w: chat template: %w", ErrInvalidRequest, err)
	}
	ids := e.tok.Encode(text, false)
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: the chat template rendered no tokens", ErrInvalidRequest)
	}
	return ids, nil
}
