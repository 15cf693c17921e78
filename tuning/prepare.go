package tuning

import (
	"errors"
	"fmt"
)

// Tokenizer is what Prepare needs from a tokenizer: ids with the byte range of the text each id
// covers (an empty range for special tokens the tokenizer adds).
type Tokenizer interface {
	EncodeWithOffsets(text string, addSpecial bool) ([]int, [][2]int)
}

// MessageSpan is the byte range of one message's content inside a rendered conversation.
type MessageSpan struct {
	// MessageIndex is the index of the message in the conversation.
	MessageIndex int
	// Start and End delimit the bytes [Start, End) of the rendered text.
	Start, End int
}

// ChatRenderer renders a conversation with the model's chat template (no generation prompt) and
// returns the byte spans of the assistant messages' content in that rendering.
type ChatRenderer interface {
	RenderAssistantSpans(msgs []Message) (string, []MessageSpan, error)
}

// Sample is one tokenized example ready for batching.
type Sample struct {
	// Line is the dataset line it came from.
	Line int
	// IDs are the token ids.
	IDs []int32
	// Targets[t] says whether IDs[t] is a loss target (predicted from the tokens before it).
	// Targets[0] is always false: nothing precedes the first token.
	Targets []bool
}

// TargetCount returns how many tokens of s are loss targets.
func (s Sample) TargetCount() int {
	n := 0
	for _, t := range s.Targets {
		if t {
			n++
		}
	}
	return n
}

// Stats summarises a prepared dataset.
type Stats struct {
	// Examples is the number of samples kept.
	Examples int `json:"examples"`
	// Tokens is the number of tokens in the kept samples (after truncation).
	Tokens int `json:"tokens"`
	// TargetTokens is the number of loss targets in the kept samples.
	TargetTokens int `json:"target_tokens"`
	// Truncated counts samples cut to MaxSeqLen.
	Truncated int `json:"truncated"`
	// Dropped counts samples left without any target token (after truncation) and skipped.
	Dropped int `json:"dropped"`
}

// ErrNoTargets means a dataset has no token to compute a loss on (for example, every example is
// all prompt and no completion, or truncation cut every answer off).
var ErrNoTargets = errors.New("dataset has no target tokens")

// PrepareOptions tunes Prepare; nil means the documented defaults.
type PrepareOptions struct {
	// MaxSeqLen is the longest sample in tokens (0: 2048).
	MaxSeqLen int
	// Truncate cuts longer samples to MaxSeqLen; when false they are reported as bad lines.
	Truncate bool
	// EOSIDs are the end-of-sequence/end-of-turn ids. The first is appended to prompt/completion
	// and text examples; any of them ends an assistant turn's marker in chat examples.
	EOSIDs []int
}

// DefaultMaxSeqLen is the sample length limit when PrepareOptions.MaxSeqLen is 0.
const DefaultMaxSeqLen = 2048

// Prepare tokenizes examples and marks their loss targets: for chat examples the content of each
// assistant turn with weight 1 and its end-of-turn marker, found in the chat template's own
// rendering; for prompt/completion the completion and EOS; for text every token and EOS. Lines
// over the length limit (with truncation off) are reported in a *DatasetError; a dataset without
// any target token is ErrNoTargets.
func Prepare(examples []Example, tok Tokenizer, chat ChatRenderer, source string, opts *PrepareOptions) ([]Sample, Stats, error) {
	var o PrepareOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxSeqLen <= 0 {
		o.MaxSeqLen = DefaultMaxSeqLen
	}
	var (
		samples []Sample
		stats   Stats
		bad     []LineError
	)
	for _, ex := range examples {
		s, err := tokenizeExample(ex, tok, chat, o.EOSIDs)
		if err != nil {
			bad = append(bad, LineError{ex.Line, err.Error()})
			continue
		}
		if len(s.IDs) > o.MaxSeqLen {
			if !o.Truncate {
				bad = append(bad, LineError{ex.Line, fmt.Sprintf("%d tokens, over the limit of %d (enable truncation to cut it)", len(s.IDs), o.MaxSeqLen)})
				continue
			}
			s.IDs, s.Targets = s.IDs[:o.MaxSeqLen], s.Targets[:o.MaxSeqLen]
			stats.Truncated++
		}
		n := s.TargetCount()
		if n == 0 {
			stats.Dropped++
			continue
		}
		stats.Examples++
		stats.Tokens += len(s.IDs)
		stats.TargetTokens += n
		samples = append(samples, s)
	}
	if len(bad) > 0 {
		return samples, stats, &DatasetError{Source: source, Lines: bad}
	}
	if stats.TargetTokens == 0 {
		return nil, stats, fmt.Errorf("dataset %s: expected assistant or completion tokens to train on, found none in %d example(s): %w", source, len(examples), ErrNoTargets)
	}
	return samples, stats, nil
}

func tokenizeExample(ex Example, tok Tokenizer, chat ChatRenderer, eos []int) (Sample, error) {
	s := Sample{Line: ex.Line}
	switch ex.Shape {
	case ShapeChat:
		if chat == nil {
			return s, errors.New("chat example but the model has no chat template")
		}
		text, mspans, err := chat.RenderAssistantSpans(ex.Messages)
		if err != nil {
			return s, fmt.Errorf("render chat template: %w", err)
		}
		var spans []ByteSpan
		for _, m := range mspans {
			if m.MessageIndex < 0 || m.MessageIndex >= len(ex.Messages) {
				return s, fmt.Errorf("chat template returned a span for message %d of %d", m.MessageIndex, len(ex.Messages))
			}
			if ex.Messages[m.MessageIndex].Role == "assistant" && ex.Messages[m.MessageIndex].Weight == 1 {
				spans = append(spans, ByteSpan{m.Start, m.End})
			}
		}
		ids, offs := tok.EncodeWithOffsets(text, false)
		mask := TargetMask(ids, offs, spans, eos)
		s.IDs, s.Targets = toInt32(ids), mask
	case ShapePromptCompletion:
		p, _ := tok.EncodeWithOffsets(ex.Prompt, true)
		c, _ := tok.EncodeWithOffsets(ex.Completion, false)
		s.IDs = toInt32(p)
		s.Targets = make([]bool, len(p), len(p)+len(c)+1)
		s.IDs = append(s.IDs, toInt32(c)...)
		for range c {
			s.Targets = append(s.Targets, true)
		}
		if len(eos) > 0 {
			s.IDs = append(s.IDs, int32(eos[0]))
			s.Targets = append(s.Targets, true)
		}
	case ShapeText:
		ids, _ := tok.EncodeWithOffsets(ex.Text, true)
		s.IDs = toInt32(ids)
		s.Targets = make([]bool, len(ids))
		for i := range s.Targets {
			s.Targets[i] = true
		}
		if len(eos) > 0 {
			s.IDs = append(s.IDs, int32(eos[0]))
			s.Targets = append(s.Targets, true)
		}
	default:
		return s, fmt.Errorf("unknown example shape %v", ex.Shape)
	}
	if len(s.Targets) > 0 {
		s.Targets[0] = false
	}
	return s, nil
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}
