package server

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// loadEngine loads the base model. Until sectorflow.Model is available the server serves files
// and fine-tuning jobs, and completions answer 503.
func loadEngine(ctx context.Context, modelDir string, o *Options) (engine, error) {
	return unavailableEngine{}, nil
}

var errNoModel = errors.New("text generation is not available in this build")

type unavailableEngine struct{}

func (unavailableEngine) Generate(context.Context, *genRequest) (*genResult, error) {
	return nil, errNoModel
}

func (unavailableEngine) Stream(context.Context, *genRequest) iter.Seq2[*genChunk, error] {
	return func(yield func(*genChunk, error) bool) { yield(nil, errNoModel) }
}

func (unavailableEngine) LoadAdapter(context.Context, string, string) error {
	return fmt.Errorf("load adapter: %w", errNoModel)
}
func (unavailableEngine) UnloadAdapter(string) error { return nil }
func (unavailableEngine) MaxContext() int            { return 2048 }
func (unavailableEngine) Close() error               { return nil }
