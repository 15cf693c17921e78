package inference

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/tokenize"
)

// Options configures an Engine. A nil *Options, or a zero field, means the documented default.
type Options struct {
	// MaxBatch is the number of requests decoded together (KV cache slots). Default 8.
	MaxBatch int
	// MaxContext caps prompt plus generated tokens per request; the KV cache holds that many
	// positions per slot. Default: the model's max_position_embeddings, at most 2048.
	MaxContext int
	// PrefillChunk caps the prompt tokens a request feeds in one step; longer prompts take
	// several steps, and the running requests decode a token between them. Default 512.
	PrefillChunk int
	// QueueSize bounds the requests waiting for a slot; beyond it Generate and Stream fail with
	// ErrQueueFull. Default 256.
	QueueSize int
	// MaxAdapters bounds the adapters resident in the compute graph at once; others stay loaded
	// in host memory and are swapped in, least recently used out, when a request needs them.
	// Default 8.
	MaxAdapters int
	// Backend selects the compute backend, as GOMLX_BACKEND does ("go:ops_sequential",
	// "xla:cuda"). Default: internal/backend's choice.
	Backend string
	// Precision is "float32" (the default: exact float32 everywhere, as the PyTorch reference)
	// or "bfloat16": weights held as bfloat16 (half the memory) and the matrix products run on
	// bfloat16 operands (GPU tensor cores), with norms, softmax, RoPE, the residual stream, the
	// KV cache and LoRA in float32; logits then differ from float32 by about 1e-2, as
	// transformers' do in bf16. Use bfloat16 on GPUs; on the pure-Go backend it saves memory
	// but is not faster.
	Precision string
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
	// OnUsage, when set, is called once for every request that reached the model, when it ends
	// (finished, failed or cancelled), on the caller's goroutine, with the tokens actually
	// processed. Requests rejected or cancelled before their prefill are not reported. The
	// platform's meter hooks in here.
	OnUsage func(ctx context.Context, rec UsageRecord)
}

