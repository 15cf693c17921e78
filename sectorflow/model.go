package sectorflow

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"path/filepath"

	"github.com/sectorflow/sdk/inference"
	"github.com/sectorflow/sdk/tokenize"
)

// GenerateRequest is one generation request; see inference.Request for every field.
type GenerateRequest = inference.Request

// Sampling chooses how tokens are picked; the zero value is greedy. See inference.Sampling.
type Sampling = inference.Sampling

// GenerateResult is a finished generation: text, token ids, finish reason and usage.
type GenerateResult = inference.Result

// GenerateChunk is one item of a generation stream; the last one carries the finish reason and
// the usage.
type GenerateChunk = inference.Chunk

// ModelStats is a snapshot of a model's load (requests running in the batch and waiting) and of
// the step programs compiled so far.
type ModelStats = inference.Stats

// ChatMessage is one message of a conversation rendered with the model's chat template.
type ChatMessage = tokenize.Message

// Errors of Model calls, re-exported from package inference for errors.Is.
var (
	ErrInvalidRequest = inference.ErrInvalidRequest
	ErrUnknownAdapter = inference.ErrUnknownAdapter
	ErrInvalidAdapter = inference.ErrInvalidAdapter
	ErrQueueFull      = inference.ErrQueueFull
	ErrModelClosed    = inference.ErrClosed
	ErrNoChatTemplate = inference.ErrNoChatTemplate
)

// ModelOptions configure LoadModel; nil or a zero field means the default.
type ModelOptions struct {
	// Name identifies the model in usage records. Default: the directory's base name.
	Name string
	// MaxBatch is the number of requests decoded together. Default 8.
	MaxBatch int
	// MaxContext caps prompt plus generated tokens per request. Default: the model's context
	// length, at most 2048.
	MaxContext int
	// PrefillChunk caps the prompt tokens fed per step, so long prompts do not stall the
	// running requests. Default 512.
	PrefillChunk int
	// QueueSize bounds the requests waiting for a batch slot (ErrQueueFull beyond). Default 256.
	QueueSize int
	// MaxAdapters bounds the adapters resident in the compute graph; the least recently used
	// idle one makes room. Default 8.
	MaxAdapters int
	// Backend selects the compute backend ("go:ops_sequential", "xla:cuda"). Default: the
	// GOMLX_BACKEND environment variable, else automatic (see internal/backend).
	Backend string
	// Precision is "float32" (default: exact float32, as the PyTorch reference) or "bfloat16":
	// weights held as bfloat16 and the matrix products on bfloat16 operands (GPU tensor
	// cores; half the weight memory), norms, softmax, the KV cache and LoRA in float32. Use
	// bfloat16 on GPUs.
	Precision string
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
	// OnUsage, when set, receives one Usage record (Kind inference) for every request that
	// reached the model, when it ends, on the caller's goroutine. Tenant is left empty: the
	// hook knows the tenant (typically from ctx) and forwards the record to a Meter.
	OnUsage func(ctx context.Context, u Usage)
}

// Model serves generation from one base model and any of its loaded LoRA adapters. It is safe
// for concurrent use: concurrent calls are batched together.
type Model struct {
	name string
	eng  *inference.Engine
}

// LoadModel loads a Hugging Face checkpoint directory (config.json, safetensors weights,
// tokenizer.json, tokenizer_config.json, generation_config.json) and starts its engine.
func LoadModel(ctx context.Context, dir string, opts *ModelOptions) (*Model, error) {
	var o ModelOptions
	if opts != nil {
		o = *opts
	}
	name := o.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	io := &inference.Options{
		MaxBatch: o.MaxBatch, MaxContext: o.MaxContext, QueueSize: o.QueueSize, PrefillChunk: o.PrefillChunk,
		MaxAdapters: o.MaxAdapters, Backend: o.Backend, Precision: o.Precision, Logger: o.Logger,
	}
	if hook := o.OnUsage; hook != nil {
		io.OnUsage = func(ctx context.Context, rec inference.UsageRecord) {
			hook(ctx, usageOf(name, rec))
		}
	}
	eng, err := inference.Load(ctx, dir, io)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return &Model{name: name, eng: eng}, nil
}

