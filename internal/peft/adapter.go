package peft

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// Projections lists the linear layers of a decoder layer that LoRA can adapt, in the order a
// layer applies them.
var Projections = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

func isProjection(kind string) bool {
	for _, p := range Projections {
		if p == kind {
			return true
		}
	}
	return false
}

// ProjectionPath returns a projection's path inside a decoder layer ("self_attn.q_proj",
// "mlp.up_proj").
func ProjectionPath(kind string) string {
	switch kind {
	case "gate_proj", "up_proj", "down_proj":
		return "mlp." + kind
	}
	return "self_attn." + kind
}

// ModuleName returns the full module name of a projection, e.g. "model.layers.3.mlp.up_proj".
func ModuleName(layer int, kind string) string {
	return "model.layers." + strconv.Itoa(layer) + "." + ProjectionPath(kind)
}

var moduleRe = regexp.MustCompile(`^model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)$`)

// splitModule returns the layer and projection of a module name, or (-1, "") when it is not a
// decoder-layer projection.
func splitModule(name string) (int, string) {
	m := moduleRe.FindStringSubmatch(name)
	if m == nil || !isProjection(m[3]) || ProjectionPath(m[3]) != m[2]+"."+m[3] {
		return -1, ""
	}
	layer, err := strconv.Atoi(m[1])
	if err != nil || strconv.Itoa(layer) != m[1] {
		return -1, ""
	}
	return layer, m[3]
}

// Linear is one LoRA-adaptable linear layer of a model.
type Linear struct {
	// Name is the full module name, e.g. "model.layers.0.self_attn.q_proj".
	Name string
	// Layer is the decoder layer index.
	Layer int
	// Kind is the projection ("q_proj", ...).
	Kind string
	// In and Out are the input and output widths (the weight is [Out, In]).
	In, Out int
}

// Dims returns the input and output widths of a projection for a model config.
func Dims(c *hfconfig.Config, kind string) (in, out int, err error) {
	q, kv := c.NumAttentionHeads*c.HeadDim, c.NumKeyValueHeads*c.HeadDim
	switch kind {
	case "q_proj":
		return c.HiddenSize, q, nil
	case "k_proj", "v_proj":
		return c.HiddenSize, kv, nil
	case "o_proj":
		return q, c.HiddenSize, nil
	case "gate_proj", "up_proj":
		return c.HiddenSize, c.IntermediateSize, nil
	case "down_proj":
		return c.IntermediateSize, c.HiddenSize, nil
	}
	return 0, 0, fmt.Errorf("unknown projection %q, want one of %s", kind, strings.Join(Projections, ", "))
}

// Linears returns every LoRA-adaptable linear layer of a model, by layer then projection.
func Linears(c *hfconfig.Config) []Linear {
	out := make([]Linear, 0, c.NumHiddenLayers*len(Projections))
	for l := 0; l < c.NumHiddenLayers; l++ {
		for _, kind := range Projections {
			in, o, _ := Dims(c, kind)
			out = append(out, Linear{Name: ModuleName(l, kind), Layer: l, Kind: kind, In: in, Out: o})
		}
	}
	return out
}

// Module is the LoRA pair of one adapted linear layer.
type Module struct {
	// Name is the full module name, e.g. "model.layers.0.self_attn.q_proj".
	Name string
	// Layer and Kind locate it ("q_proj", ...); Layer is -1 and Kind "" for a name that is
	// not a decoder-layer projection (Validate rejects those).
	Layer int
	Kind  string
	// Rank is r, In and Out the layer's widths.
	Rank, In, Out int
	// A is [Rank, In] and B is [Out, Rank], row-major float32.
	A, B []float32
	// Scale is alpha/r or alpha/sqrt(r) (rsLoRA), from the config.
	Scale float64
}

// Adapter is a LoRA adapter: its config and its modules sorted by layer then projection.
type Adapter struct {
	// Config is the parsed adapter_config.json.
	Config *Config
	// Modules holds one entry per adapted linear layer.
	Modules []Module
}

