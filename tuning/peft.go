package tuning

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sectorflow/sdk/internal/safetensors"
)

// PEFT file names.
const (
	AdapterConfigFile  = "adapter_config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
)

// peftConfig is adapter_config.json as PEFT (LoraConfig) writes it; vLLM and PEFT read it.
type peftConfig struct {
	AlphaPattern        map[string]float64 `json:"alpha_pattern"`
	AutoMapping         any                `json:"auto_mapping"`
	BaseModelNameOrPath string             `json:"base_model_name_or_path"`
	Bias                string             `json:"bias"`
	FanInFanOut         bool               `json:"fan_in_fan_out"`
	InferenceMode       bool               `json:"inference_mode"`
	InitLoraWeights     bool               `json:"init_lora_weights"`
	LayersPattern       any                `json:"layers_pattern"`
	LayersToTransform   any                `json:"layers_to_transform"`
	LoraAlpha           float64            `json:"lora_alpha"`
	LoraDropout         float64            `json:"lora_dropout"`
	ModulesToSave       any                `json:"modules_to_save"`
	PeftType            string             `json:"peft_type"`
	R                   int                `json:"r"`
	RankPattern         map[string]int     `json:"rank_pattern"`
	Revision            any                `json:"revision"`
	TargetModules       []string           `json:"target_modules"`
	TaskType            string             `json:"task_type"`
	UseDora             bool               `json:"use_dora"`
	UseRSLoRA           bool               `json:"use_rslora"`
}

// writeAdapter writes the adapter in PEFT's layout into dir (created if needed): adapter_config.json
// and adapter_model.safetensors with keys base_model.model.<module>.lora_{A,B}.weight, A [r, in]
// and B [out, r] in f32. Each file is written atomically.
func writeAdapter(dir string, s *loraSet, baseModel string, dropout float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write adapter: %w", err)
	}
	tensors := make([]safetensors.Tensor, 0, 2*len(s.Modules))
	for _, m := range s.Modules {
		a, err := safetensors.FromFloat32(peftKey(m.Name, "A"), safetensors.F32, []int{s.Rank, m.In}, m.A)
		if err != nil {
			return fmt.Errorf("write adapter: %w", err)
		}
		b, err := safetensors.FromFloat32(peftKey(m.Name, "B"), safetensors.F32, []int{m.Out, s.Rank}, m.B)
		if err != nil {
			return fmt.Errorf("write adapter: %w", err)
		}
		tensors = append(tensors, a, b)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, AdapterWeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("write adapter: %w", err)
	}
	cfg := peftConfig{
		AlphaPattern: map[string]float64{}, RankPattern: map[string]int{},
		BaseModelNameOrPath: baseModel, Bias: "none", InferenceMode: true, InitLoraWeights: true,
		LoraAlpha: s.Alpha, LoraDropout: dropout, PeftType: "LORA", R: s.Rank,
		TargetModules: s.Targets, TaskType: "CAUSAL_LM", UseRSLoRA: s.RSLoRA,
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("write adapter: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, AdapterConfigFile), append(data, '\n'))
}

// readAdapterWeights loads A and B of every module of s from a PEFT adapter_model.safetensors,
// checking shapes; it is how a checkpoint is resumed.
func readAdapterWeights(path string, s *loraSet) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("read adapter: %w", err)
	}
	defer f.Close()
	for _, m := range s.Modules {
		for _, ab := range []struct {
			name  string
			dst   []float32
			shape []int
		}{{"A", m.A, []int{s.Rank, m.In}}, {"B", m.B, []int{m.Out, s.Rank}}} {
			key := peftKey(m.Name, ab.name)
			info, ok := f.Info(key)
			if !ok {
				return fmt.Errorf("read adapter %s: missing tensor %s", path, key)
			}
			if fmt.Sprint(info.Shape) != fmt.Sprint(ab.shape) {
				return fmt.Errorf("read adapter %s: %s has shape %v, want %v", path, key, info.Shape, ab.shape)
			}
			if err := f.Float32Into(key, ab.dst); err != nil {
				return fmt.Errorf("read adapter %s: %w", path, err)
			}
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
