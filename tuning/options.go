package tuning

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/sectorflow/sdk/internal/model"
)

// Options configure Train. The zero value (or nil) means the documented defaults.
type Options struct {
	// ValidationPath is an optional JSONL dataset whose loss is reported every EvalEvery steps
	// and at the end.
	ValidationPath string

	// Rank is the LoRA rank r (default 8). Alpha is lora_alpha (default 2*Rank). Dropout is the
	// probability of dropping an adapter input during training (default 0). RSLoRA scales by
	// alpha/sqrt(r) instead of alpha/r.
	Rank    int
	Alpha   float64
	Dropout float64
	RSLoRA  bool
	// Targets are the projections to adapt: any of q_proj, k_proj, v_proj, o_proj, gate_proj,
	// up_proj, down_proj, or "all-linear" (default q_proj and v_proj, PEFT's default for Llama).
	Targets []string

	// Epochs over the training set (default 1). MaxSteps, when positive, sets the number of
	// optimizer steps instead, cycling the data as often as needed.
	Epochs   int
	MaxSteps int

	// LearningRate is the peak learning rate (default 2e-4). Schedule is constant, linear
	// (default) or cosine; WarmupSteps ramps the rate linearly from 0 first.
	LearningRate float64
	Schedule     Schedule
	WarmupSteps  int

	// Beta1, Beta2 and Eps are AdamW's (defaults 0.9, 0.999, 1e-8); WeightDecay is decoupled
	// weight decay (default 0).
	Beta1, Beta2, Eps, WeightDecay float64
	// MaxGradNorm clips the global gradient norm (default 1; negative disables clipping).
	MaxGradNorm float64

	// BatchSize is the number of rows per micro-batch (default 4); GradAccum the number of
	// micro-batches per optimizer step (default 1). The loss of a step is the mean over all
	// target tokens of its micro-batches, however unevenly they are spread.
	BatchSize int
	GradAccum int
	// MaxSeqLen is the longest sample (default 2048); longer ones are errors unless Truncate.
	MaxSeqLen int
	Truncate  bool
	// Pack places several samples in one row, each attending only to itself with its own
	// positions.
	Pack bool

	// Seed makes the run deterministic on a given backend (adapter init, data order, dropout).
	Seed uint64

	// CheckpointEvery saves a checkpoint every N optimizer steps (0: only at the end). EvalEvery
	// computes the validation loss every N steps (0: only at the end).
	CheckpointEvery int
	EvalEvery       int
	// KeepCheckpoints keeps only the newest N checkpoints (0: keep all).
	KeepCheckpoints int
	// Resume continues from a checkpoint directory, or from the newest checkpoint under an output
	// directory. The result is the same, to the bit, as a run that was never interrupted.
	Resume string

	// Precision is "float32" (the default) or "bfloat16": the base weights are held as
	// bfloat16 and the base model's matrix products run on bfloat16 operands (GPU tensor cores),
	// as PEFT trains on a bf16 model; the LoRA weights, their products, the optimizer state,
	// norms, softmax and the loss stay float32.
	Precision string

	// BaseModelName is written as base_model_name_or_path (default: the model directory).
	BaseModelName string
	// OnEvent receives progress events, synchronously, from the training goroutine.
	OnEvent func(Event)
	// Logger receives diagnostics (default: discard).
	Logger *slog.Logger
}

