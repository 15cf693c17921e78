package server

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/sectorflow/sdk/sectorflow"
)

// errNoModel is what completions answer (503) when the server has no model to generate with.
var errNoModel = errors.New("text generation is not available")

// loadEngine loads the base model through sectorflow.Model.
// Every request that reaches the model reports its usage through onUsage.
func loadEngine(ctx context.Context, modelDir string, o *Options, onUsage func(context.Context, sectorflow.Usage)) (engine, error) {
	m, err := sectorflow.LoadModel(ctx, modelDir, &sectorflow.ModelOptions{
		Name: o.ModelName, MaxBatch: o.MaxBatch, MaxContext: o.MaxContext, QueueSize: o.QueueSize,
		Backend: o.Backend, Precision: o.Precision, Logger: o.Logger, OnUsage: onUsage,
	})
	if err != nil {
		return nil, err
	}
	return modelEngine{m}, nil
}

// modelEngine adapts *sectorflow.Model to engine.
type modelEngine struct{ m *sectorflow.Model }

func (e modelEngine) request(r *genRequest) *sectorflow.GenerateRequest {
	return &sectorflow.GenerateRequest{
		ID: r.ID, PromptIDs: r.PromptIDs, Adapter: r.Adapter, MaxTokens: r.MaxTokens, Stop: r.Stop,
		IgnoreEOS: r.IgnoreEOS, Logprobs: r.Logprobs || r.TopLogprobs > 0, TopLogprobs: r.TopLogprobs,
		Sampling: sectorflow.Sampling{
			Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK, MinP: r.MinP, PresencePenalty: r.Presence,
			FrequencyPenalty: r.Frequency, RepetitionPenalty: r.Repetition, LogitBias: r.LogitBias, Seed: r.Seed,
		},
	}
}

// mapErr turns the model's errors into the server's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sectorflow.ErrQueueFull):
		return fmt.Errorf("%w: %w", errQueueFull, err)
	case errors.Is(err, sectorflow.ErrInvalidRequest):
		return fmt.Errorf("%w: %w", errInvalidRequest, err)
	case errors.Is(err, sectorflow.ErrUnknownAdapter):
		return fmt.Errorf("%w: %w", errUnknownAdapter, err)
	}
	return err
}

// logprobsOf converts the model's log-probabilities; the alternatives at each step have none of
// their own.
func logprobsOf(res *sectorflow.GenerateResult, c *sectorflow.GenerateChunk) []tokenLogprob {
	var out []tokenLogprob
	add := func(id int, lp float32) { out = append(out, tokenLogprob{ID: id, Logprob: lp}) }
	if res != nil {
		for _, lp := range res.Logprobs {
			add(lp.ID, lp.Logprob)
			for _, alt := range lp.Top {
				out[len(out)-1].Top = append(out[len(out)-1].Top, tokenLogprob{ID: alt.ID, Logprob: alt.Logprob})
			}
		}
	}
	if c != nil {
		for _, lp := range c.Logprobs {
			add(lp.ID, lp.Logprob)
			for _, alt := range lp.Top {
				out[len(out)-1].Top = append(out[len(out)-1].Top, tokenLogprob{ID: alt.ID, Logprob: alt.Logprob})
			}
		}
	}
	return out
}

func (e modelEngine) Generate(ctx context.Context, r *genRequest) (*genResult, error) {
	res, err := e.m.Generate(ctx, e.request(r))
	if err != nil {
		return nil, mapErr(err)
	}
	return &genResult{Text: res.Text, Logprobs: logprobsOf(res, nil), FinishReason: string(res.FinishReason),
		PromptTokens: res.Usage.PromptTokens, CompletionTokens: res.Usage.CompletionTokens}, nil
}

func (e modelEngine) Stream(ctx context.Context, r *genRequest) iter.Seq2[*genChunk, error] {
	return func(yield func(*genChunk, error) bool) {
		for c, err := range e.m.Stream(ctx, e.request(r)) {
			if err != nil {
				yield(nil, mapErr(err))
				return
			}
			g := &genChunk{Text: c.Text, Logprobs: logprobsOf(nil, c), FinishReason: string(c.FinishReason)}
			if c.Usage != nil {
				g.Final, g.PromptTokens, g.CompletionTokens = true, c.Usage.PromptTokens, c.Usage.CompletionTokens
			}
			if !yield(g, nil) {
				return
			}
		}
	}
}

func (e modelEngine) LoadAdapter(ctx context.Context, name, dir string) error {
	return mapErr(e.m.LoadAdapter(ctx, name, dir))
}

func (e modelEngine) UnloadAdapter(name string) error { return mapErr(e.m.UnloadAdapter(name)) }
func (e modelEngine) MaxContext() int                 { return e.m.MaxContext() }
func (e modelEngine) Close() error                    { return e.m.Close() }
