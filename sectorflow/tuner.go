package sectorflow

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/sectorflow/sdk/tuning"
)

// TuneOptions configure one fine-tuning job; nil means the defaults documented on
// tuning.Options (rank 8, alpha 16, q_proj and v_proj, one epoch, learning rate 2e-4 with a
// linear schedule, batch size 4).
type TuneOptions = tuning.Options

// TuneEvent is one progress report of a fine-tuning job (step, epoch, loss, evaluation loss,
// learning rate, tokens/s, ETA, checkpoints).
type TuneEvent = tuning.Event

// TuneResult summarises a finished fine-tuning job.
type TuneResult = tuning.Result

// TunerOptions configure a Tuner; nil means the defaults.
type TunerOptions struct {
	// Logger receives the jobs' diagnostics (default: discard). Wrap it with
	// NewRedactingHandler when it feeds a job log.
	Logger *slog.Logger
}

// Tuner fine-tunes LoRA adapters for one base model in Hugging Face layout.
type Tuner struct {
	modelDir string
	logger   *slog.Logger
}

// NewTuner returns a Tuner for the model in modelDir, after checking that the directory holds a
// config.json; the weights are read when a job starts.
func NewTuner(modelDir string, opts *TunerOptions) (*Tuner, error) {
	if _, err := os.Stat(filepath.Join(modelDir, "config.json")); err != nil {
		return nil, fmt.Errorf("new tuner: expected a Hugging Face model directory with config.json at %s: %w", modelDir, err)
	}
	t := &Tuner{modelDir: modelDir, logger: slog.New(slog.DiscardHandler)}
	if opts != nil && opts.Logger != nil {
		t.logger = opts.Logger
	}
	return t, nil
}

// Tune starts a fine-tuning job on the JSONL dataset at dataPath that writes its adapter (PEFT
// format) and checkpoints to outDir, and returns at once. Cancelling ctx stops the job between
// steps; its last checkpoint stays in outDir for a later resume (TuneOptions.Resume). The
// options' OnEvent, if set, is called from the job's goroutine besides Job.Events.
func (t *Tuner) Tune(ctx context.Context, dataPath, outDir string, opts *TuneOptions) (*Job, error) {
	if dataPath == "" || outDir == "" {
		return nil, errors.New("tune: expected a dataset path and an output directory, found an empty one")
	}
	var o tuning.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = t.logger
	}
	j := &Job{done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	user := o.OnEvent
	o.OnEvent = func(e tuning.Event) {
		if user != nil {
			user(e)
		}
		j.mu.Lock()
		j.events = append(j.events, e)
		j.mu.Unlock()
		j.cond.Broadcast()
	}
	go func() {
		res, err := tuning.Train(ctx, t.modelDir, dataPath, outDir, &o)
		j.mu.Lock()
		j.res, j.err, j.finished = res, err, true
		j.mu.Unlock()
		j.cond.Broadcast()
		close(j.done)
	}()
	return j, nil
}

// Merge writes the base model with an adapter folded in as a plain Hugging Face checkpoint.
func (t *Tuner) Merge(ctx context.Context, adapterDir, outDir string) error {
	return tuning.Merge(ctx, t.modelDir, adapterDir, outDir)
}

// Job is a running or finished fine-tuning job. Its methods are safe for concurrent use.
type Job struct {
	mu       sync.Mutex
	cond     *sync.Cond
	events   []tuning.Event
	finished bool
	res      *tuning.Result
	err      error
	done     chan struct{}
}

// Events streams the job's events from its first one, blocking for new ones until the job ends;
// when the job failed, the last item is its error. Several callers may iterate at once.
func (j *Job) Events() iter.Seq2[TuneEvent, error] {
	return func(yield func(TuneEvent, error) bool) {
		for i := 0; ; i++ {
			j.mu.Lock()
			for i >= len(j.events) && !j.finished {
				j.cond.Wait()
			}
			if i >= len(j.events) {
				err := j.err
				j.mu.Unlock()
				if err != nil {
					yield(TuneEvent{}, err)
				}
				return
			}
			e := j.events[i]
			j.mu.Unlock()
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait blocks until the job ends, or ctx is done, and returns its result.
func (j *Job) Wait(ctx context.Context) (*TuneResult, error) {
	select {
	case <-j.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.res, j.err
}
