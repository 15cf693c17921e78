package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/tuning"
)

func init() {
	register(command{
		name:    "tune",
		summary: "fine-tune a LoRA adapter on a JSONL dataset (PEFT format out)",
		run:     runTune,
	})
}

// resumeFlag is --resume (resume from --out) or --resume=DIR (a checkpoint or output directory).
type resumeFlag struct{ value string }

func (r *resumeFlag) String() string   { return r.value }
func (r *resumeFlag) IsBoolFlag() bool { return true }
func (r *resumeFlag) Set(s string) error {
	switch s {
	case "false":
		r.value = ""
	default:
		r.value = s
	}
	return nil
}

func runTune(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelDir := fs.String("model", "", "base model directory (Hugging Face layout)")
	data := fs.String("data", "", "training dataset, JSONL: {\"messages\"}, {\"prompt\",\"completion\"} or {\"text\"} per line")
	validation := fs.String("validation", "", "optional validation dataset (JSONL)")
	out := fs.String("out", "", "output directory: the adapter (PEFT format) and checkpoints/")
	rank := fs.Int("rank", 8, "LoRA rank r")
	alpha := fs.Float64("alpha", 0, "LoRA alpha (default 2*rank)")
	dropout := fs.Float64("dropout", 0, "dropout on the adapter input")
	rslora := fs.Bool("rslora", false, "scale by alpha/sqrt(r) (rsLoRA)")
	targets := fs.String("targets", "q_proj,v_proj", "comma-separated projections (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj) or all-linear")
	epochs := fs.Int("epochs", 1, "epochs over the training data")
	maxSteps := fs.Int("max-steps", 0, "optimizer steps (overrides --epochs when > 0)")
	lr := fs.Float64("lr", 2e-4, "peak learning rate")
	schedule := fs.String("schedule", "linear", "learning-rate schedule: constant, linear or cosine")
	warmup := fs.Int("warmup", 0, "warmup steps")
	weightDecay := fs.Float64("weight-decay", 0, "AdamW decoupled weight decay")
	maxGradNorm := fs.Float64("max-grad-norm", 1, "clip the global gradient norm (negative: off)")
	batch := fs.Int("batch-size", 4, "rows per micro-batch")
	accum := fs.Int("grad-accum", 1, "micro-batches per optimizer step")
	maxSeqLen := fs.Int("max-seq-len", 2048, "longest sample in tokens")
	truncate := fs.Bool("truncate", false, "cut longer samples instead of rejecting them")
	pack := fs.Bool("pack", false, "pack several samples per row (each attends only to itself)")
	seed := fs.Uint64("seed", 0, "random seed (adapter init, data order, dropout)")
	ckptEvery := fs.Int("checkpoint-every", 0, "save a checkpoint every N steps (0: at the end only)")
	evalEvery := fs.Int("eval-every", 0, "validation loss every N steps (0: at the end only)")
	keep := fs.Int("keep-checkpoints", 0, "keep only the newest N checkpoints (0: all)")
	precision := fs.String("precision", "float32", "float32, or bfloat16 (bf16 base weights and products; LoRA, optimizer and loss stay float32: use it on GPUs)")
	validateOnly := fs.Bool("validate", false, "only check the dataset(s) and print their statistics as JSON")
	var resume resumeFlag
	fs.Var(&resume, "resume", "resume from the newest checkpoint under --out, or --resume=DIR")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow tune --model DIR --data train.jsonl --out DIR [flags]")
		fmt.Fprintln(stderr, "       sectorflow tune --model DIR --data train.jsonl --validate")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if *modelDir == "" || *data == "" || (*out == "" && !*validateOnly) || fs.NArg() != 0 {
		fs.Usage()
		return exitError{code: 2}
	}
	if *rank <= 0 {
		return fmt.Errorf("--rank: expected a positive integer, found %d", *rank)
	}
	for name, v := range map[string]int{"--epochs": *epochs, "--batch-size": *batch, "--grad-accum": *accum, "--max-seq-len": *maxSeqLen} {
		if v <= 0 {
			return fmt.Errorf("%s: expected a positive integer, found %d", name, v)
		}
	}
	if *lr <= 0 {
		return fmt.Errorf("--lr: expected a positive number, found %v", *lr)
	}
	if *maxGradNorm == 0 {
		*maxGradNorm = -1
	}
	resumeFrom := resume.value
	if resumeFrom == "true" {
		resumeFrom = *out
	}
	var ts []string
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	if *validateOnly {
		report := map[string]any{}
		for name, path := range map[string]string{"train": *data, "validation": *validation} {
			if path == "" {
				continue
			}
			stats, err := tuning.ValidateDataset(ctx, *modelDir, path, &tuning.Options{MaxSeqLen: *maxSeqLen, Truncate: *truncate})
			if err != nil {
				return err
			}
			report[name] = stats
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	progress := newProgress(stderr)
	opts := &sectorflow.TuneOptions{
		ValidationPath: *validation, Rank: *rank, Alpha: *alpha, Dropout: *dropout, RSLoRA: *rslora,
		Targets: ts, Epochs: *epochs, MaxSteps: *maxSteps, LearningRate: *lr, Schedule: tuning.Schedule(*schedule),
		WarmupSteps: *warmup, WeightDecay: *weightDecay, MaxGradNorm: *maxGradNorm, BatchSize: *batch,
		GradAccum: *accum, MaxSeqLen: *maxSeqLen, Truncate: *truncate, Pack: *pack, Seed: *seed,
		CheckpointEvery: *ckptEvery, EvalEvery: *evalEvery, KeepCheckpoints: *keep, Resume: resumeFrom,
		Precision: *precision, OnEvent: progress.event,
	}
	tuner, err := sectorflow.NewTuner(*modelDir, nil)
	if err != nil {
		return err
	}
	job, err := tuner.Tune(ctx, *data, *out, opts)
	if err != nil {
		return err
	}
	res, err := job.Wait(context.Background())
	progress.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) && res != nil {
			return fmt.Errorf("interrupted after step %d; its checkpoint is under %s, rerun with --resume to continue: %w",
				res.Steps, filepath.Join(*out, "checkpoints"), err)
		}
		return err
	}
	fmt.Fprintf(stdout, "adapter written to %s: %d steps, loss %.4f", res.AdapterDir, res.Steps, res.Loss)
	if !math.IsNaN(res.EvalLoss) {
		fmt.Fprintf(stdout, ", eval loss %.4f", res.EvalLoss)
	}
	fmt.Fprintf(stdout, "; %d examples, %d tokens (%d trained), %d truncated\n",
		res.Train.Examples, res.Train.Tokens, res.Train.TargetTokens, res.Train.Truncated)
	return nil
}

// progress prints training events: a redrawn bar on a terminal, one plain line per event
// otherwise (logs, CI).
type progress struct {
	w        io.Writer
	terminal bool
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) event(e tuning.Event) {
	switch e.Kind {
	case tuning.EventStep:
		line := fmt.Sprintf("step %d/%d epoch %d loss %.4f lr %.3g grad_norm %.3g tok/s %.0f eta %s",
			e.Step, e.TotalSteps, e.Epoch, e.Loss, e.LearningRate, e.GradNorm, e.TokensPerSecond, e.ETA.Round(time.Second))
		if p.terminal {
			const width = 30
			filled := width * e.Step / max(1, e.TotalSteps)
			fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), line)
			p.drawn = true
			return
		}
		fmt.Fprintln(p.w, line)
	case tuning.EventEval:
		p.finish()
		fmt.Fprintf(p.w, "step %d eval_loss %.4f\n", e.Step, e.EvalLoss)
	case tuning.EventCheckpoint:
		p.finish()
		fmt.Fprintf(p.w, "step %d checkpoint %s\n", e.Step, e.Checkpoint)
	}
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
