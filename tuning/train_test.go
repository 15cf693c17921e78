package tuning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/model"
)

// testCodec tokenizes one rune per token with the llama fixture's BOS (504) and <|eot_id|> (508),
// so tests do not depend on the BPE tokenizer.
func testCodec() *codec {
	return &codec{tok: runeTokenizer{bos: 504, eot: 508}, chat: tinyTemplate{}, eos: []int{508}}
}

func writeJSONL(t *testing.T, lines ...any) string {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		data, err := json.Marshal(l)
		require.NoError(t, err)
		b.Write(data)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "data.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

func defaults(t *testing.T, o Options) Options {
	t.Helper()
	r, err := o.withDefaults()
	require.NoError(t, err)
	return r
}

func sumLoss(l []float32) float64 {
	var s float64
	for _, x := range l {
		s += float64(x)
	}
	return s
}

// TestPackingIsolation: a packed row gives every sample exactly the loss (and the gradient) it has
// when it runs alone.
func TestPackingIsolation(t *testing.T) {
	m := loadFixture(t, "qwen2")
	set := fixtureAdapter(t, m, "qwen2")
	st, err := newStepper(m, set, 0)
	require.NoError(t, err)
	c := testCodec()
	var samples []Sample
	for _, text := range []string{"the cat sat", "on a mat, quietly", "x"} {
		ids, _ := c.tok.EncodeWithOffsets(text, true)
		s := Sample{IDs: toInt32(ids), Targets: make([]bool, len(ids))}
		for i := 1; i < len(ids); i++ {
			s.Targets[i] = true
		}
		samples = append(samples, s)
	}
	ctx := context.Background()
	packed := buildBatch(samples, batchPlan{{0, 1, 2}}, 64, 0)
	pl, pg, err := st.run(ctx, packed, true, 0)
	require.NoError(t, err)
	var aloneGrads [][]float32
	for i := range samples {
		alone := buildBatch(samples, batchPlan{{i}}, 64, 0)
		al, ag, err := st.run(ctx, alone, true, 0)
		require.NoError(t, err)
		var segLoss float64
		for p, seg := range packed.Segments {
			if int(seg) == i+1 {
				segLoss += float64(pl[p])
			}
		}
		require.InDelta(t, sumLoss(al), segLoss, 1e-4, "sample %d", i)
		if aloneGrads == nil {
			aloneGrads = ag
		} else {
			for k := range ag {
				for j := range ag[k] {
					aloneGrads[k][j] += ag[k][j]
				}
			}
		}
	}
	for k := range pg {
		require.Less(t, relErr(pg[k], aloneGrads[k]), 1e-4, "tensor %d", k)
	}
	// Padding rows change nothing either.
	padded := buildBatch(samples, batchPlan{{0, 1, 2}}, 64, 3)
	ppl, ppg, err := st.run(ctx, padded, true, 0)
	require.NoError(t, err)
	require.InDelta(t, sumLoss(pl), sumLoss(ppl), 1e-4)
	for k := range pg {
		require.Less(t, relErr(ppg[k], pg[k]), 1e-5, "tensor %d", k)
	}
}

// TestGradAccumNormalisation: 4 micro-batches of uneven length accumulate to exactly the gradient
// and loss of one batch holding all 4 (mean over all target tokens, not a mean of means).
func TestGradAccumNormalisation(t *testing.T) {
	m := loadFixture(t, "llama")
	c := testCodec()
	var exs []Example
	for _, p := range [][2]string{{"a", "b"}, {"hello there", "general kenobi, long answer"}, {"q", "r s"}, {"mid size", "reply!"}} {
		exs = append(exs, Example{Line: len(exs) + 1, Shape: ShapePromptCompletion, Prompt: p[0], Completion: p[1]})
	}
	samples, _, err := Prepare(exs, c.tok, nil, "mem", &PrepareOptions{EOSIDs: c.eos})
	require.NoError(t, err)
	base := Options{Rank: 4, Targets: []string{"all-linear"}, Seed: 3, MaxSteps: 1}

	o1 := base
	o1.BatchSize, o1.GradAccum = 1, 4
	accum, err := newTrainer(m, samples, nil, t.TempDir(), defaults(t, o1))
	require.NoError(t, err)
	// B must be non-zero for the gradient of A to be, so start both from the fixture adapter.
	fixture := fixtureAdapter(t, m, "llama")
	for i := range accum.set.Modules {
		copy(accum.set.Modules[i].A, fixture.Modules[i].A)
		copy(accum.set.Modules[i].B, fixture.Modules[i].B)
	}
	a1, err := accum.accumulate(context.Background())
	require.NoError(t, err)

	o2 := base
	o2.BatchSize, o2.GradAccum = 4, 1
	one, err := newTrainer(m, samples, nil, t.TempDir(), defaults(t, o2))
	require.NoError(t, err)
	one.set = fixture
	one.st.set = fixture
	a2, err := one.accumulate(context.Background())
	require.NoError(t, err)

	require.Equal(t, a2.targets, a1.targets)
	require.InDelta(t, a2.lossSum/float64(a2.targets), a1.lossSum/float64(a1.targets), 1e-5)
	for k := range a1.grads {
		require.Less(t, relErr(a1.grads[k], a2.grads[k]), 1e-4, "tensor %d", k)
	}

	// The naive normalisation (mean of the 4 micro-batch means) differs here, so the test can fail.
	var meanOfMeans float64
	for _, s := range samples {
		b := buildBatch(samples, batchPlan{{indexOf(samples, s)}}, 2048, 0)
		l, _, err := one.st.run(context.Background(), b, false, 0)
		require.NoError(t, err)
		meanOfMeans += sumLoss(l) / float64(b.TargetTokens) / 4
	}
	require.Greater(t, math.Abs(meanOfMeans-a1.lossSum/float64(a1.targets)), 1e-3)
}

func indexOf(samples []Sample, s Sample) int {
	for i := range samples {
		if &samples[i].IDs[0] == &s.IDs[0] {
			return i
		}
	}
	return -1
}

func qaPairs() []map[string]string {
	words := []string{"red", "blue", "gold", "mint", "pink", "gray", "teal", "plum",
		"sand", "rust", "navy", "lime", "jade", "ruby", "onyx", "opal"}
	var out []map[string]string
	for i, w := range words {
		out = append(out, map[string]string{"prompt": fmt.Sprintf("Q%02d?", i), "completion": w})
	}
	return out
}

// TestResumeEquivalence: a run interrupted after a checkpoint and resumed writes the same adapter,
// to the bit, as a run that was never interrupted (with dropout, accumulation and epochs crossing).
func TestResumeEquivalence(t *testing.T) {
	m := loadFixture(t, "llama")
	var lines []any
	for _, p := range qaPairs()[:7] {
		lines = append(lines, p)
	}
	data := writeJSONL(t, lines...)
	o := Options{Rank: 4, Targets: []string{"q_proj", "v_proj", "down_proj"}, Dropout: 0.1, BatchSize: 2, GradAccum: 2,
		MaxSteps: 5, CheckpointEvery: 3, LearningRate: 1e-2, WarmupSteps: 1, Schedule: ScheduleCosine, Seed: 11}

	straight := t.TempDir()
	full, err := train(context.Background(), m, testCodec(), data, straight, defaults(t, o))
	require.NoError(t, err)

	interrupted := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	oi := o
	oi.OnEvent = func(e Event) {
		if e.Kind == EventCheckpoint && e.Step == 3 { // mid-epoch: 2 steps per epoch
			cancel()
		}
	}
	part, err := train(ctx, m, testCodec(), data, interrupted, defaults(t, oi))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, part.Steps)
	require.Greater(t, part.TrainedTokens, int64(0))
	require.Less(t, part.TrainedTokens, full.TrainedTokens)
	_, err = os.Stat(filepath.Join(interrupted, checkpointsDir, checkpointName(3), AdapterWeightsFile))
	require.NoError(t, err, "the cancelled run keeps its last checkpoint")

	or := o
	or.Resume = interrupted
	res, err := train(context.Background(), m, testCodec(), data, interrupted, defaults(t, or))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(interrupted, checkpointsDir, checkpointName(3)), res.ResumedFrom)
	require.Equal(t, 5, res.Steps)
	require.Equal(t, full.TrainedTokens, res.TrainedTokens, "tokens are counted once across the resumption")

	want, err := os.ReadFile(filepath.Join(straight, AdapterWeightsFile))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(interrupted, AdapterWeightsFile))
	require.NoError(t, err)
	require.Equal(t, want, got, "resumed adapter differs from the uninterrupted one")

	// Resuming with other options is refused rather than silently diverging.
	bad := o
	bad.Resume, bad.LearningRate = interrupted, 5e-3
	_, err = train(context.Background(), m, testCodec(), data, t.TempDir(), defaults(t, bad))
	require.ErrorIs(t, err, ErrBadOption)
	require.ErrorContains(t, err, "other options or data")
}

