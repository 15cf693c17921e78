package inference

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/sectorflow/sdk/internal/backend"
	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/tokenize"
)

// defaultMaxContext caps the KV cache length when Options.MaxContext is zero.
const defaultMaxContext = 2048

// Load reads a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded
// index, tokenizer.json, generation_config.json) and starts an engine for it. The EOS ids are
// the union of config.json's and generation_config.json's. A directory without tokenizer.json
// still loads; its requests must then use PromptIDs and no stop strings.
func Load(ctx context.Context, dir string, opts *Options) (eng *Engine, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	defer func() {
		if r := recover(); r != nil {
			eng, err = nil, fmt.Errorf("load %s: %v", dir, r)
		}
	}()
	var mopts model.Options
	if mopts.BF16, err = model.ParsePrecision(o.Precision); err != nil {
		return nil, fmt.Errorf("load %s: %w: %w", dir, ErrInvalidRequest, err)
	}
	if o.Backend != "" {
		b, _, err := backend.New(&backend.Options{Config: o.Backend, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		mopts.Backend = b
	}
	m, cfg, err := model.Load(dir, &mopts)
	if err != nil {
		return nil, err
	}
	if mp := m.Spec.MaxPositions; o.MaxContext > 0 && mp > 0 && o.MaxContext > mp {
		_ = m.Close()
		return nil, fmt.Errorf("load %s: %w: MaxContext = %d exceeds the model's max_position_embeddings (%d)",
			dir, ErrInvalidRequest, o.MaxContext, mp)
	}
	eos := slices.Clone(cfg.EOSTokenIDs)
	var codec textCodec
	var tk *tokenize.Tokenizer
	if _, statErr := os.Stat(filepath.Join(dir, "tokenizer.json")); statErr == nil {
		tok, err := tokenize.Load(dir)
		if err != nil {
			_ = m.Close()
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		codec, tk = tokenizerCodec{tok}, tok
		for _, id := range tok.EOSTokenIDs() {
			if !slices.Contains(eos, id) {
				eos = append(eos, id)
			}
		}
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		_ = m.Close()
		return nil, fmt.Errorf("load %s: %w", dir, statErr)
	}
	e := newModelEngine(m, codec, eos, o)
	e.tok = tk
	return e, nil
}

// newModelEngine starts an engine over a loaded model; o has its defaults.
func newModelEngine(m *model.Model, codec textCodec, eos []int, o Options) *Engine {
	maxContext := o.MaxContext
	if maxContext <= 0 {
		maxContext = defaultMaxContext
		if mp := m.Spec.MaxPositions; mp > 0 {
			maxContext = min(maxContext, mp)
		}
	}
	run := newModelRunner(m, o.MaxBatch, maxContext, o.MaxAdapters)
	spec := engineSpec{vocab: m.Spec.VocabSize, maxContext: maxContext, eos: eos}
	e := newEngine(run, codec, spec, o, func() error {
		run.close()
		return m.Close()
	})
	e.model = m
	return e
}

// LoadAdapter reads a PEFT LoRA adapter directory (adapter_config.json and
// adapter_model.safetensors) and makes it available under name. It checks the adapter against the
// base model (architecture, targeted projections, shapes, ranks) and fails with ErrInvalidAdapter
// before any request can use it. Adapters of different ranks and targets mix freely; loading a
// name again replaces the adapter when no request is using it.
func (e *Engine) LoadAdapter(ctx context.Context, name, dir string) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.model == nil {
		return fmt.Errorf("load adapter %q: the engine has no model", name)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("load adapter %q from %s: %w: %v", name, dir, ErrInvalidAdapter, r)
		}
	}()
	a, err := e.model.LoadAdapter(dir)
	if err != nil {
		return fmt.Errorf("load adapter %q from %s: %w: %w", name, dir, ErrInvalidAdapter, err)
	}
	return e.adapters.add(name, weightsFromModelAdapter(a))
}

// tokenizerCodec adapts a tokenize.Tokenizer to the engine.
type tokenizerCodec struct{ t *tokenize.Tokenizer }

func (c tokenizerCodec) encode(text string) []int { return c.t.Encode(text, true) }
func (c tokenizerCodec) newDecoder() textDecoder {
	return streamDecoder{c.t.NewStreamDecoder(true)}
}

type streamDecoder struct{ d *tokenize.StreamDecoder }

func (s streamDecoder) add(id int) string { return s.d.Add(id) }
func (s streamDecoder) flush() string     { return s.d.Flush() }
