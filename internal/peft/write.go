package peft

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sectorflow/sdk/internal/atomicfile"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// WriteOptions tunes Write; the zero value writes float32 weights.
type WriteOptions struct {
	// DType of the written A and B: safetensors.F32 (default), F16 or BF16.
	DType safetensors.DType
}

// Write writes the adapter in PEFT's format into dir (created if needed): adapter_model.safetensors
// with keys base_model.model.<module>.lora_A.weight / lora_B.weight and adapter_config.json with
// peft_type LORA and task_type CAUSAL_LM (unless the config says otherwise). Each file is
// written atomically. When the config lists no target_modules, they are derived from the modules.
func Write(dir string, a *Adapter, opts *WriteOptions) error {
	if a == nil || a.Config == nil {
		return fmt.Errorf("write adapter %s: adapter and its config are required", dir)
	}
	dt := safetensors.F32
	if opts != nil && opts.DType != "" {
		dt = opts.DType
	}
	if len(a.Modules) == 0 {
		return fmt.Errorf("write adapter %s: no modules", dir)
	}
	tensors := make([]safetensors.Tensor, 0, 2*len(a.Modules))
	kinds := map[string]bool{}
	for _, m := range a.Modules {
		if m.Rank <= 0 || len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank {
			return fmt.Errorf("write adapter %s: module %s has %d A and %d B values, want [%d %d] and [%d %d]",
				dir, m.Name, len(m.A), len(m.B), m.Rank, m.In, m.Out, m.Rank)
		}
		ta, err := safetensors.FromFloat32(Key(m.Name, "A"), dt, []int{m.Rank, m.In}, m.A)
		if err != nil {
			return fmt.Errorf("write adapter %s: %w", dir, err)
		}
		tb, err := safetensors.FromFloat32(Key(m.Name, "B"), dt, []int{m.Out, m.Rank}, m.B)
		if err != nil {
			return fmt.Errorf("write adapter %s: %w", dir, err)
		}
		tensors = append(tensors, ta, tb)
		if m.Kind != "" {
			kinds[m.Kind] = true
		}
	}
	cfgJSON, err := a.Config.marshal(kinds)
	if err != nil {
		return fmt.Errorf("write adapter %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write adapter: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("write adapter %s: %w", dir, err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, ConfigFile), cfgJSON); err != nil {
		return fmt.Errorf("write adapter %s: %w", dir, err)
	}
	return nil
}

// orderedObject marshals key/value pairs in the given order (rank_pattern's order matters).
type orderedObject []struct {
	k string
	v any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.k)
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal renders adapter_config.json with PEFT's keys, sorted as PEFT writes them.
func (c *Config) marshal(kinds map[string]bool) ([]byte, error) {
	var targets any
	switch {
	case c.TargetRegex != "":
		targets = c.TargetRegex
	case len(c.TargetModules) > 0:
		targets = c.TargetModules
	default:
		list := make([]string, 0, len(kinds))
		for _, p := range Projections {
			if kinds[p] {
				list = append(list, p)
			}
		}
		targets = list
	}
	rank := orderedObject{}
	for _, p := range c.RankPattern {
		rank = append(rank, struct {
			k string
			v any
		}{p.Key, p.Rank})
	}
	alpha := orderedObject{}
	for _, p := range c.AlphaPattern {
		alpha = append(alpha, struct {
			k string
			v any
		}{p.Key, p.Alpha})
	}
	peftType, taskType, bias := c.PeftType, c.TaskType, c.Bias
	if peftType == "" {
		peftType = "LORA"
	}
	if taskType == "" {
		taskType = "CAUSAL_LM"
	}
	if bias == "" {
		bias = "none"
	}
	r := c.R
	if r == 0 {
		return nil, fmt.Errorf("config: r is 0, want the adapter's rank")
	}
	var exclude any
	switch {
	case c.ExcludeRegex != "":
		exclude = c.ExcludeRegex
	case len(c.ExcludeModules) > 0:
		exclude = c.ExcludeModules
	}
	fields := map[string]any{
		"alpha_pattern":           alpha,
		"auto_mapping":            nil,
		"base_model_name_or_path": c.BaseModelNameOrPath,
		"bias":                    bias,
		"exclude_modules":         exclude,
		"fan_in_fan_out":          false,
		"inference_mode":          true,
		"init_lora_weights":       true,
		"layers_pattern":          nil,
		"layers_to_transform":     nil,
		"lora_alpha":              c.LoraAlpha,
		"lora_dropout":            c.LoraDropout,
		"modules_to_save":         nil,
		"peft_type":               peftType,
		"r":                       r,
		"rank_pattern":            rank,
		"revision":                nil,
		"target_modules":          targets,
		"task_type":               taskType,
		"use_dora":                false,
		"use_rslora":              c.UseRSLoRA,
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	obj := orderedObject{}
	for _, k := range keys {
		obj = append(obj, struct {
			k string
			v any
		}{k, fields[k]})
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