// greedy decodes up to n tokens with the adapter and stops after eos.
func greedy(t *testing.T, m *model.Model, a *model.Adapter, ids []int32, eos int32, n int) []int32 {
	t.Helper()
	var out []int32
	for range n {
		logits, err := m.Logits(context.Background(), ids, a)
		require.NoError(t, err)
		last := logits[len(logits)-1]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		out = append(out, int32(best))
		ids = append(ids, int32(best))
		if int32(best) == eos {
			break
		}
	}
	return out
}

func TestTrainBadInputs(t *testing.T) {
	m := loadFixture(t, "llama")
	good := writeJSONL(t, map[string]string{"prompt": "a", "completion": "b"})
	tests := []struct {
		name   string
		data   string
		opts   Options
		target error
		msg    string
	}{
		{"dataset errors", writeJSONL(t, map[string]any{"messages": []any{}}, map[string]string{"prompt": "x", "completion": "y"}),
			Options{}, ErrInvalidDataset, "line 1: empty conversation"},
		{"unknown target", good, Options{Targets: []string{"qkv_proj"}}, ErrBadOption, `target module "qkv_proj"`},
		{"unknown precision", good, Options{Precision: "float16"}, ErrBadOption, `precision "float16": want float32 or bfloat16`},
		{"negative rank", good, Options{Rank: -1}, ErrBadOption, "rank: expected a positive integer, found -1"},
		{"no target tokens", good, Options{MaxSeqLen: 2, Truncate: true}, ErrNoTargets, "found none"},
		{"bad schedule", good, Options{Schedule: "step"}, ErrBadOption, `found "step"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.opts.withDefaults()
			if err == nil {
				_, err = train(context.Background(), m, testCodec(), tc.data, t.TempDir(), o)
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.target), "got %v", err)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// TestDropout: dropout changes the gradient, deterministically per seed, and never the eval loss.
func TestDropout(t *testing.T) {
	m := loadFixture(t, "llama")
	set := fixtureAdapter(t, m, "llama")
	ids := promptIDs(t, "llama")
	s := Sample{IDs: ids, Targets: make([]bool, len(ids))}
	for i := 1; i < len(ids); i++ {
		s.Targets[i] = true
	}
	b := buildBatch([]Sample{s}, batchPlan{{0}}, 64, 0)
	ctx := context.Background()
	plain, err := newStepper(m, set, 0)
	require.NoError(t, err)
	drop, err := newStepper(m, set, 0.5)
	require.NoError(t, err)
	_, g0, err := plain.run(ctx, b, true, 1)
	require.NoError(t, err)
	_, g1, err := drop.run(ctx, b, true, 1)
	require.NoError(t, err)
	_, g1again, err := drop.run(ctx, b, true, 1)
	require.NoError(t, err)
	_, g2, err := drop.run(ctx, b, true, 2)
	require.NoError(t, err)
	require.Equal(t, g1, g1again)
	require.NotEqual(t, g0[0], g1[0])
	require.NotEqual(t, g1[0], g2[0])
	l0, _, err := plain.run(ctx, b, false, 1)
	require.NoError(t, err)
	l1, _, err := drop.run(ctx, b, false, 7)
	require.NoError(t, err)
	require.Equal(t, l0, l1)
}

// cancelAfter is a context whose Err reports cancellation from its n-th call on: the trainer asks
// once before each step and once before each micro-batch, so n picks the exact point.
type cancelAfter struct {
	context.Context
	n, calls int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestCancelCheckpointsLastStep: a run cancelled between steps, or half-way through a step's
// micro-batches, checkpoints its last completed step, and resuming from it reproduces the
// uninterrupted run to the bit.
func TestCancelCheckpointsLastStep(t *testing.T) {
	m := loadFixture(t, "llama")
	var lines []any
	for _, p := range qaPairs()[:6] {
		lines = append(lines, p)
	}
	data := writeJSONL(t, lines...)
	o := Options{Rank: 4, Targets: []string{"q_proj", "v_proj"}, Dropout: 0.1, BatchSize: 1, GradAccum: 2,
		MaxSteps: 4, LearningRate: 1e-2, Seed: 5}
	straight := t.TempDir()
	_, err := train(context.Background(), m, testCodec(), data, straight, defaults(t, o))
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(straight, AdapterWeightsFile))
	require.NoError(t, err)

	// Err is called 3 times per step (before it, before each of its 2 micro-batches).
	for name, n := range map[string]int{"between steps": 7, "half-way through step 3": 9} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			part, err := train(&cancelAfter{Context: context.Background(), n: n}, m, testCodec(), data, out, defaults(t, o))
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, 2, part.Steps)
			_, err = os.Stat(filepath.Join(out, checkpointsDir, checkpointName(2), trainerStateFile))
			require.NoError(t, err)
			or := o
			or.Resume = out
			res, err := train(context.Background(), m, testCodec(), data, out, defaults(t, or))
			require.NoError(t, err)
			require.Equal(t, 4, res.Steps)
			got, err := os.ReadFile(filepath.Join(out, AdapterWeightsFile))
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}