// UsageRecord is what OnUsage receives.
type UsageRecord struct {
	// ID is the request's ID (Request.ID, or the one the engine drew).
	ID string
	// Adapter is the request's adapter name, "" for the base model.
	Adapter string
	// Usage counts the prompt and generated tokens.
	Usage Usage
	// FinishReason is empty when the request failed or was cancelled.
	FinishReason FinishReason
	// Err is why the request ended early (a cancelled context, a model failure, ErrClosed);
	// nil when it finished.
	Err error
	// ComputeTime is the wall time of the model steps the request took part in.
	ComputeTime time.Duration
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.MaxBatch <= 0 {
		out.MaxBatch = 8
	}
	if out.QueueSize <= 0 {
		out.QueueSize = 256
	}
	if out.PrefillChunk <= 0 {
		out.PrefillChunk = 512
	}
	if out.MaxAdapters <= 0 {
		out.MaxAdapters = 8
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// Engine generates text from one base model, with any of its loaded adapters, for many
// concurrent callers. Create it with Load; it is safe for concurrent use.
type Engine struct {
	opts     Options
	run      runner
	codec    textCodec
	eos      []int
	vocab    int
	adapters *adapterRegistry
	closeRun func() error
	model    *model.Model        // nil for engines over a test runner
	tok      *tokenize.Tokenizer // nil without tokenizer.json

	running atomic.Int32 // requests holding a slot

	mu      sync.Mutex
	waiting []*job
	closed  bool
	seeds   *rand.Rand

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// engineSpec describes the model to the scheduler.
type engineSpec struct {
	vocab      int
	maxContext int
	eos        []int
}

// newEngine starts the scheduler over run; opts must already have its defaults.
func newEngine(run runner, codec textCodec, spec engineSpec, opts Options, closeRun func() error) *Engine {
	opts.MaxContext = spec.maxContext
	e := &Engine{
		opts:     opts,
		run:      run,
		codec:    codec,
		eos:      slices.Clone(spec.eos),
		vocab:    spec.vocab,
		adapters: newAdapterRegistry(opts.MaxAdapters),
		closeRun: closeRun,
		seeds:    rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	go e.loop()
	return e
}

// MaxContext returns the number of positions a request may use, prompt included.
func (e *Engine) MaxContext() int { return e.opts.MaxContext }

// Stats is a snapshot of an engine's load.
type Stats struct {
	// Running is the number of requests holding a batch slot.
	Running int
	// Waiting is the number of requests queued for a slot.
	Waiting int
	// Programs is the number of distinct step programs (batch and prompt-length shapes, cache
	// resizes) run so far. Each new one is compiled on first use: milliseconds on the pure-Go
	// backend, seconds for a billion-parameter model on XLA, so a rising count during serving
	// explains a slow step. FirstRuns is the wall time of those first runs, compilation included.
	Programs  int
	FirstRuns time.Duration
}

// programCounter is implemented by runners that compile programs per shape.
type programCounter interface {
	programs() (n int, firstRuns time.Duration)
}

// Stats returns the current number of running and waiting requests and the programs compiled.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Stats{Running: int(e.running.Load()), Waiting: len(e.waiting)}
	if pc, ok := e.run.(programCounter); ok {
		st.Programs, st.FirstRuns = pc.programs()
	}
	return st
}

// Adapters returns the names of the loaded adapters, in no particular order.
func (e *Engine) Adapters() []string { return e.adapters.names() }

// UnloadAdapter removes a loaded adapter. Requests already running with it finish normally; new
// ones naming it fail with ErrUnknownAdapter.
func (e *Engine) UnloadAdapter(name string) error { return e.adapters.remove(name) }

// Close stops the engine: waiting and running requests end with ErrClosed, and the model's
// memory is released. It is safe to call more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.signal()
		<-e.done
		if e.closeRun != nil {
			e.closeErr = e.closeRun()
		}
	})
	return e.closeErr
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Generate runs req to the end and returns the whole result.
func (e *Engine) Generate(ctx context.Context, req *Request) (*Result, error) {
	res := &Result{}
	for c, err := range e.Stream(ctx, req) {
		if err != nil {
			return nil, err
		}
		res.Text += c.Text
		res.TokenIDs = append(res.TokenIDs, c.TokenIDs...)
		res.Logprobs = append(res.Logprobs, c.Logprobs...)
		if c.FinishReason != "" {
			res.FinishReason = c.FinishReason
			res.Usage = *c.Usage
		}
	}
	return res, nil
}

// Stream runs req and yields text deltas as tokens are generated. The last chunk carries the
// finish reason and usage. An error is yielded once and ends the stream; stopping the iteration
// early cancels the request and frees its slot.
func (e *Engine) Stream(ctx context.Context, req *Request) iter.Seq2[*Chunk, error] {
	return func(yield func(*Chunk, error) bool) {
		j, err := e.submit(ctx, req)
		if err != nil {
			yield(nil, err)
			return
		}
		defer e.abandon(ctx, j)
		for {
			chunks, finished, err := j.take()
			for _, c := range chunks {
				if !yield(c, nil) {
					return
				}
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if finished {
				return
			}
			select {
			case <-j.notify:
			case <-ctx.Done():
				yield(nil, fmt.Errorf("generate: %w", ctx.Err()))
				return
			}
		}
	}
}

// submit validates req and queues it.
func (e *Engine) submit(ctx context.Context, req *Request) (*job, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: the request is nil", ErrInvalidRequest)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	prompt := req.PromptIDs
	if len(prompt) == 0 {
		if req.Prompt == "" {
			return nil, fmt.Errorf("%w: the prompt is empty; set Prompt or PromptIDs", ErrInvalidRequest)
		}
		if e.codec == nil {
			return nil, fmt.Errorf("%w: the model has no tokenizer; set PromptIDs", ErrInvalidRequest)
		}
		prompt = e.codec.encode(req.Prompt)
		if len(prompt) == 0 {
			return nil, fmt.Errorf("%w: the prompt %q encodes to no tokens", ErrInvalidRequest, req.Prompt)
		}
	}
	prompt = slices.Clone(prompt)
	for i, id := range prompt {
		if id < 0 || id >= e.vocab {
			return nil, fmt.Errorf("%w: prompt token %d is %d, want an id in [0, %d)", ErrInvalidRequest, i, id, e.vocab)
		}
	}
	if len(prompt) >= e.opts.MaxContext {
		return nil, fmt.Errorf("%w: the prompt has %d tokens, want fewer than the context length %d",
			ErrInvalidRequest, len(prompt), e.opts.MaxContext)
	}
	switch {
	case req.MaxTokens < 0:
		return nil, fmt.Errorf("%w: max_tokens = %d, want >= 0 (0 is up to the context length)", ErrInvalidRequest, req.MaxTokens)
	case req.MinTokens < 0:
		return nil, fmt.Errorf("%w: min_tokens = %d, want >= 0", ErrInvalidRequest, req.MinTokens)
	case req.MaxTokens > 0 && req.MinTokens > req.MaxTokens:
		return nil, fmt.Errorf("%w: min_tokens = %d exceeds max_tokens = %d", ErrInvalidRequest, req.MinTokens, req.MaxTokens)
	case req.TopLogprobs < 0 || req.TopLogprobs > 20:
		return nil, fmt.Errorf("%w: top_logprobs = %d, want a value in [0, 20]", ErrInvalidRequest, req.TopLogprobs)
	}
	for _, id := range req.StopTokenIDs {
		if id < 0 || id >= e.vocab {
			return nil, fmt.Errorf("%w: stop token id %d, want an id in [0, %d)", ErrInvalidRequest, id, e.vocab)
		}
	}
	if err := req.Sampling.validate(e.vocab); err != nil {
		return nil, err
	}
	if req.Adapter != "" && !e.adapters.has(req.Adapter) {
		return nil, fmt.Errorf("generate with adapter %q: %w (loaded: %s)", req.Adapter, ErrUnknownAdapter,
			strings.Join(e.Adapters(), ", "))
	}
	if len(req.Stop) > 0 && e.codec == nil {
		return nil, fmt.Errorf("%w: stop strings need a tokenizer", ErrInvalidRequest)
	}

	jctx, cancel := context.WithCancel(ctx)
	j := &job{
		id:     req.ID,
		ctx:    jctx,
		cancel: cancel,
		req:    req,
		prompt: prompt,
		stop:   newStopMatcher(req.Stop),
		notify: make(chan struct{}, 1),
		slot:   -1,
	}
	j.maxTokens = e.opts.MaxContext - len(prompt)
	if req.MaxTokens > 0 {
		j.maxTokens = min(j.maxTokens, req.MaxTokens)
	}
	j.ends = slices.Clone(req.StopTokenIDs)
	if !req.IgnoreEOS {
		j.ends = append(j.ends, e.eos...)
	}
	j.logprobs = -1
	if req.Logprobs || req.TopLogprobs > 0 {
		j.logprobs = req.TopLogprobs
	}
	if e.codec != nil {
		j.dec = e.codec.newDecoder()
	}

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	if n := len(e.waiting); n >= e.opts.QueueSize {
		e.mu.Unlock()
		cancel()
		return nil, fmt.Errorf("%w: %d requests are waiting (QueueSize)", ErrQueueFull, n)
	}
	j.sampler = newSampler(req.Sampling, prompt, e.seeds.Uint64())
	if j.id == "" {
		j.id = fmt.Sprintf("gen-%016x", e.seeds.Uint64())
	}
	e.waiting = append(e.waiting, j)
	e.mu.Unlock()
	e.signal()
	return j, nil
}

// abandon ends a request from the caller's side: it leaves the queue if still waiting, and the
// scheduler drops it before its next step. It reports usage.
func (e *Engine) abandon(ctx context.Context, j *job) {
	j.cancel()
	e.mu.Lock()
	if i := slices.Index(e.waiting, j); i >= 0 {
		e.waiting = slices.Delete(e.waiting, i, i+1)
	}
	e.mu.Unlock()
	if e.opts.OnUsage != nil {
		j.mu.Lock()
		rec := UsageRecord{ID: j.id, Adapter: j.req.Adapter, Usage: j.usage, FinishReason: j.reason,
			Err: j.err, ComputeTime: j.compute}
		started := j.started
		j.mu.Unlock()
		if rec.FinishReason == "" && rec.Err == nil {
			rec.Err = context.Cause(j.ctx)
		}
		if started {
			e.opts.OnUsage(ctx, rec)
		}
	}
}

// errStep wraps a model failure so callers see which step failed.
var errStep = errors.New("model step failed")