// usageOf turns an engine record into a billing record.
func usageOf(model string, rec inference.UsageRecord) Usage {
	u := Usage{
		ID: rec.ID, Kind: UsageInference, Model: model, Adapter: rec.Adapter,
		PromptTokens:     int64(rec.Usage.PromptTokens),
		CompletionTokens: int64(rec.Usage.CompletionTokens),
		ComputeTime:      rec.ComputeTime,
		Outcome:          OutcomeCompleted,
	}
	switch {
	case rec.Err == nil:
	case errors.Is(rec.Err, context.Canceled), errors.Is(rec.Err, context.DeadlineExceeded):
		u.Outcome = OutcomeCancelled
	default:
		u.Outcome = OutcomeFailed
	}
	return u
}

// Name returns the model's name in usage records.
func (m *Model) Name() string { return m.name }

// MaxContext returns the number of positions one request may use, prompt included.
func (m *Model) MaxContext() int { return m.eng.MaxContext() }

// Generate runs req to its end.
func (m *Model) Generate(ctx context.Context, req *GenerateRequest) (*GenerateResult, error) {
	return m.eng.Generate(ctx, req)
}

// Stream runs req and yields text deltas as they are generated; the last chunk carries the
// finish reason and usage. Breaking out of the loop cancels the request.
func (m *Model) Stream(ctx context.Context, req *GenerateRequest) iter.Seq2[*GenerateChunk, error] {
	return m.eng.Stream(ctx, req)
}

// Chat renders msgs with the model's chat template (with the assistant's generation prompt) and
// generates the reply. req holds the other settings and may be nil; its Prompt and PromptIDs
// are ignored.
func (m *Model) Chat(ctx context.Context, msgs []ChatMessage, req *GenerateRequest) (*GenerateResult, error) {
	r, err := m.chatRequest(msgs, req)
	if err != nil {
		return nil, err
	}
	return m.eng.Generate(ctx, r)
}

// ChatStream is Chat with the reply streamed as Stream does.
func (m *Model) ChatStream(ctx context.Context, msgs []ChatMessage, req *GenerateRequest) iter.Seq2[*GenerateChunk, error] {
	r, err := m.chatRequest(msgs, req)
	if err != nil {
		return func(yield func(*GenerateChunk, error) bool) { yield(nil, err) }
	}
	return m.eng.Stream(ctx, r)
}

func (m *Model) chatRequest(msgs []ChatMessage, req *GenerateRequest) (*GenerateRequest, error) {
	ids, err := m.eng.ChatPrompt(msgs, nil)
	if err != nil {
		return nil, err
	}
	var r GenerateRequest
	if req != nil {
		r = *req
	}
	r.Prompt, r.PromptIDs = "", ids
	return &r, nil
}

// LoadAdapter loads a PEFT LoRA adapter directory under name after checking it fits the base
// model; requests then select it with GenerateRequest.Adapter.
func (m *Model) LoadAdapter(ctx context.Context, name, dir string) error {
	return m.eng.LoadAdapter(ctx, name, dir)
}

// UnloadAdapter removes a loaded adapter; requests already using it finish first.
func (m *Model) UnloadAdapter(name string) error { return m.eng.UnloadAdapter(name) }

// Stats returns how many requests are running and waiting.
func (m *Model) Stats() ModelStats { return m.eng.Stats() }

// Adapters returns the names of the loaded adapters.
func (m *Model) Adapters() []string { return m.eng.Adapters() }

// Close stops the model: running and waiting requests fail with ErrModelClosed.
func (m *Model) Close() error { return m.eng.Close() }
