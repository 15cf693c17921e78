package tuning

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/peft"
	"github.com/sectorflow/sdk/internal/safetensors"
	"github.com/sectorflow/sdk/tokenize"
)

// TestAssistantOnlyMasksRealTemplates: with the fixtures' real tokenizers and chat templates,
// the targets are exactly the trained assistant turns' content and end-of-turn marker.
func TestAssistantOnlyMasksRealTemplates(t *testing.T) {
	tests := []struct {
		model, want string
	}{
		{"llama", "Paris<|eot_id|>Lyon<|eot_id|>"},
		{"qwen2", "Paris<|im_end|>Lyon<|im_end|>"},
	}
	ex := Example{Line: 1, Shape: ShapeChat, Messages: []Message{
		{Role: "system", Content: "Answer briefly."},
		{Role: "user", Content: "Capital of France?"},
		{Role: "assistant", Content: "Paris", Weight: 1},
		{Role: "user", Content: "And wrong answers?"},
		{Role: "assistant", Content: "Berlin", Weight: 0},
		{Role: "user", Content: "Third city?"},
		{Role: "assistant", Content: "Lyon", Weight: 1},
	}}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			c, err := loadCodec(filepath.Join(fixtureDir, tc.model))
			require.NoError(t, err)
			samples, stats, err := Prepare([]Example{ex}, c.tok, c.chat, "mem", &PrepareOptions{EOSIDs: c.eos})
			require.NoError(t, err)
			var targets []int
			for i, id := range samples[0].IDs {
				if samples[0].Targets[i] {
					targets = append(targets, int(id))
				}
			}
			require.Equal(t, stats.TargetTokens, len(targets))
			require.Equal(t, tc.want, c.tok.(*tokenize.Tokenizer).Decode(targets, false))
		})
	}
}

// TestTrainWritesPEFTAdapter trains two steps from a model directory and checks the output is a
// PEFT adapter (keys, shapes, config) that validates against the model, with the serving files.
func TestTrainWritesPEFTAdapter(t *testing.T) {
	data := writeJSONL(t,
		map[string]any{"messages": []map[string]any{{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}}},
		map[string]any{"prompt": "2+2=", "completion": "4"},
		map[string]any{"text": "just text"},
	)
	out := t.TempDir()
	dir := filepath.Join(fixtureDir, "qwen3")
	res, err := Train(context.Background(), dir, data, out, &Options{Rank: 2, Alpha: 4, Targets: []string{"q_proj", "down_proj"}, MaxSteps: 2, BatchSize: 2})
	require.NoError(t, err)
	require.Equal(t, 2, res.Steps)
	require.Equal(t, Stats{Examples: 3, Tokens: res.Train.Tokens, TargetTokens: res.Train.TargetTokens}, res.Train)

	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(out, AdapterConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	require.Equal(t, "LORA", cfg["peft_type"])
	require.Equal(t, "CAUSAL_LM", cfg["task_type"])
	require.Equal(t, 2.0, cfg["r"])
	require.Equal(t, 4.0, cfg["lora_alpha"])
	require.Equal(t, []any{"q_proj", "down_proj"}, cfg["target_modules"])
	require.Equal(t, "none", cfg["bias"])
	require.Equal(t, false, cfg["use_rslora"])
	require.Equal(t, dir, cfg["base_model_name_or_path"])

	a, err := peft.Load(out)
	require.NoError(t, err)
	hc, err := hfconfig.Load(dir)
	require.NoError(t, err)
	require.NoError(t, a.Validate(hc))
	require.Len(t, a.Modules, 2*hc.NumHiddenLayers)
	q, ok := a.Module("model.layers.1.self_attn.q_proj")
	require.True(t, ok)
	require.Equal(t, [3]int{2, hc.HiddenSize, hc.NumAttentionHeads * hc.HeadDim}, [3]int{q.Rank, q.In, q.Out})

	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", TrainingInfoFile} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	var info map[string]any
	raw, err = os.ReadFile(filepath.Join(out, TrainingInfoFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &info))
	require.Equal(t, []any{507.0}, info["eos_token_ids"])
}

// TestLearnsChatQA is the end-to-end check: from a chat JSONL file, with the fixture's real
// tokenizer and chat template, the tiny llama learns 16 question/answer pairs on the pure-Go
// backend and, under greedy decoding of the rendered prompt, answers each exactly and then emits
// the end-of-turn token.
func TestLearnsChatQA(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for tens of seconds")
	}
	dir := filepath.Join(fixtureDir, "llama")
	out := t.TempDir()
	_, err := Train(context.Background(), dir, filepath.Join("testdata", "colors.jsonl"), out, &Options{
		Rank: 16, Alpha: 32, Targets: []string{"all-linear"}, BatchSize: 16, MaxSteps: 120,
		LearningRate: 1e-2, Schedule: ScheduleConstant, Seed: 1})
	require.NoError(t, err)

	m := loadFixture(t, "llama")
	a, err := m.LoadAdapter(out)
	require.NoError(t, err)
	c, err := loadCodec(dir)
	require.NoError(t, err)
	tok := c.tok.(*tokenize.Tokenizer)
	ct := c.chat.(templateRenderer).t
	exs, err := ParseFile(filepath.Join("testdata", "colors.jsonl"), nil)
	require.NoError(t, err)
	for _, ex := range exs {
		prompt, err := ct.Render([]tokenize.Message{{Role: "user", Content: ex.Messages[0].Content}}, &tokenize.ChatOptions{AddGenerationPrompt: true})
		require.NoError(t, err)
		ids := toInt32(tok.Encode(prompt, false))
		got := greedy(t, m, a, ids, 508, 8)
		require.Equal(t, ex.Messages[1].Content+"<|eot_id|>", tok.Decode(toInts(got), false), "answer to %q", ex.Messages[0].Content)
	}
}

