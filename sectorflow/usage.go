package sectorflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UsageKind says what kind of work a Usage record bills.
type UsageKind string

const (
	// UsageTraining bills one fine-tuning job.
	UsageTraining UsageKind = "training"
	// UsageInference bills one generation request.
	UsageInference UsageKind = "inference"
)

// UsageOutcome says how the billed work ended.
type UsageOutcome string

const (
	// OutcomeCompleted means the work ran to its normal end (a finished job, a generation that
	// stopped on EOS, a stop string or its token limit). The empty outcome means the same.
	OutcomeCompleted UsageOutcome = "completed"
	// OutcomeFailed means the work stopped on an error after doing some of it.
	OutcomeFailed UsageOutcome = "failed"
	// OutcomeCancelled means the caller cancelled the work (its context was cancelled or its
	// deadline passed) after doing some of it.
	OutcomeCancelled UsageOutcome = "cancelled"
)

// OutcomeOf returns the outcome of work that ended with err: completed for nil, cancelled when
// err matches context.Canceled or context.DeadlineExceeded, failed otherwise.
func OutcomeOf(err error) UsageOutcome {
	switch {
	case err == nil:
		return OutcomeCompleted
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return OutcomeCancelled
	}
	return OutcomeFailed
}

// Usage is one billing record: the resources one training job or one inference request used.
//
// When usage is recorded (the facade follows this, and a Meter may rely on it):
//
//   - Exactly one record per job or request, identified by (Tenant, Kind, ID), sent once the work
//     has ended, whatever the ending. Meters in this package are idempotent on that key, so a
//     retried Record cannot bill twice.
//   - A training job records TrainedTokens: the tokens of every optimizer step that completed
//     (every non-padding token fed through the model, each epoch counted again), plus the tokens
//     of evaluation passes in PromptTokens. A job that fails or is cancelled records the
//     tokens of the steps completed before it stopped (a partial step is not billed), with
//     Outcome failed or cancelled. A job that fails before its first step records zero tokens, so
//     the attempt is still visible. Resuming a job from a checkpoint is new work: the resumed run
//     records under its own ID (for example the job id with a run suffix) and bills only the
//     steps it ran, since the steps before the checkpoint were billed by the run that did them.
//   - An inference request records PromptTokens (the prompt after the chat template, as fed to the
//     model) and CompletionTokens (the tokens actually generated, stop tokens included, stop
//     strings trimmed from the text still counted). A cancelled request (client gone, context
//     cancelled) records the tokens produced before it stopped, with Outcome cancelled; a request
//     rejected before prefill (invalid, over limits) records nothing; a request that fails during
//     generation records what was computed up to the failure, with Outcome failed.
//   - ComputeTime is the wall time the work held the accelerator (prefill and decode steps for a
//     request, the training loop for a job), not time spent queued.
//   - Time is when the work ended; Record fills it with the current time when it is zero.
type Usage struct {
	// ID is the job id (training) or request id (inference). With Tenant and Kind it identifies
	// the record: a second Record with the same key is not billed again.
	ID string `json:"id"`
	// Tenant is the customer billed.
	Tenant string `json:"tenant"`
	// Kind is training or inference.
	Kind UsageKind `json:"kind"`
	// Model names the base model.
	Model string `json:"model,omitempty"`
	// Adapter names the LoRA adapter used (inference) or produced (training); empty for none.
	Adapter string `json:"adapter,omitempty"`
	// PromptTokens counts prompt tokens (inference) or evaluation tokens (training).
	PromptTokens int64 `json:"prompt_tokens"`
	// CompletionTokens counts generated tokens.
	CompletionTokens int64 `json:"completion_tokens"`
	// TrainedTokens counts tokens fed through completed training steps.
	TrainedTokens int64 `json:"trained_tokens"`
	// ComputeTime is the accelerator time the work used.
	ComputeTime time.Duration `json:"compute_ns"`
	// Time is when the work ended.
	Time time.Time `json:"time"`
	// Outcome is how the work ended; empty means completed.
	Outcome UsageOutcome `json:"outcome,omitempty"`
}

// ErrInvalidUsage reports a Usage record that cannot be billed (no tenant, unknown kind,
// negative counts). Errors wrapping it say which field and what was found.
var ErrInvalidUsage = errors.New("invalid usage record")

