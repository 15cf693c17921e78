package inference

import (
	"errors"
)

// Errors that callers can test for with errors.Is.
var (
	// ErrInvalidRequest marks a request that can never run: an empty prompt, a prompt longer than
	// the context, a sampling value out of range. The message names the field and its range.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrUnknownAdapter marks a request or call naming an adapter that is not loaded.
	ErrUnknownAdapter = errors.New("unknown adapter")
	// ErrInvalidAdapter marks an adapter that does not fit the base model.
	ErrInvalidAdapter = errors.New("invalid adapter")
	// ErrQueueFull is returned when the engine's waiting queue is full; retry later.
	ErrQueueFull = errors.New("request queue is full")
	// ErrClosed is returned for requests submitted to, or still running in, a closed engine.
	ErrClosed = errors.New("engine is closed")
)

// Request is one generation request. Prompt or PromptIDs is required; every other field is
// optional and its zero value means the documented default.
type Request struct {
	// ID identifies the request in usage records; empty means the engine draws one.
	ID string
	// Prompt is the text to continue. It is encoded with the tokenizer's special tokens (for
	// example a leading BOS), as transformers' tokenizer(text) does.
	Prompt string
	// PromptIDs, when not empty, is used as the prompt instead of Prompt.
	PromptIDs []int
	// Adapter names a LoRA adapter loaded with LoadAdapter; "" runs the base model.
	Adapter string
	// MaxTokens caps the number of generated tokens. 0 means until the context is full.
	MaxTokens int
	// MinTokens forbids the end-of-sequence and stop tokens until that many tokens exist.
	MinTokens int
	// Stop lists strings that end generation; the matched string is not part of the output.
	// They are matched on the decoded text, across token boundaries.
	Stop []string
	// StopTokenIDs lists token ids that end generation, besides the model's EOS ids.
	StopTokenIDs []int
	// IgnoreEOS keeps generating past the model's EOS ids (stop tokens and strings still apply).
	IgnoreEOS bool
	// Sampling chooses how tokens are picked; the zero value is greedy.
	Sampling Sampling
	// Logprobs asks for the log-probability of each generated token.
	Logprobs bool
	// TopLogprobs asks for that many most likely alternatives at each step (implies Logprobs).
	TopLogprobs int
}

// FinishReason says why generation ended.
type FinishReason string

// Finish reasons, with the names OpenAI-compatible APIs use.
const (
	// FinishStop means an EOS id, a stop token id or a stop string ended generation.
	FinishStop FinishReason = "stop"
	// FinishLength means MaxTokens or the context length ended generation.
	FinishLength FinishReason = "length"
)

// Usage counts the tokens of one request, for metering.
type Usage struct {
	// PromptTokens is the number of prompt tokens.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens is the number of generated tokens, ending tokens included.
	CompletionTokens int `json:"completion_tokens"`
}

// TotalTokens returns PromptTokens + CompletionTokens.
func (u Usage) TotalTokens() int { return u.PromptTokens + u.CompletionTokens }

// Chunk is one item of a stream: a text delta with the tokens that produced it. The last chunk
// of a stream has FinishReason set and carries Usage.
type Chunk struct {
	// Text is the new text; it may be empty when tokens are held back (an incomplete UTF-8
	// sequence or the possible start of a stop string).
	Text string
	// TokenIDs are the tokens generated since the previous chunk.
	TokenIDs []int
	// Logprobs has one entry per token in TokenIDs when the request asked for them.
	Logprobs []TokenLogprob
	// FinishReason is set on the last chunk only.
	FinishReason FinishReason
	// Usage is set on the last chunk only.
	Usage *Usage
}

// Result is a finished generation.
type Result struct {
	// Text is the generated text, without the prompt, ending tokens or the matched stop string.
	Text string
	// TokenIDs are the generated token ids, an ending EOS or stop token included.
	TokenIDs []int
	// Logprobs has one entry per generated token when the request asked for them.
	Logprobs []TokenLogprob
	// FinishReason says why generation ended.
	FinishReason FinishReason
	// Usage counts prompt and generated tokens.
	Usage Usage
}
