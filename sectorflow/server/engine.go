package server

import (
	"context"
	"errors"
	"iter"
)

// engine is what the server needs from a loaded model: *sectorflow.Model behind a thin adapter
// (model.go), so that handlers do not depend on the facade's exact request types.
type engine interface {
	Generate(ctx context.Context, req *genRequest) (*genResult, error)
	Stream(ctx context.Context, req *genRequest) iter.Seq2[*genChunk, error]
	LoadAdapter(ctx context.Context, name, dir string) error
	UnloadAdapter(name string) error
	MaxContext() int
	Close() error
}

// genRequest is one generation, its prompt already tokenized.
type genRequest struct {
	ID          string
	PromptIDs   []int
	Adapter     string
	MaxTokens   int
	Stop        []string
	Temperature float32
	TopP        float32
	TopK        int
	MinP        float32
	Presence    float32
	Frequency   float32
	Repetition  float32
	LogitBias   map[int]float32
	Seed        *int64
	Logprobs    bool
	TopLogprobs int
	IgnoreEOS   bool
}

// tokenLogprob is the log-probability of one token and its likeliest alternatives.
type tokenLogprob struct {
	ID      int
	Logprob float32
	Top     []tokenLogprob
}

// genChunk is a streamed delta; the last one has FinishReason and usage set.
type genChunk struct {
	Text             string
	Logprobs         []tokenLogprob
	FinishReason     string
	PromptTokens     int
	CompletionTokens int
	Final            bool
}

// genResult is a finished generation.
type genResult struct {
	Text             string
	Logprobs         []tokenLogprob
	FinishReason     string
	PromptTokens     int
	CompletionTokens int
}

// Errors the engine adapter maps the model's errors to.
var (
	errQueueFull      = errors.New("request queue is full")
	errInvalidRequest = errors.New("invalid request")
	errUnknownAdapter = errors.New("unknown adapter")
)