// Module returns the named module, if the adapter adapts it.
func (a *Adapter) Module(name string) (*Module, bool) {
	for i := range a.Modules {
		if a.Modules[i].Name == name {
			return &a.Modules[i], true
		}
	}
	return nil, false
}

// keyRe matches PEFT's saved key names, with or without the adapter name
// ("lora_A.weight" or "lora_A.default.weight").
var keyRe = regexp.MustCompile(`^base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$`)

// Key returns PEFT's tensor name for a module's A or B matrix ("A" or "B").
func Key(module, which string) string {
	return "base_model.model." + module + ".lora_" + which + ".weight"
}

// Load reads an adapter directory (adapter_config.json and adapter_model.safetensors). It
// checks the adapter on its own (every module has an A and a B of matching rank, no
// unsupported tensors); Validate checks it against a model.
func Load(dir string) (*Adapter, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	f, err := os.Open(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	st, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	defer st.Close()
	a, err := FromTensors(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	return a, nil
}

// Parse builds an adapter from the contents of adapter_config.json and of
// adapter_model.safetensors (size bytes readable from weights), for adapters that do not live
// in a directory, such as objects fetched from storage.
func Parse(configJSON []byte, weights io.ReaderAt, size int64) (*Adapter, error) {
	cfg, err := ParseConfig(configJSON)
	if err != nil {
		return nil, fmt.Errorf("parse adapter: %w", err)
	}
	st, err := safetensors.NewFile(weights, size, WeightsFile)
	if err != nil {
		return nil, fmt.Errorf("parse adapter: %w", err)
	}
	a, err := FromTensors(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("parse adapter: %w", err)
	}
	return a, nil
}

// FromTensors builds an adapter from a config and PEFT-named tensors.
func FromTensors(cfg *Config, r safetensors.Reader) (*Adapter, error) {
	type pair struct{ a, b string }
	pairs := map[string]*pair{}
	for _, name := range r.Names() {
		m := keyRe.FindStringSubmatch(name)
		if m == nil {
			switch {
			case strings.Contains(name, "lora_embedding"):
				return nil, fmt.Errorf("%s: tensor %q: LoRA on embeddings is not supported: %w", WeightsFile, name, ErrUnsupported)
			case strings.Contains(name, "lora_magnitude_vector"):
				return nil, fmt.Errorf("%s: tensor %q: DoRA adapters are not supported: %w", WeightsFile, name, ErrUnsupported)
			case strings.Contains(name, ".lora_") && strings.HasSuffix(name, ".bias"):
				return nil, fmt.Errorf("%s: tensor %q: LoRA biases are not supported: %w", WeightsFile, name, ErrUnsupported)
			}
			return nil, fmt.Errorf("%s: tensor %q is not a PEFT LoRA weight (want base_model.model.<module>.lora_A.weight or .lora_B.weight): %w", WeightsFile, name, ErrInvalid)
		}
		p := pairs[m[1]]
		if p == nil {
			p = &pair{}
			pairs[m[1]] = p
		}
		dst := &p.a
		if m[2] == "B" {
			dst = &p.b
		}
		if *dst != "" {
			return nil, fmt.Errorf("%s: module %s has two lora_%s tensors (%s and %s): %w", WeightsFile, m[1], m[2], *dst, name, ErrInvalid)
		}
		*dst = name
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("%s: no LoRA tensors: %w", WeightsFile, ErrInvalid)
	}
	a := &Adapter{Config: cfg}
	for name, p := range pairs {
		if p.a == "" || p.b == "" {
			return nil, fmt.Errorf("%s: module %s has lora_A %q and lora_B %q, want both: %w", WeightsFile, name, p.a, p.b, ErrInvalid)
		}
		ia, _ := r.Info(p.a)
		ib, _ := r.Info(p.b)
		if len(ia.Shape) != 2 || len(ib.Shape) != 2 {
			return nil, fmt.Errorf("%s: module %s: lora_A has shape %v and lora_B %v, want [r in] and [out r]: %w", WeightsFile, name, ia.Shape, ib.Shape, ErrInvalid)
		}
		rank := ia.Shape[0]
		if rank == 0 || ib.Shape[1] != rank || ia.Shape[1] == 0 || ib.Shape[0] == 0 {
			return nil, fmt.Errorf("%s: module %s: lora_A %v and lora_B %v disagree on the rank (want A [r in], B [out r], r > 0): %w", WeightsFile, name, ia.Shape, ib.Shape, ErrInvalid)
		}
		A, err := r.Float32(p.a)
		if err != nil {
			return nil, fmt.Errorf("%s: module %s: %w", WeightsFile, name, err)
		}
		B, err := r.Float32(p.b)
		if err != nil {
			return nil, fmt.Errorf("%s: module %s: %w", WeightsFile, name, err)
		}
		layer, kind := splitModule(name)
		a.Modules = append(a.Modules, Module{
			Name: name, Layer: layer, Kind: kind, Rank: rank, In: ia.Shape[1], Out: ib.Shape[0],
			A: A, B: B, Scale: cfg.Scale(name, rank),
		})
	}
	a.sort()
	return a, nil
}

// sort orders modules by layer, then projection order, then name.
func (a *Adapter) sort() {
	order := map[string]int{}
	for i, p := range Projections {
		order[p] = i
	}
	sort.Slice(a.Modules, func(i, j int) bool {
		x, y := a.Modules[i], a.Modules[j]
		if x.Layer != y.Layer {
			return x.Layer < y.Layer
		}
		if order[x.Kind] != order[y.Kind] {
			return order[x.Kind] < order[y.Kind]
		}
		return x.Name < y.Name
	})
}

// Validate checks the adapter against a model: every module must be a LoRA-adaptable linear
// layer of the model that target_modules selects, with A [r, in] and B [out, r] of the model's
// widths and r equal to the rank the config assigns it (r or rank_pattern); every linear layer
// that target_modules selects must have weights; every target_modules entry must match a layer.
func (a *Adapter) Validate(c *hfconfig.Config) error {
	linears := map[string]Linear{}
	for _, l := range Linears(c) {
		linears[l.Name] = l
	}
	cfg := a.Config
	have := map[string]bool{}
	for _, m := range a.Modules {
		have[m.Name] = true
		l, ok := linears[m.Name]
		if !ok {
			return fmt.Errorf("adapter module %s is not a linear layer of this %s (%d layers; projections %s): %w",
				m.Name, c.Architecture, c.NumHiddenLayers, strings.Join(Projections, ", "), ErrInvalid)
		}
		if !cfg.Targets(m.Name) {
			return fmt.Errorf("adapter module %s has weights but %s's target_modules does not select it: %w", m.Name, ConfigFile, ErrInvalid)
		}
		if m.In != l.In || m.Out != l.Out {
			return fmt.Errorf("adapter module %s: lora_A is [%d %d] and lora_B [%d %d], want [%d %d] and [%d %d] for this model: %w",
				m.Name, m.Rank, m.In, m.Out, m.Rank, m.Rank, l.In, l.Out, m.Rank, ErrInvalid)
		}
		if want := cfg.RankFor(m.Name); m.Rank != want {
			return fmt.Errorf("adapter module %s has rank %d in %s, but %s gives it r=%d: %w", m.Name, m.Rank, WeightsFile, ConfigFile, want, ErrInvalid)
		}
		if len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank {
			return fmt.Errorf("adapter module %s: %d A and %d B values, want %d and %d: %w", m.Name, len(m.A), len(m.B), m.Rank*m.In, m.Out*m.Rank, ErrInvalid)
		}
	}
	for _, t := range cfg.TargetModules {
		found := false
		for name := range linears {
			if name == t || strings.HasSuffix(name, "."+t) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: target_modules entry %q matches no linear layer of this %s (its projections: %s): %w",
				ConfigFile, t, c.Architecture, strings.Join(Projections, ", "), ErrInvalid)
		}
	}
	for _, l := range Linears(c) {
		if cfg.Targets(l.Name) && !have[l.Name] {
			return fmt.Errorf("%s selects %s, but %s has no lora_A/lora_B for it: %w", ConfigFile, l.Name, WeightsFile, ErrInvalid)
		}
	}
	return nil
}
