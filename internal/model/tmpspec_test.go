package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sectorflow/sdk/internal/safetensors"

	"github.com/stretchr/testify/require"
)

// tmpAdapter is a stand-in for internal/peft until it lands.
func tmpAdapter(t *testing.T, dir string) *Adapter {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	require.NoError(t, err)
	var c struct {
		R     int     `json:"r"`
		Alpha float64 `json:"lora_alpha"`
	}
	require.NoError(t, json.Unmarshal(data, &c))
	f, err := safetensors.Open(filepath.Join(dir, "adapter_model.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	re := regexp.MustCompile(`^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_A\.weight$`)
	a := &Adapter{}
	for _, name := range f.Names() {
		m := re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		layer, _ := strconv.Atoi(m[1])
		A, err := f.Float32(name)
		require.NoError(t, err)
		B, err := f.Float32(strings.Replace(name, "lora_A", "lora_B", 1))
		require.NoError(t, err)
		info, _ := f.Info(name)
		a.Modules = append(a.Modules, LoRAModule{Layer: layer, Module: m[3], Rank: info.Shape[0], A: A, B: B,
			Scale: float32(c.Alpha / float64(info.Shape[0]))})
	}
	return a
}