func toInts(ids []int32) []int {
	out := make([]int, len(ids))
	for i, v := range ids {
		out[i] = int(v)
	}
	return out
}

func TestValidateDataset(t *testing.T) {
	dir := filepath.Join(fixtureDir, "llama")
	stats, err := ValidateDataset(context.Background(), dir, filepath.Join("testdata", "colors.jsonl"), nil)
	require.NoError(t, err)
	require.Equal(t, 16, stats.Examples)
	require.Equal(t, 0, stats.Truncated)
	// The targets are each answer's tokens plus <|eot_id|> (the template starts the answer after
	// "\n\n", where the pre-tokenizer splits, so the answer tokenizes as it does alone).
	c, err := loadCodec(dir)
	require.NoError(t, err)
	exs, err := ParseFile(filepath.Join("testdata", "colors.jsonl"), nil)
	require.NoError(t, err)
	want := 0
	for _, ex := range exs {
		want += len(c.tok.(*tokenize.Tokenizer).Encode(ex.Messages[1].Content, false)) + 1
	}
	require.Equal(t, want, stats.TargetTokens)

	bad := writeJSONL(t, map[string]any{"messages": []map[string]any{{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a long answer here"}}})
	_, err = ValidateDataset(context.Background(), dir, bad, &Options{MaxSeqLen: 8})
	require.ErrorIs(t, err, ErrInvalidDataset)
	require.ErrorContains(t, err, "line 1: ")
	require.ErrorContains(t, err, "over the limit of 8")
	stats, err = ValidateDataset(context.Background(), dir, bad, &Options{MaxSeqLen: 8, Truncate: true})
	require.ErrorIs(t, err, ErrNoTargets, "truncation cut the only answer off")
	require.Equal(t, 1, stats.Truncated)
}

// TestEvalAndCheckpointEvents: evaluation every N steps and at the end, checkpoints every N steps
// with only the newest kept.
func TestEvalAndCheckpointEvents(t *testing.T) {
	data := writeJSONL(t, map[string]string{"prompt": "a", "completion": "b"}, map[string]string{"prompt": "c", "completion": "d"})
	out := t.TempDir()
	var got []string
	res, err := Train(context.Background(), filepath.Join(fixtureDir, "llama"), data, out, &Options{
		Rank: 2, MaxSteps: 4, BatchSize: 1, ValidationPath: data, EvalEvery: 2, CheckpointEvery: 1, KeepCheckpoints: 2,
		OnEvent: func(e Event) {
			if e.Kind != EventStep {
				got = append(got, fmt.Sprintf("%s@%d", e.Kind, e.Step))
			}
		}})
	require.NoError(t, err)
	require.Equal(t, []string{"checkpoint@1", "eval@2", "checkpoint@2", "checkpoint@3", "checkpoint@4", "eval@4", "done@4"}, got)
	require.False(t, math.IsNaN(res.EvalLoss))
	entries, err := os.ReadDir(filepath.Join(out, checkpointsDir))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{checkpointName(3), checkpointName(4)}, names)
}

// TestScheduleInEvents: the learning rate each step used follows transformers' linear schedule
// with warmup (the first warmup step runs at 0).
func TestScheduleInEvents(t *testing.T) {
	data := writeJSONL(t, map[string]string{"prompt": "a", "completion": "b"})
	var lrs []float64
	_, err := Train(context.Background(), filepath.Join(fixtureDir, "llama"), data, t.TempDir(), &Options{
		Rank: 2, MaxSteps: 4, WarmupSteps: 2, LearningRate: 1e-3, Schedule: ScheduleLinear,
		OnEvent: func(e Event) {
			if e.Kind == EventStep {
				lrs = append(lrs, e.LearningRate)
			}
		}})
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{0, 0.5e-3, 1e-3, 0.5e-3}, lrs, 1e-12)
}

// TestTrainBF16Learns trains in Precision "bfloat16" (bf16 base weights and products, float32
// LoRA, optimizer and loss): the loss must fall as in float32, and the adapter written must be
// float32, as PEFT keeps LoRA weights when it trains a bf16 model.
func TestTrainBF16Learns(t *testing.T) {
	var losses []float64
	out := t.TempDir()
	_, err := Train(context.Background(), filepath.Join(fixtureDir, "llama"), filepath.Join("testdata", "colors.jsonl"), out, &Options{
		Rank: 16, Alpha: 32, Targets: []string{"all-linear"}, BatchSize: 16, MaxSteps: 30,
		LearningRate: 1e-2, Schedule: ScheduleConstant, Seed: 1, Precision: "bfloat16",
		OnEvent: func(ev Event) {
			if ev.Kind == EventStep {
				losses = append(losses, ev.Loss)
			}
		}})
	require.NoError(t, err)
	require.Len(t, losses, 30)
	t.Logf("loss %.3f -> %.3f", losses[0], losses[len(losses)-1])
	require.Less(t, losses[len(losses)-1], losses[0]/2)
	f, err := safetensors.Open(filepath.Join(out, AdapterWeightsFile))
	require.NoError(t, err)
	defer f.Close()
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		require.Equal(t, safetensors.F32, info.DType, name)
	}
}
