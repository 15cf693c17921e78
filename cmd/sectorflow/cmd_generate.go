package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/sectorflow/sdk/sectorflow"
)

func init() {
	register(command{
		name:    "generate",
		summary: "generate text from a model (optionally with a LoRA adapter), streamed or as JSON",
		run:     runGenerate,
	})
}

// genFlags are the flags generate and chat share: the model, the adapter and the sampling.
type genFlags struct {
	fs                              *flag.FlagSet
	model, adapter                  string
	maxTokens, minTokens, topK      int
	temperature, topP, minP         float64
	repetition, presence, frequency float64
	seed                            int64
	stop                            stringList
	ignoreEOS                       bool
	maxContext, maxBatch            int
	backend, precision              string
}

func newGenFlags(name string, stderr io.Writer) *genFlags {
	g := &genFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := g.fs
	fs.SetOutput(stderr)
	fs.StringVar(&g.model, "model", "", "model directory (Hugging Face layout)")
	fs.StringVar(&g.adapter, "adapter", "", "optional PEFT LoRA adapter directory")
	fs.IntVar(&g.maxTokens, "max-tokens", 256, "maximum number of generated tokens (0: until the context is full)")
	fs.IntVar(&g.minTokens, "min-tokens", 0, "generate at least this many tokens before EOS or a stop token")
	fs.Float64Var(&g.temperature, "temperature", 0, "sampling temperature (0: greedy)")
	fs.Float64Var(&g.topP, "top-p", 1, "nucleus sampling: keep the most likely tokens up to this probability mass, in (0, 1]")
	fs.IntVar(&g.topK, "top-k", 0, "keep only the K most likely tokens (0: off)")
	fs.Float64Var(&g.minP, "min-p", 0, "drop tokens less likely than this fraction of the most likely one (0: off)")
	fs.Float64Var(&g.repetition, "repetition-penalty", 1, "penalise tokens already in the prompt or output (1: off)")
	fs.Float64Var(&g.presence, "presence-penalty", 0, "subtract from the logit of tokens already generated, in [-2, 2]")
	fs.Float64Var(&g.frequency, "frequency-penalty", 0, "subtract per occurrence in the output, in [-2, 2]")
	fs.Int64Var(&g.seed, "seed", 0, "random seed for reproducible sampling (unset: random)")
	fs.Var(&g.stop, "stop", "a string that ends generation (repeatable); it is not printed")
	fs.BoolVar(&g.ignoreEOS, "ignore-eos", false, "keep generating past the model's end-of-sequence tokens")
	fs.IntVar(&g.maxContext, "max-context", 0, "KV cache length per request (0: the model's, at most 2048)")
	fs.IntVar(&g.maxBatch, "max-batch", 1, "batch slots of the engine")
	fs.StringVar(&g.backend, "backend", "", `compute backend, e.g. "go:ops_sequential" or "xla:cuda" (default: GOMLX_BACKEND or automatic)`)
	fs.StringVar(&g.precision, "precision", "float32", "float32, or bfloat16 (bf16 weights and matrix products: use it on GPUs)")
	return g
}

// request builds the generation settings from the flags.
func (g *genFlags) request() (*sectorflow.GenerateRequest, error) {
	set := map[string]bool{}
	g.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["top-p"] && (g.topP <= 0 || g.topP > 1) {
		return nil, fmt.Errorf("--top-p is %g, want a value in (0, 1]", g.topP)
	}
	if g.maxTokens < 0 {
		return nil, fmt.Errorf("--max-tokens is %d, want >= 0", g.maxTokens)
	}
	r := &sectorflow.GenerateRequest{
		MaxTokens: g.maxTokens,
		MinTokens: g.minTokens,
		Stop:      g.stop,
		IgnoreEOS: g.ignoreEOS,
		Sampling: sectorflow.Sampling{
			Temperature:       float32(g.temperature),
			TopK:              g.topK,
			TopP:              float32(g.topP),
			MinP:              float32(g.minP),
			RepetitionPenalty: float32(g.repetition),
			PresencePenalty:   float32(g.presence),
			FrequencyPenalty:  float32(g.frequency),
		},
	}
	if set["seed"] {
		seed := g.seed
		r.Sampling.Seed = &seed
	}
	if g.adapter != "" {
		r.Adapter = "adapter"
	}
	return r, nil
}

// load opens the model and the adapter named by the flags.
func (g *genFlags) load(ctx context.Context) (*sectorflow.Model, error) {
	m, err := sectorflow.LoadModel(ctx, g.model, &sectorflow.ModelOptions{
		MaxContext: g.maxContext, MaxBatch: g.maxBatch, Backend: g.backend, Precision: g.precision,
	})
	if err != nil {
		return nil, err
	}
	if g.adapter != "" {
		if err := m.LoadAdapter(ctx, "adapter", g.adapter); err != nil {
			_ = m.Close()
			return nil, err
		}
	}
	return m, nil
}

func runGenerate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	g := newGenFlags("generate", stderr)
	prompt := g.fs.String("prompt", "", "the text to continue (encoded with the tokenizer's special tokens)")
	idsFlag := g.fs.String("ids", "", "the prompt as comma-separated token ids, e.g. 1,2,3")
	asJSON := g.fs.Bool("json", false, `print one JSON object {"ids", "text", "finish_reason", "usage"} instead of streaming text`)
	logprobs := g.fs.Int("logprobs", -1, `with --json, add "logprobs": each token's log-probability with this many alternatives (0: none)`)
	g.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow generate --model DIR [--adapter DIR] (--prompt TEXT | --ids 1,2,3) [flags]")
		g.fs.PrintDefaults()
	}
	if err := g.fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if g.model == "" || (*prompt == "") == (*idsFlag == "") || g.fs.NArg() != 0 {
		g.fs.Usage()
		return exitError{code: 2}
	}
	req, err := g.request()
	if err != nil {
		return err
	}
	if *idsFlag != "" {
		ids, err := parseIDs(*idsFlag)
		if err != nil {
			return err
		}
		for _, id := range ids {
			req.PromptIDs = append(req.PromptIDs, int(id))
		}
	} else {
		req.Prompt = *prompt
	}
	if *logprobs >= 0 {
		req.Logprobs, req.TopLogprobs = true, *logprobs
	}
	m, err := g.load(ctx)
	if err != nil {
		return err
	}
	defer m.Close()

	if *asJSON {
		res, err := m.Generate(ctx, req)
		if err != nil {
			return err
		}
		ids := res.TokenIDs
		if ids == nil {
			ids = []int{}
		}
		return json.NewEncoder(stdout).Encode(struct {
			IDs          []int  `json:"ids"`
			Text         string `json:"text"`
			FinishReason string `json:"finish_reason"`
			Usage        any    `json:"usage"`
			Logprobs     any    `json:"logprobs,omitempty"`
		}{ids, res.Text, string(res.FinishReason), res.Usage, res.Logprobs})
	}
	for c, err := range m.Stream(ctx, req) {
		if err != nil {
			fmt.Fprintln(stdout)
			return err
		}
		if _, err := io.WriteString(stdout, c.Text); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(stdout)
	return err
}
