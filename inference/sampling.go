package inference

import (
	"fmt"
	"math"
)

// Sampling controls how each next token is chosen. The zero value means greedy decoding with no
// penalties; each field documents its own "off" value.
//
// The transformations run in the order vLLM and transformers use: repetition, presence and
// frequency penalties, logit bias, the ban on ending tokens before MinTokens, temperature, then
// the top-k, top-p and min-p filters, then a draw from the request's own random source.
type Sampling struct {
	// Temperature divides the logits before sampling. 0 means greedy (argmax, the lowest id
	// winning ties); it must not be negative.
	Temperature float32
	// TopK keeps only the K most likely tokens. 0 means off; it must not be negative.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probabilities sum to at least
	// TopP (nucleus sampling). 0 means off (the same as 1); otherwise it must lie in (0, 1].
	TopP float32
	// MinP drops tokens whose probability is below MinP times the most likely token's. 0 means
	// off; it must lie in [0, 1].
	MinP float32
	// RepetitionPenalty divides positive logits and multiplies negative ones of every token
	// already seen in the prompt or the output, as transformers does. 0 or 1 means off; it must
	// not be negative.
	RepetitionPenalty float32
	// PresencePenalty is subtracted once from the logit of every token that already appears in
	// the output (OpenAI semantics). It must lie in [-2, 2].
	PresencePenalty float32
	// FrequencyPenalty is subtracted from a token's logit once per time it already appears in the
	// output (OpenAI semantics). It must lie in [-2, 2].
	FrequencyPenalty float32
	// LogitBias adds a value to the logit of a token id before sampling; -100 or less bans it.
	LogitBias map[int]float32
	// Seed, when set, makes sampling reproducible: the request draws from its own random source
	// seeded with it, so the same request gives the same tokens whatever else shares its batch.
	// Nil draws a fresh seed.
	Seed *int64
}

// greedy reports whether s picks the argmax.
func (s *Sampling) greedy() bool { return s.Temperature == 0 }

// validate checks every field against its documented range; vocab bounds the logit bias ids.
func (s *Sampling) validate(vocab int) error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrInvalidRequest, field, v, want)
	}
	isBad := func(f float32) bool { return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) }
	switch {
	case isBad(s.Temperature) || s.Temperature < 0:
		return bad("temperature", s.Temperature, "a finite value >= 0 (0 is greedy)")
	case s.TopK < 0:
		return bad("top_k", s.TopK, ">= 0 (0 is off)")
	case isBad(s.TopP) || s.TopP < 0 || s.TopP > 1:
		return bad("top_p", s.TopP, "a value in (0, 1] (0 is off)")
	case isBad(s.MinP) || s.MinP < 0 || s.MinP > 1:
		return bad("min_p", s.MinP, "a value in [0, 1]")
	case isBad(s.RepetitionPenalty) || s.RepetitionPenalty < 0:
		return bad("repetition_penalty", s.RepetitionPenalty, "a value > 0 (0 or 1 is off)")
	case isBad(s.PresencePenalty) || s.PresencePenalty < -2 || s.PresencePenalty > 2:
		return bad("presence_penalty", s.PresencePenalty, "a value in [-2, 2]")
	case isBad(s.FrequencyPenalty) || s.FrequencyPenalty < -2 || s.FrequencyPenalty > 2:
		return bad("frequency_penalty", s.FrequencyPenalty, "a value in [-2, 2]")
	}
	for id, b := range s.LogitBias {
		if id < 0 || id >= vocab {
			return bad("logit_bias token id", id, fmt.Sprintf("an id in [0, %d)", vocab))
		}
		if math.IsNaN(float64(b)) {
			return bad(fmt.Sprintf("logit_bias[%d]", id), b, "a number")
		}
	}
	return nil
}
