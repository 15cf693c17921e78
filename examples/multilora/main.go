// Command multilora serves two LoRA adapters on one base model in the same batches: it
// fine-tunes two small adapters with sectorflow.Tuner (one learns colours, the other sounds),
// loads both onto one sectorflow.Model, and sends concurrent requests that name different
// adapters, which the engine decodes together without merging any weights.
//
//	go run ./examples/multilora          # from the repository root
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
)

func main() {
	model := flag.String("model", "testdata/models/llama", "base model directory (Hugging Face layout)")
	steps := flag.Int("steps", 100, "training steps per adapter")
	flag.Parse()
	if err := run(context.Background(), *model, *steps, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multilora:", err)
		os.Exit(1)
	}
}

// facts are what each adapter learns: a question template and the answers.
var facts = map[string]struct {
	question string
	answers  map[string]string
}{
	"colours": {"What colour is a %s?", map[string]string{"zorp": "red", "blick": "blue", "fenn": "green", "quill": "gold"}},
	"sounds":  {"What does a %s say?", map[string]string{"zorp": "moo", "blick": "quack", "fenn": "hiss", "quill": "purr"}},
}

// writeDataset writes one adapter's training data as chat JSONL.
func writeDataset(dir, name string) (string, error) {
	var b strings.Builder
	f := facts[name]
	for thing, answer := range f.answers {
		fmt.Fprintf(&b, `{"messages": [{"role": "user", "content": %q}, {"role": "assistant", "content": "%s."}]}`+"\n",
			fmt.Sprintf(f.question, thing), strings.ToUpper(answer[:1])+answer[1:])
	}
	path := filepath.Join(dir, name+".jsonl")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

func run(ctx context.Context, modelDir string, steps int, out io.Writer) error {
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	work, err := os.MkdirTemp("", "multilora-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// 1. Fine-tune one adapter per dataset.
	tuner, err := sectorflow.NewTuner(modelDir, nil)
	if err != nil {
		return err
	}
	names := []string{"colours", "sounds"}
	adapters := map[string]string{}
	for _, name := range names {
		data, err := writeDataset(work, name)
		if err != nil {
			return err
		}
		dir := filepath.Join(work, name)
		job, err := tuner.Tune(ctx, data, dir, &sectorflow.TuneOptions{
			Rank: 16, Targets: []string{"all-linear"}, MaxSteps: steps, BatchSize: 4,
			LearningRate: 1e-2, Schedule: "constant", Seed: 1,
		})
		if err != nil {
			return err
		}
		res, err := job.Wait(ctx)
		if err != nil {
			return fmt.Errorf("tune %s: %w", name, err)
		}
		say("adapter %-8s trained: %d steps, loss %.3f", name, res.Steps, res.Loss)
		adapters[name] = dir
	}

	// 2. One base model, both adapters loaded beside it.
	model, err := sectorflow.LoadModel(ctx, modelDir, &sectorflow.ModelOptions{MaxBatch: 8})
	if err != nil {
		return err
	}
	defer model.Close()
	for _, name := range names {
		if err := model.LoadAdapter(ctx, name, adapters[name]); err != nil {
			return err
		}
	}
	say("loaded adapters %v on one base model", model.Adapters())

	// 3. Concurrent requests for both adapters and the base model share the batches.
	type ask struct{ adapter, question string }
	var asks []ask
	for _, thing := range []string{"zorp", "blick"} {
		for _, name := range names {
			asks = append(asks, ask{name, fmt.Sprintf(facts[name].question, thing)})
		}
		asks = append(asks, ask{"", fmt.Sprintf(facts["colours"].question, thing)})
	}
	answers := make([]string, len(asks))
	errs := make([]error, len(asks))
	var wg sync.WaitGroup
	for i, a := range asks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := model.Chat(ctx, []sectorflow.ChatMessage{{Role: "user", Content: a.question}},
				&sectorflow.GenerateRequest{Adapter: a.adapter, MaxTokens: 8})
			if err != nil {
				errs[i] = err
				return
			}
			answers[i] = res.Text
		}()
	}
	wg.Wait()
	for i, a := range asks {
		if errs[i] != nil {
			return fmt.Errorf("%s: %w", a.adapter, errs[i])
		}
		adapter := a.adapter
		if adapter == "" {
			adapter = "(base)"
		}
		say("%-8s %-26q -> %q", adapter, a.question, answers[i])
	}
	return nil
}
