package sectorflow

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func tuneData(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "train.jsonl")
	data := `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
{"prompt": "2+2=", "completion": "4"}
{"text": "plain text"}
`
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return path
}

func TestTunerJob(t *testing.T) {
	tu, err := NewTuner("../testdata/models/llama", nil)
	require.NoError(t, err)
	out := t.TempDir()
	job, err := tu.Tune(context.Background(), tuneData(t), out, &TuneOptions{Rank: 2, MaxSteps: 3, BatchSize: 1})
	require.NoError(t, err)
	var kinds []string
	steps := 0
	for e, err := range job.Events() {
		require.NoError(t, err)
		kinds = append(kinds, string(e.Kind))
		if e.Kind == "step" {
			steps++
			require.Equal(t, steps, e.Step)
			require.Equal(t, 3, e.TotalSteps)
			require.Greater(t, e.Loss, 0.0)
		}
	}
	require.Equal(t, []string{"step", "step", "step", "checkpoint", "done"}, kinds)
	res, err := job.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, 3, res.Steps)
	_, err = os.Stat(filepath.Join(out, "adapter_model.safetensors"))
	require.NoError(t, err)
}

func TestTunerCancel(t *testing.T) {
	tu, err := NewTuner("../testdata/models/llama", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := &TuneOptions{Rank: 2, MaxSteps: 50, BatchSize: 1, CheckpointEvery: 1,
		OnEvent: func(e TuneEvent) {
			if e.Kind == "checkpoint" && e.Step == 2 {
				cancel()
			}
		}}
	out := t.TempDir()
	job, err := tu.Tune(ctx, tuneData(t), out, opts)
	require.NoError(t, err)
	var last error
	for _, err := range job.Events() {
		last = err
	}
	require.ErrorIs(t, last, context.Canceled)
	_, err = job.Wait(context.Background())
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(filepath.Join(out, "checkpoints", "step-000002", "adapter_model.safetensors"))
	require.NoError(t, err, "the last good checkpoint stays")
}

func TestNewTunerErrors(t *testing.T) {
	_, err := NewTuner(t.TempDir(), nil)
	require.ErrorContains(t, err, "expected a Hugging Face model directory with config.json")
	tu, err := NewTuner("../testdata/models/llama", nil)
	require.NoError(t, err)
	_, err = tu.Tune(context.Background(), "", t.TempDir(), nil)
	require.ErrorContains(t, err, "expected a dataset path")
	job, err := tu.Tune(context.Background(), tuneData(t), t.TempDir(), &TuneOptions{Targets: []string{"c_attn"}})
	require.NoError(t, err)
	_, err = job.Wait(context.Background())
	require.ErrorContains(t, err, `target module "c_attn"`)
}
