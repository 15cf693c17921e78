package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/sectorflow/sdk/internal/safetensors"
)

// adapterKeyRE matches PEFT's tensor keys for the projections of a decoder layer.
var adapterKeyRE = regexp.MustCompile(`^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])(?:\.[^.]+)?\.weight$`)

// LoadAdapter reads a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) from
// dir and resolves it against spec: every module must be a projection of the model, with A
// [r, in] and B [out, r] of one rank. The scale is alpha/r (alpha/sqrt(r) with use_rslora).
// TODO: delegate config parsing (rank_pattern, alpha_pattern) to internal/peft once it lands.
func LoadAdapter(dir string, spec *Spec) (*Adapter, error) {
	data, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	var c struct {
		PeftType string  `json:"peft_type"`
		R        int     `json:"r"`
		Alpha    float64 `json:"lora_alpha"`
		RSLoRA   bool    `json:"use_rslora"`
		DoRA     bool    `json:"use_dora"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("load adapter %s: adapter_config.json: %w", dir, err)
	}
	if c.PeftType != "" && c.PeftType != "LORA" {
		return nil, fmt.Errorf("load adapter %s: peft_type is %q, want \"LORA\"", dir, c.PeftType)
	}
	if c.DoRA {
		return nil, fmt.Errorf("load adapter %s: use_dora is set; DoRA is not supported", dir)
	}
	f, err := safetensors.Open(filepath.Join(dir, "adapter_model.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	defer f.Close()
	type pair struct{ a, b string }
	mods := map[string]*pair{}
	var order []string
	for _, name := range f.Names() {
		m := adapterKeyRE.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("load adapter %s: tensor %q is not a LoRA A/B of a decoder layer projection", dir, name)
		}
		key := m[1] + "." + m[2] + "." + m[3]
		p := mods[key]
		if p == nil {
			p = &pair{}
			mods[key] = p
			order = append(order, key)
		}
		if m[4] == "A" {
			p.a = name
		} else {
			p.b = name
		}
	}
	a := &Adapter{}
	for _, key := range order {
		parts := strings.SplitN(key, ".", 3)
		layer, _ := strconv.Atoi(parts[0])
		module := parts[2]
		if ModulePath(module) != parts[1]+"."+module {
			return nil, fmt.Errorf("load adapter %s: module %s.%s is not a projection of the model", dir, parts[1], module)
		}
		p := mods[key]
		if p.a == "" || p.b == "" {
			return nil, fmt.Errorf("load adapter %s: layer %d %s has only one of lora_A and lora_B", dir, layer, module)
		}
		infoA, _ := f.Info(p.a)
		infoB, _ := f.Info(p.b)
		if len(infoA.Shape) != 2 || len(infoB.Shape) != 2 || infoB.Shape[1] != infoA.Shape[0] {
			return nil, fmt.Errorf("load adapter %s: layer %d %s: lora_A %v and lora_B %v do not share a rank", dir, layer, module, infoA.Shape, infoB.Shape)
		}
		r := infoA.Shape[0]
		if c.R > 0 && r != c.R {
			return nil, fmt.Errorf("load adapter %s: layer %d %s has rank %d, adapter_config.json says r=%d", dir, layer, module, r, c.R)
		}
		scale := c.Alpha / float64(r)
		if c.RSLoRA {
			scale = c.Alpha / math.Sqrt(float64(r))
		}
		A, err := f.Float32(p.a)
		if err != nil {
			return nil, fmt.Errorf("load adapter %s: %w", dir, err)
		}
		B, err := f.Float32(p.b)
		if err != nil {
			return nil, fmt.Errorf("load adapter %s: %w", dir, err)
		}
		a.Modules = append(a.Modules, LoRAModule{Layer: layer, Module: module, Rank: r, A: A, B: B, Scale: float32(scale)})
	}
	a = a.sorted()
	if err := a.Check(spec); err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	return a, nil
}