// withDefaults returns a copy of o with defaults filled in, or an error naming a bad value.
func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	bad := func(name string, want string, v any) error {
		return fmt.Errorf("%s: expected %s, found %v: %w", name, want, v, ErrBadOption)
	}
	if _, err := model.ParsePrecision(r.Precision); err != nil {
		return r, fmt.Errorf("%w: %w", err, ErrBadOption)
	}
	if r.Rank == 0 {
		r.Rank = 8
	}
	if r.Rank < 0 {
		return r, bad("rank", "a positive integer", r.Rank)
	}
	if r.Alpha == 0 {
		r.Alpha = 2 * float64(r.Rank)
	}
	if r.Dropout < 0 || r.Dropout >= 1 || math.IsNaN(r.Dropout) {
		return r, bad("dropout", "a probability in [0, 1)", r.Dropout)
	}
	if r.Epochs == 0 {
		r.Epochs = 1
	}
	if r.Epochs < 0 {
		return r, bad("epochs", "a positive integer", r.Epochs)
	}
	if r.MaxSteps < 0 {
		return r, bad("max steps", "zero (use epochs) or a positive integer", r.MaxSteps)
	}
	if r.LearningRate == 0 {
		r.LearningRate = 2e-4
	}
	if r.LearningRate < 0 || math.IsNaN(r.LearningRate) || math.IsInf(r.LearningRate, 0) {
		return r, bad("learning rate", "a positive number", r.LearningRate)
	}
	if r.Schedule == "" {
		r.Schedule = ScheduleLinear
	}
	if _, err := lrFactor(r.Schedule, 0, 0, 1); err != nil {
		return r, fmt.Errorf("%w: %w", err, ErrBadOption)
	}
	if r.WarmupSteps < 0 {
		return r, bad("warmup steps", "zero or a positive integer", r.WarmupSteps)
	}
	if r.Beta1 == 0 {
		r.Beta1 = 0.9
	}
	if r.Beta2 == 0 {
		r.Beta2 = 0.999
	}
	if r.Eps == 0 {
		r.Eps = 1e-8
	}
	if r.Beta1 < 0 || r.Beta1 >= 1 || r.Beta2 < 0 || r.Beta2 >= 1 {
		return r, bad("adam betas", "values in [0, 1)", [2]float64{r.Beta1, r.Beta2})
	}
	if r.WeightDecay < 0 {
		return r, bad("weight decay", "zero or a positive number", r.WeightDecay)
	}
	if r.MaxGradNorm == 0 {
		r.MaxGradNorm = 1
	}
	if r.BatchSize == 0 {
		r.BatchSize = 4
	}
	if r.BatchSize < 0 {
		return r, bad("batch size", "a positive integer", r.BatchSize)
	}
	if r.GradAccum == 0 {
		r.GradAccum = 1
	}
	if r.GradAccum < 0 {
		return r, bad("gradient accumulation", "a positive integer", r.GradAccum)
	}
	if r.MaxSeqLen == 0 {
		r.MaxSeqLen = DefaultMaxSeqLen
	}
	if r.MaxSeqLen < 2 {
		return r, bad("max sequence length", "at least 2", r.MaxSeqLen)
	}
	if r.CheckpointEvery < 0 || r.EvalEvery < 0 || r.KeepCheckpoints < 0 {
		return r, bad("checkpoint/eval interval and checkpoints kept", "zero or positive integers", [3]int{r.CheckpointEvery, r.EvalEvery, r.KeepCheckpoints})
	}
	return r, nil
}

// EventKind says what an Event reports.
type EventKind string

const (
	// EventStep follows every optimizer step.
	EventStep EventKind = "step"
	// EventEval reports a validation loss.
	EventEval EventKind = "eval"
	// EventCheckpoint reports a saved checkpoint.
	EventCheckpoint EventKind = "checkpoint"
	// EventDone is the last event of a successful run.
	EventDone EventKind = "done"
)

// Event is one progress report of a training run.
type Event struct {
	Kind EventKind `json:"kind"`
	// Step is the number of optimizer steps done, of TotalSteps.
	Step       int `json:"step"`
	TotalSteps int `json:"total_steps"`
	// Epoch is the 0-based epoch the next micro-batch comes from.
	Epoch int `json:"epoch"`
	// Loss is the step's mean loss per target token; EvalLoss the validation loss (EventEval,
	// EventDone when there is a validation set).
	Loss     float64 `json:"loss,omitempty"`
	EvalLoss float64 `json:"eval_loss,omitempty"`
	// LearningRate is the rate the step used; GradNorm the gradient norm before clipping.
	LearningRate float64 `json:"learning_rate,omitempty"`
	GradNorm     float64 `json:"grad_norm,omitempty"`
	// Tokens counts the non-padding tokens of the optimizer steps this run (or resumption) has
	// completed; TokensPerSecond is their rate.
	Tokens int `json:"tokens,omitempty"`
	// TrainedTokens counts the non-padding tokens of every completed step since the run first
	// started, across resumptions.
	TrainedTokens   int64   `json:"trained_tokens,omitempty"`
	TokensPerSecond float64 `json:"tokens_per_second,omitempty"`
	// Elapsed is the time since this run (or resumption) started; ETA the estimated time left.
	Elapsed time.Duration `json:"elapsed"`
	ETA     time.Duration `json:"eta"`
	// Checkpoint is the directory written (EventCheckpoint, EventDone).
	Checkpoint string `json:"checkpoint,omitempty"`
}