// ErrUsageConflict reports a second Record for the same (Tenant, Kind, ID) whose counts differ
// from the first: the first is kept and the second is not billed.
var ErrUsageConflict = errors.New("usage already recorded with different values")

// Validate checks that u can be billed: it names a tenant, a known kind and an ID, and no count
// or duration is negative.
func (u Usage) Validate() error {
	switch {
	case u.Tenant == "":
		return fmt.Errorf("%w: tenant is empty", ErrInvalidUsage)
	case u.ID == "":
		return fmt.Errorf("%w: id is empty (want the job or request id)", ErrInvalidUsage)
	case u.Kind != UsageTraining && u.Kind != UsageInference:
		return fmt.Errorf("%w: kind is %q, want %q or %q", ErrInvalidUsage, u.Kind, UsageTraining, UsageInference)
	case u.PromptTokens < 0:
		return fmt.Errorf("%w: prompt_tokens is %d, want >= 0", ErrInvalidUsage, u.PromptTokens)
	case u.CompletionTokens < 0:
		return fmt.Errorf("%w: completion_tokens is %d, want >= 0", ErrInvalidUsage, u.CompletionTokens)
	case u.TrainedTokens < 0:
		return fmt.Errorf("%w: trained_tokens is %d, want >= 0", ErrInvalidUsage, u.TrainedTokens)
	case u.ComputeTime < 0:
		return fmt.Errorf("%w: compute time is %v, want >= 0", ErrInvalidUsage, u.ComputeTime)
	}
	switch u.Outcome {
	case "", OutcomeCompleted, OutcomeFailed, OutcomeCancelled:
	default:
		return fmt.Errorf("%w: outcome is %q, want %q, %q or %q", ErrInvalidUsage, u.Outcome,
			OutcomeCompleted, OutcomeFailed, OutcomeCancelled)
	}
	return nil
}

// usageKey is the idempotency key of a record.
type usageKey struct {
	tenant string
	kind   UsageKind
	id     string
}

func (u Usage) key() usageKey { return usageKey{u.Tenant, u.Kind, u.ID} }

// sameBilling reports whether a and b bill the same thing; the timestamps are ignored so that a
// retried Record with a fresh timestamp is still the same record.
func sameBilling(a, b Usage) error {
	norm := func(o UsageOutcome) UsageOutcome {
		if o == "" {
			return OutcomeCompleted
		}
		return o
	}
	type diff struct {
		field  string
		first  any
		second any
	}
	var diffs []diff
	add := func(field string, x, y any) {
		if x != y {
			diffs = append(diffs, diff{field, x, y})
		}
	}
	add("model", a.Model, b.Model)
	add("adapter", a.Adapter, b.Adapter)
	add("prompt_tokens", a.PromptTokens, b.PromptTokens)
	add("completion_tokens", a.CompletionTokens, b.CompletionTokens)
	add("trained_tokens", a.TrainedTokens, b.TrainedTokens)
	add("compute time", a.ComputeTime, b.ComputeTime)
	add("outcome", norm(a.Outcome), norm(b.Outcome))
	if len(diffs) == 0 {
		return nil
	}
	d := diffs[0]
	return fmt.Errorf("%w: %s %s %q: %s was %v, now %v", ErrUsageConflict, a.Tenant, a.Kind, a.ID,
		d.field, d.first, d.second)
}

// UsageTotals sums the usage of one tenant.
type UsageTotals struct {
	// Jobs counts training records.
	Jobs int64
	// Requests counts inference records.
	Requests int64
	// PromptTokens sums Usage.PromptTokens.
	PromptTokens int64
	// CompletionTokens sums Usage.CompletionTokens.
	CompletionTokens int64
	// TrainedTokens sums Usage.TrainedTokens.
	TrainedTokens int64
	// ComputeTime sums Usage.ComputeTime.
	ComputeTime time.Duration
}

// add folds u into t.
func (t *UsageTotals) add(u Usage) {
	if u.Kind == UsageTraining {
		t.Jobs++
	} else {
		t.Requests++
	}
	t.PromptTokens += u.PromptTokens
	t.CompletionTokens += u.CompletionTokens
	t.TrainedTokens += u.TrainedTokens
	t.ComputeTime += u.ComputeTime
}
