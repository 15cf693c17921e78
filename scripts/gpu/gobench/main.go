// Command gobench measures the SDK on a checkpoint for the GPU check (scripts/gpu/device.sh):
// decode throughput at several batch sizes through inference.Engine, and LoRA training
// tokens/s through tuning.Train. It uses only the public packages, so it measures what a user
// of the SDK gets. The backend comes from GOMLX_BACKEND (for example xla:cuda).
//
//	gobench decode -model DIR -batches 1,8,32,64 -prompt 128 -gen 128 -out decode.json
//	gobench train  -model DIR -data train.jsonl -rank 16 -seq 1024 -batch 4 -steps 8 -out train.json
//
// Each subcommand prints one JSON object per measurement on stdout and writes them all, as a
// JSON array, to -out.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sectorflow/sdk/inference"
	"github.com/sectorflow/sdk/tuning"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gobench decode|train [flags]")
		os.Exit(2)
	}
	ctx := context.Background()
	// GOBENCH_CPUPROFILE=FILE writes a CPU profile of the whole run (host-side costs).
	if path := os.Getenv("GOBENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gobench: cpu profile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var err error
	switch os.Args[1] {
	case "decode":
		err = runDecode(ctx, os.Args[2:])
	case "train":
		err = runTrain(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q, want decode or train", os.Args[1])
	}
	return err
}

// record is one measurement, printed as a JSON line and collected for -out.
type record map[string]any

type recorder struct {
	out  string
	recs []record
}

func (r *recorder) add(rec record) {
	r.recs = append(r.recs, rec)
	b, _ := json.Marshal(rec)
	fmt.Println(string(b))
	r.flush()
}

// flush rewrites -out after every record, so a run killed by its timeout keeps what it measured.
func (r *recorder) flush() {
	if r.out == "" {
		return
	}
	b, _ := json.MarshalIndent(r.recs, "", " ")
	_ = os.WriteFile(r.out, append(b, '\n'), 0o644)
}

func logger(verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("want positive integers, found %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func runDecode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	model := fs.String("model", "", "model directory")
	batches := fs.String("batches", "1,8,32,64", "batch sizes (concurrent requests)")
	prompt := fs.Int("prompt", 128, "prompt tokens per request (random ids)")
	gen := fs.Int("gen", 128, "generated tokens per request (EOS ignored)")
	reps := fs.Int("reps", 1, "timed repetitions per batch size, after one untimed warm-up")
	idRange := fs.Int("id-range", 500, "prompt ids are drawn from [1, id-range)")
	seed := fs.Uint64("seed", 1, "seed of the prompt ids")
	out := fs.String("out", "", "JSON file for the results")
	verbose := fs.Bool("v", false, "log the engine's diagnostics to stderr")
	precision := fs.String("precision", "float32", "float32 or bfloat16")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" {
		return errors.New("decode: -model is required")
	}
	bs, err := parseInts(*batches)
	if err != nil {
		return fmt.Errorf("decode: -batches: %w", err)
	}
	maxB := 0
	for _, b := range bs {
		maxB = max(maxB, b)
	}
	rec := &recorder{out: *out}
	t0 := time.Now()
	eng, err := inference.Load(ctx, *model, &inference.Options{
		MaxBatch:   maxB,
		MaxContext: *prompt + *gen + 1,
		QueueSize:  4 * maxB,
		Backend:    os.Getenv("GOMLX_BACKEND"),
		Precision:  *precision,
		Logger:     logger(*verbose),
	})
	if err != nil {
		return fmt.Errorf("decode: load %s: %w", *model, err)
	}
	defer eng.Close()
	rec.add(record{"what": "load", "seconds": time.Since(t0).Seconds(), "max_batch": maxB, "max_context": eng.MaxContext(), "precision": *precision})

	rng := rand.New(rand.NewPCG(*seed, 0))
	for _, b := range bs {
		prompts := make([][]int, b)
		for i := range prompts {
			prompts[i] = make([]int, *prompt)
			for j := range prompts[i] {
				prompts[i][j] = 1 + rng.IntN(*idRange-1)
			}
		}
		// The first pass compiles this batch size's programs; it is reported but not counted.
		for rep := 0; rep <= *reps; rep++ {
			before := eng.Stats()
			secs, tokens, err := decodeOnce(ctx, eng, prompts, *gen)
			after := eng.Stats()
			r := record{"what": "decode", "precision": *precision, "batch": b, "prompt": *prompt, "gen": *gen, "warmup": rep == 0,
				"seconds": secs, "generated_tokens": tokens, "programs_compiled": after.Programs - before.Programs,
				"first_run_seconds": (after.FirstRuns - before.FirstRuns).Seconds()}
			if secs > 0 {
				r["tokens_per_second"] = float64(tokens) / secs
			}
			if err != nil {
				r["error"] = err.Error()
				rec.add(r)
				return fmt.Errorf("decode: batch %d: %w", b, err)
			}
			rec.add(r)
		}
	}
	return nil
}

// decodeOnce submits one request per prompt at once and waits for all; it returns the wall
// time and the number of generated tokens.
func decodeOnce(ctx context.Context, eng *inference.Engine, prompts [][]int, gen int) (float64, int, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens int
		first  error
	)
	start := time.Now()
	for _, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := eng.Generate(ctx, &inference.Request{PromptIDs: p, MaxTokens: gen, IgnoreEOS: true})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			tokens += res.Usage.CompletionTokens
		}()
	}
	wg.Wait()
	return time.Since(start).Seconds(), tokens, first
}

func runTrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	model := fs.String("model", "", "model directory")
	data := fs.String("data", "", `training JSONL ({"text": ...} lines, each at least -seq tokens long)`)
	outDir := fs.String("adapter-out", "", "directory for the adapter (default: a temporary directory)")
	rank := fs.Int("rank", 16, "LoRA rank")
	seq := fs.Int("seq", 1024, "sequence length (longer samples are truncated)")
	batch := fs.Int("batch", 4, "rows per step")
	steps := fs.Int("steps", 8, "optimizer steps")
	warm := fs.Int("warmup-steps", 2, "steps left out of the steady-state rate (compilation)")
	out := fs.String("out", "", "JSON file for the results")
	verbose := fs.Bool("v", false, "log the trainer's diagnostics to stderr")
	precision := fs.String("precision", "float32", "float32 or bfloat16 (base weights and products)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *data == "" {
		return errors.New("train: -model and -data are required")
	}
	if *warm >= *steps {
		return fmt.Errorf("train: -warmup-steps %d must be below -steps %d", *warm, *steps)
	}
	dir := *outDir
	if dir == "" {
		d, err := os.MkdirTemp("", "gobench-adapter-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	rec := &recorder{out: *out}
	type mark struct {
		tokens  int
		elapsed time.Duration
	}
	var marks []mark
	start := time.Now()
	opts := &tuning.Options{
		Rank:         *rank,
		Alpha:        float64(2 * *rank),
		Targets:      []string{"all-linear"},
		MaxSteps:     *steps,
		LearningRate: 1e-4,
		Schedule:     tuning.ScheduleConstant,
		BatchSize:    *batch,
		MaxSeqLen:    *seq,
		Truncate:     true,
		Seed:         1,
		Precision:    *precision,
		Logger:       logger(*verbose),
		OnEvent: func(ev tuning.Event) {
			if ev.Kind != tuning.EventStep {
				return
			}
			marks = append(marks, mark{ev.Tokens, ev.Elapsed})
			rec.add(record{"what": "train_step", "step": ev.Step, "loss": ev.Loss, "tokens": ev.Tokens,
				"elapsed_seconds": ev.Elapsed.Seconds(), "since_start_seconds": time.Since(start).Seconds()})
		},
	}
	res, err := tuning.Train(ctx, *model, *data, dir, opts)
	total := time.Since(start).Seconds()
	summary := record{"what": "train", "precision": *precision, "rank": *rank, "seq": *seq, "batch": *batch, "steps_done": len(marks),
		"warmup_steps": *warm, "total_seconds": total, "go_heap_peak_bytes": heapPeak()}
	if len(marks) > *warm {
		a, b := mark{}, marks[len(marks)-1]
		if *warm > 0 {
			a = marks[*warm-1]
		}
		if dt := (b.elapsed - a.elapsed).Seconds(); dt > 0 {
			summary["tokens_per_second"] = float64(b.tokens-a.tokens) / dt
			summary["seconds_per_step"] = dt / float64(len(marks)-*warm)
		}
	}
	if res != nil {
		summary["final_loss"] = res.Loss
	}
	if err != nil {
		summary["error"] = err.Error()
		rec.add(summary)
		return fmt.Errorf("train: %w", err)
	}
	rec.add(summary)
	return nil
}

// heapPeak is the Go heap's high-water mark proxy (bytes obtained from the OS); the GPU memory
// is measured outside the process, by nvidia-smi.
func heapPeak() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys
}
