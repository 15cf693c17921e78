package tuning

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sectorflow/sdk/internal/model"
)

// trainer is one training run over prepared samples on a loaded model.
type trainer struct {
	o         Options
	m         *model.Model
	set       *loraSet
	opt       []adamState
	st        *stepper
	train     []Sample
	val       []Sample
	lengths   []int
	plans     map[int][]batchPlan
	state     trainerState
	rng       *rand.PCG // dropout seeds
	outDir    string
	baseModel string
	log       *slog.Logger
}

func newTrainer(m *model.Model, train, val []Sample, outDir string, o Options) (*trainer, error) {
	spec := m.Spec
	d := dims{Layers: spec.Layers, Hidden: spec.Hidden, Intermediate: spec.Intermediate,
		Heads: spec.Heads, KVHeads: spec.KVHeads, HeadDim: spec.HeadDim}
	set, err := newLoRASet(d, o.Targets, o.Rank, o.Alpha, o.RSLoRA, o.Seed)
	if err != nil {
		return nil, err
	}
	t := &trainer{o: o, m: m, set: set, train: train, val: val, plans: map[int][]batchPlan{},
		outDir: outDir, baseModel: o.BaseModelName, log: o.Logger}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range set.params() {
		t.opt = append(t.opt, adamState{M: make([]float32, len(p)), V: make([]float32, len(p))})
	}
	for _, s := range train {
		t.lengths = append(t.lengths, len(s.IDs))
	}
	t.rng = rand.NewPCG(o.Seed, 0xd209)
	if t.st, err = newStepper(m, set, o.Dropout); err != nil {
		return nil, err
	}
	t.state = trainerState{Fingerprint: t.fingerprint(), TotalSteps: t.totalSteps()}
	return t, nil
}

// plan returns (and caches) the micro-batch plan of an epoch.
func (t *trainer) plan(epoch int) []batchPlan {
	if p, ok := t.plans[epoch]; ok {
		return p
	}
	p := planEpoch(t.lengths, t.o.BatchSize, t.o.Pack, t.o.MaxSeqLen, t.o.Seed, epoch)
	if len(t.plans) > 4 {
		clear(t.plans)
	}
	t.plans[epoch] = p
	return p
}

// stepsInEpoch is the number of optimizer steps an epoch gives: accumulation groups do not
// cross epochs, and the last one of an epoch may hold fewer micro-batches.
func (t *trainer) stepsInEpoch(epoch int) int {
	n := len(t.plan(epoch))
	return (n + t.o.GradAccum - 1) / t.o.GradAccum
}

func (t *trainer) totalSteps() int {
	if t.o.MaxSteps > 0 {
		return t.o.MaxSteps
	}
	total := 0
	for e := range t.o.Epochs {
		total += t.stepsInEpoch(e)
	}
	return total
}

