package model

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/safetensors"
)

// writeAdapter writes an adapter directory with the given config and A/B shapes per key prefix.
func writeAdapter(t *testing.T, config string, shapes map[string][2][]int) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(config), 0o644))
	var ts []safetensors.Tensor
	for prefix, ab := range shapes {
		for i, suffix := range []string{".lora_A.weight", ".lora_B.weight"} {
			n := 1
			for _, d := range ab[i] {
				n *= d
			}
			x, err := safetensors.FromFloat32(prefix+suffix, safetensors.F32, ab[i], make([]float32, n))
			require.NoError(t, err)
			ts = append(ts, x)
		}
	}
	require.NoError(t, safetensors.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), ts, nil))
	return dir
}

func TestLoadAdapterErrors(t *testing.T) {
	m := loadModel(t, "llama") // hidden 64, 4 heads x 16, 2 kv heads, 2 layers, intermediate 160
	const cfg = `{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}`
	q := "base_model.model.model.layers.0.self_attn.q_proj"
	q1 := "base_model.model.model.layers.1.self_attn.q_proj"
	tests := []struct {
		name    string
		config  string
		shapes  map[string][2][]int
		wantErr string
	}{
		{"ok", cfg, map[string][2][]int{q: {{4, 64}, {64, 4}}, q1: {{4, 64}, {64, 4}}}, ""},
		{"rank disagrees with config", cfg, map[string][2][]int{q: {{2, 64}, {64, 2}}}, "has rank 2 in adapter_model.safetensors, but adapter_config.json gives it r=4"},
		{"A and B ranks differ", cfg, map[string][2][]int{q: {{4, 64}, {64, 3}}}, "disagree on the rank"},
		{"layer not in model", cfg, map[string][2][]int{"base_model.model.model.layers.7.self_attn.q_proj": {{4, 64}, {64, 4}}}, "model.layers.7.self_attn.q_proj is not a linear layer of this LlamaForCausalLM"},
		{"module not in model", cfg, map[string][2][]int{"base_model.model.model.layers.0.self_attn.qkv_proj": {{4, 64}, {64, 4}}}, "qkv_proj is not a linear layer"},
		{"module under the wrong block", cfg, map[string][2][]int{"base_model.model.model.layers.0.mlp.q_proj": {{4, 64}, {64, 4}}}, "mlp.q_proj is not a linear layer"},
		{"wrong input size", cfg, map[string][2][]int{q: {{4, 32}, {64, 4}}}, "lora_A is [4 32] and lora_B [64 4], want [4 64] and [64 4]"},
		{"not a lora key", cfg, map[string][2][]int{"base_model.model.lm_head": {{4, 64}, {512, 4}}}, "lm_head is not a linear layer"},
		{"dora", `{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_dora": true}`, map[string][2][]int{q: {{4, 64}, {64, 4}}}, "DoRA adapters are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeAdapter(t, tc.config, tc.shapes)
			a, err := m.LoadAdapter(dir)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Len(t, a.Modules, 2)
				require.Equal(t, float32(2), a.Modules[0].Scale)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
