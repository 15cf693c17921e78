package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/internal/peft"
	"github.com/sectorflow/sdk/internal/safetensors"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "describe a checkpoint: architecture, sizes, dtype, rope, adapter",
		run:     runInspect,
	})
}

// inspectReport is what inspect prints (as aligned text, or as JSON with --json).
type inspectReport struct {
	Dir            string         `json:"dir"`
	Architecture   string         `json:"architecture"`
	Parameters     int64          `json:"parameters"`
	DType          string         `json:"dtype"`
	StoredDTypes   []string       `json:"stored_dtypes"`
	Layers         int            `json:"layers"`
	Hidden         int            `json:"hidden_size"`
	Intermediate   int            `json:"intermediate_size"`
	Heads          int            `json:"heads"`
	KVHeads        int            `json:"kv_heads"`
	HeadDim        int            `json:"head_dim"`
	Vocab          int            `json:"vocab_size"`
	ContextLength  int            `json:"context_length"`
	Rope           string         `json:"rope"`
	SlidingWindow  string         `json:"sliding_window"`
	TiedEmbeddings bool           `json:"tied_embeddings"`
	Adapter        *adapterReport `json:"adapter,omitempty"`
}

type adapterReport struct {
	Dir     string   `json:"dir"`
	Rank    int      `json:"r"`
	Alpha   float64  `json:"lora_alpha"`
	RSLoRA  bool     `json:"use_rslora"`
	Targets []string `json:"target_modules"`
	Modules int      `json:"modules"`
}

func runInspect(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow inspect [--json] DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{code: 2}
	}
	rep, err := inspectDir(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printInspect(stdout, rep)
	return nil
}

func inspectDir(dir string) (*inspectReport, error) {
	cfg, err := hfconfig.Load(dir)
	if err != nil {
		return nil, err
	}
	ck, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	defer ck.Close()
	spec, err := model.SpecFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := spec.CheckTensors(ck); err != nil {
		return nil, fmt.Errorf("checkpoint %s does not fit its config: %w", dir, err)
	}
	rep := &inspectReport{
		Dir: dir, Architecture: cfg.Architecture, Parameters: spec.ParamCount(), DType: cfg.TorchDType,
		Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize, Intermediate: cfg.IntermediateSize,
		Heads: cfg.NumAttentionHeads, KVHeads: cfg.NumKeyValueHeads, HeadDim: cfg.HeadDim, Vocab: cfg.VocabSize,
		ContextLength: cfg.MaxPositionEmbeddings, TiedEmbeddings: cfg.TieWordEmbeddings,
		Rope: describeRope(cfg.Rope), SlidingWindow: describeWindows(cfg.SlidingWindows),
	}
	stored := map[string]bool{}
	for _, n := range ck.Names() {
		if info, ok := ck.Info(n); ok {
			stored[string(info.DType)] = true
		}
	}
	for d := range stored {
		rep.StoredDTypes = append(rep.StoredDTypes, d)
	}
	sort.Strings(rep.StoredDTypes)
	if rep.DType == "" && len(rep.StoredDTypes) == 1 {
		rep.DType = rep.StoredDTypes[0]
	}
	rep.Adapter, err = inspectAdapter(dir, cfg)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func describeRope(r hfconfig.Rope) string {
	s := fmt.Sprintf("theta %g, %s", r.Theta, r.Type)
	switch r.Type {
	case hfconfig.RopeLinear:
		s += fmt.Sprintf(" (factor %g)", r.Factor)
	case hfconfig.RopeLlama3:
		s += fmt.Sprintf(" (factor %g, low %g, high %g, original context %d)", r.Factor, r.LowFreqFactor, r.HighFreqFactor, r.OriginalMaxPositionEmbeddings)
	}
	return s
}

func describeWindows(ws []int) string {
	n, w := 0, 0
	for _, x := range ws {
		if x > 0 {
			n, w = n+1, x
		}
	}
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d on %d of %d layers", w, n, len(ws))
}

// inspectAdapter describes the LoRA adapter in dir itself (when it holds adapter_config.json)
// or in dir/lora, validated against the model's config; nil when there is none.
func inspectAdapter(dir string, cfg *hfconfig.Config) (*adapterReport, error) {
	for _, d := range []string{dir, filepath.Join(dir, "lora")} {
		if _, err := os.Stat(filepath.Join(d, peft.ConfigFile)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		a, err := peft.Load(d)
		if err != nil {
			return nil, err
		}
		if err := a.Validate(cfg); err != nil {
			return nil, fmt.Errorf("adapter %s: %w", d, err)
		}
		c := a.Config
		targets := c.TargetModules
		if c.TargetRegex != "" {
			targets = []string{c.TargetRegex}
		}
		return &adapterReport{Dir: d, Rank: c.R, Alpha: c.LoraAlpha, RSLoRA: c.UseRSLoRA, Targets: targets, Modules: len(a.Modules)}, nil
	}
	return nil, nil
}

func printInspect(w io.Writer, r *inspectReport) {
	rows := [][2]string{
		{"architecture", r.Architecture},
		{"parameters", fmt.Sprintf("%d (%s)", r.Parameters, humanCount(r.Parameters))},
		{"dtype", fmt.Sprintf("%s (stored %s)", r.DType, strings.Join(r.StoredDTypes, ", "))},
		{"layers", fmt.Sprint(r.Layers)},
		{"hidden size", fmt.Sprint(r.Hidden)},
		{"intermediate size", fmt.Sprint(r.Intermediate)},
		{"heads", fmt.Sprint(r.Heads)},
		{"kv heads", fmt.Sprint(r.KVHeads)},
		{"head dim", fmt.Sprint(r.HeadDim)},
		{"vocab", fmt.Sprint(r.Vocab)},
		{"context length", fmt.Sprint(r.ContextLength)},
		{"rope", r.Rope},
		{"sliding window", r.SlidingWindow},
		{"tied embeddings", fmt.Sprint(r.TiedEmbeddings)},
	}
	if a := r.Adapter; a != nil {
		rows = append(rows, [2]string{"adapter", fmt.Sprintf("%s: LoRA r=%d alpha=%g rslora=%v, %d modules, targets %s",
			a.Dir, a.Rank, a.Alpha, a.RSLoRA, a.Modules, strings.Join(a.Targets, ","))})
	} else {
		rows = append(rows, [2]string{"adapter", "none"})
	}
	for _, row := range rows {
		fmt.Fprintf(w, "%-18s %s\n", row[0]+":", row[1])
	}
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