// fingerprint hashes everything the trajectory of a run depends on.
func (t *trainer) fingerprint() string {
	h := sha256.New()
	o := t.o
	cfg, _ := json.Marshal([]any{o.Rank, o.Alpha, o.Dropout, o.RSLoRA, t.set.Targets, o.Epochs, o.MaxSteps,
		o.LearningRate, o.Schedule, o.WarmupSteps, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.MaxGradNorm,
		o.BatchSize, o.GradAccum, o.MaxSeqLen, o.Pack, o.Seed, t.m.Spec.Architecture, t.m.Spec.VocabSize,
		t.m.Spec.Hidden, t.m.Spec.Layers})
	h.Write(cfg)
	var buf [4]byte
	for _, s := range t.train {
		binary.LittleEndian.PutUint32(buf[:], uint32(len(s.IDs)))
		h.Write(buf[:])
		for i, id := range s.IDs {
			binary.LittleEndian.PutUint32(buf[:], uint32(id))
			if s.Targets[i] {
				buf[3] |= 0x80
			}
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// resume loads the checkpoint at path into the trainer.
func (t *trainer) resume(path string) (string, error) {
	dir, err := latestCheckpoint(path)
	if err != nil {
		return "", err
	}
	st, err := loadCheckpoint(dir, t.set, t.opt)
	if err != nil {
		return "", err
	}
	if st.Fingerprint != t.state.Fingerprint {
		return "", fmt.Errorf("resume from %s: the checkpoint was made with other options or data (fingerprint %s, this run %s); resuming would not reproduce that run: %w",
			dir, st.Fingerprint, t.state.Fingerprint, ErrBadOption)
	}
	if err := t.rng.UnmarshalBinary(st.RNG); err != nil {
		return "", fmt.Errorf("resume from %s: rng state: %w", dir, err)
	}
	t.state = st
	return dir, nil
}

func (t *trainer) emit(e Event) {
	if t.o.OnEvent != nil {
		t.o.OnEvent(e)
	}
}

// checkpoint saves the current state and reports it.
func (t *trainer) checkpoint() (string, error) {
	rngState, err := t.rng.MarshalBinary()
	if err != nil {
		return "", err
	}
	t.state.RNG = rngState
	dir, err := saveCheckpoint(t.outDir, t.set, t.opt, t.state, t.baseModel, t.o.Dropout)
	if err != nil {
		return "", err
	}
	t.log.Info("checkpoint saved", "dir", dir, "step", t.state.Step)
	if err := pruneCheckpoints(t.outDir, t.o.KeepCheckpoints); err != nil {
		return "", err
	}
	return dir, nil
}

// stepResult is what one optimizer step reports.
type stepResult struct {
	loss, gradNorm, lr float64
	tokens             int
}

// accumulated is the outcome of one step's micro-batches before the optimizer sees it.
type accumulated struct {
	grads   [][]float32 // sum over micro-batches of d(sum of token losses)/dparam, divided by targets
	lossSum float64     // sum of token losses
	targets int         // target tokens across all micro-batches
	tokens  int         // non-padding tokens
}

// accumulate runs up to GradAccum micro-batches of the current epoch and returns their gradient
// normalised by the number of target tokens across all of them: the gradient of the mean loss
// per target token of the whole step, however unevenly the tokens fall into micro-batches.
func (t *trainer) accumulate(ctx context.Context) (accumulated, error) {
	var a accumulated
	if t.state.MicroBatch >= len(t.plan(t.state.Epoch)) {
		t.state.Epoch++
		t.state.MicroBatch = 0
	}
	plan := t.plan(t.state.Epoch)
	for k := 0; k < t.o.GradAccum && t.state.MicroBatch < len(plan); k++ {
		b := buildBatch(t.train, plan[t.state.MicroBatch], t.o.MaxSeqLen, t.o.BatchSize)
		seed := int64(t.rng.Uint64() >> 1)
		losses, grads, err := t.st.run(ctx, b, true, seed)
		if err != nil {
			return a, err
		}
		for _, l := range losses {
			a.lossSum += float64(l)
		}
		if a.grads == nil {
			a.grads = grads
		} else {
			for i := range grads {
				for j, v := range grads[i] {
					a.grads[i][j] += v
				}
			}
		}
		a.targets += b.TargetTokens
		for _, s := range b.Segments {
			if s != 0 {
				a.tokens++
			}
		}
		t.state.MicroBatch++
	}
	if a.targets == 0 {
		return a, fmt.Errorf("step %d: expected target tokens in the batch, found none: %w", t.state.Step+1, ErrNoTargets)
	}
	inv := float32(1 / float64(a.targets))
	for _, g := range a.grads {
		for j := range g {
			g[j] *= inv
		}
	}
	return a, nil
}

// step runs one optimizer step: accumulate, clip by global norm, then AdamW at the scheduled
// learning rate.
func (t *trainer) step(ctx context.Context) (stepResult, error) {
	var r stepResult
	a, err := t.accumulate(ctx)
	if err != nil {
		return r, err
	}
	r.tokens = a.tokens
	r.loss = a.lossSum / float64(a.targets)
	r.gradNorm = clipGlobalNorm(a.grads, t.o.MaxGradNorm)
	f, err := lrFactor(t.o.Schedule, t.state.Step, t.o.WarmupSteps, t.state.TotalSteps)
	if err != nil {
		return r, err
	}
	r.lr = t.o.LearningRate * f
	opt := adamW{Beta1: t.o.Beta1, Beta2: t.o.Beta2, Eps: t.o.Eps, WeightDecay: t.o.WeightDecay}
	for i, p := range t.set.params() {
		adamWStep(opt, r.lr, t.state.Step+1, p, a.grads[i], &t.opt[i])
	}
	t.state.Step++
	t.state.LastLoss = r.loss
	t.state.TrainedTokens += int64(r.tokens)
	return r, nil
}

// evalLoss returns the mean loss per target token over samples (no dropout, no update).
func (t *trainer) evalLoss(ctx context.Context, samples []Sample) (float64, error) {
	order := make([]int, len(samples))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(samples[a].IDs) - len(samples[b].IDs) })
	var sum float64
	n := 0
	for start := 0; start < len(order); start += t.o.BatchSize {
		var p batchPlan
		for _, i := range order[start:min(start+t.o.BatchSize, len(order))] {
			p = append(p, []int{i})
		}
		b := buildBatch(samples, p, t.o.MaxSeqLen, t.o.BatchSize)
		losses, _, err := t.st.run(ctx, b, false, 0)
		if err != nil {
			return 0, err
		}
		for _, l := range losses {
			sum += float64(l)
		}
		n += b.TargetTokens
		for _, s := range b.Segments {
			if s != 0 {
				t.state.EvalTokens++
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("validation: expected target tokens, found none: %w", ErrNoTargets)
	}
	return sum / float64(n), nil
}

// loop trains until TotalSteps, checkpointing and evaluating as configured. On cancellation it
// checkpoints the last completed step (exactly as an uninterrupted run would have it, so a
// resumption loses no work and stays bit-identical) and returns ctx's error; on any other error
// it leaves the last good checkpoint in place.
func (t *trainer) loop(ctx context.Context) (lastCheckpoint string, evalLoss float64, err error) {
	start := time.Now()
	startStep := t.state.Step
	checkpointed := t.state.Step
	tokens := 0
	evalLoss = math.NaN()
	cancelled := func(cause error) (string, float64, error) {
		if t.state.Step > checkpointed {
			dir, err := t.checkpoint()
			if err != nil {
				return lastCheckpoint, evalLoss, errors.Join(cause, err)
			}
			lastCheckpoint = dir
			t.emit(Event{Kind: EventCheckpoint, Step: t.state.Step, TotalSteps: t.state.TotalSteps, Epoch: t.state.Epoch, Checkpoint: dir, Elapsed: time.Since(start)})
		}
		return lastCheckpoint, evalLoss, cause
	}
	for t.state.Step < t.state.TotalSteps {
		if err := ctx.Err(); err != nil {
			return cancelled(err)
		}
		// A step cancelled half-way has consumed micro-batches and dropout seeds but not touched
		// the adapter or the optimizer: rewinding the data position and RNG restores the state of
		// the last completed step.
		before := t.state
		rngState, err := t.rng.MarshalBinary()
		if err != nil {
			return lastCheckpoint, evalLoss, err
		}
		r, err := t.step(ctx)
		if err != nil {
			if ctx.Err() != nil && t.state.Step == before.Step {
				t.state = before
				if uerr := t.rng.UnmarshalBinary(rngState); uerr != nil {
					return lastCheckpoint, evalLoss, errors.Join(err, uerr)
				}
				return cancelled(err)
			}
			return lastCheckpoint, evalLoss, err
		}
		tokens += r.tokens
		el := time.Since(start)
		done := t.state.Step - startStep
		ev := Event{Kind: EventStep, Step: t.state.Step, TotalSteps: t.state.TotalSteps, Epoch: t.state.Epoch,
			Loss: r.loss, LearningRate: r.lr, GradNorm: r.gradNorm, Elapsed: el, Tokens: tokens, TrainedTokens: t.state.TrainedTokens,
			TokensPerSecond: float64(tokens) / math.Max(el.Seconds(), 1e-9)}
		if done > 0 {
			ev.ETA = time.Duration(float64(el) / float64(done) * float64(t.state.TotalSteps-t.state.Step))
		}
		t.emit(ev)
		last := t.state.Step == t.state.TotalSteps
		if len(t.val) > 0 && t.o.EvalEvery > 0 && t.state.Step%t.o.EvalEvery == 0 && !last {
			if evalLoss, err = t.evalLoss(ctx, t.val); err != nil {
				if ctx.Err() != nil {
					return cancelled(err)
				}
				return lastCheckpoint, evalLoss, err
			}
			t.emit(Event{Kind: EventEval, Step: t.state.Step, TotalSteps: t.state.TotalSteps, Epoch: t.state.Epoch, EvalLoss: evalLoss, Elapsed: time.Since(start)})
		}
		if (t.o.CheckpointEvery > 0 && t.state.Step%t.o.CheckpointEvery == 0) || last {
			dir, err := t.checkpoint()
			if err != nil {
				return lastCheckpoint, evalLoss, err
			}
			lastCheckpoint, checkpointed = dir, t.state.Step
			t.emit(Event{Kind: EventCheckpoint, Step: t.state.Step, TotalSteps: t.state.TotalSteps, Epoch: t.state.Epoch, Checkpoint: dir, Elapsed: time.Since(start)})
		}
	}
	if len(t.val) > 0 {
		if evalLoss, err = t.evalLoss(ctx, t.val); err != nil {
			return lastCheckpoint, evalLoss, err
		}
		t.emit(Event{Kind: EventEval, Step: t.state.Step, TotalSteps: t.state.TotalSteps, Epoch: t.state.Epoch, EvalLoss: evalLoss, Elapsed: time.Since(start)})
	}
	return lastCheckpoint, evalLoss, nil
}
