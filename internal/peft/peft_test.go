package peft

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/safetensors"
	"github.com/stretchr/testify/require"
)

const fixtures = "../../testdata/models"

var fixtureModels = []string{"llama", "llama_bf16", "mistral", "qwen2", "qwen3"}

func TestLoadFixtures(t *testing.T) {
	for _, m := range fixtureModels {
		t.Run(m, func(t *testing.T) {
			a, err := Load(filepath.Join(fixtures, m, "lora"))
			require.NoError(t, err)
			cfg, err := hfconfig.Load(filepath.Join(fixtures, m))
			require.NoError(t, err)
			require.NoError(t, a.Validate(cfg))
			require.Len(t, a.Modules, 14)
			require.Equal(t, 4, a.Config.R)
			require.Equal(t, 8.0, a.Config.LoraAlpha)
			require.Equal(t, "..", a.Config.BaseModelNameOrPath)
			for i, mod := range a.Modules {
				// Sorted by layer, then projection order.
				require.Equal(t, i/7, mod.Layer)
				require.Equal(t, Projections[i%7], mod.Kind)
				require.Equal(t, ModuleName(mod.Layer, mod.Kind), mod.Name)
				require.Equal(t, 4, mod.Rank)
				require.Equal(t, 2.0, mod.Scale) // alpha 8 / r 4
			}
		})
	}
	// Values decoded independently (Python struct) from the llama fixture.
	a, err := Load(filepath.Join(fixtures, "llama", "lora"))
	require.NoError(t, err)
	q, ok := a.Module("model.layers.0.self_attn.q_proj")
	require.True(t, ok)
	require.Equal(t, []int{4, 64, 64}, []int{q.Rank, q.In, q.Out})
	require.Equal(t, []float32{-0.12757211923599243, 0.030656615272164345, -0.002524573588743806}, q.A[:3])
	d, ok := a.Module("model.layers.1.mlp.down_proj")
	require.True(t, ok)
	require.Equal(t, []int{4, 160, 64}, []int{d.Rank, d.In, d.Out})
	require.Equal(t, []float32{0.06365381926298141, 0.06459206342697144, -0.039948102086782455}, d.B[:3])
	k, ok := a.Module("model.layers.0.self_attn.k_proj")
	require.True(t, ok)
	require.Equal(t, []int{64, 32}, []int{k.In, k.Out}) // 2 kv heads x head_dim 16
}

// TestWriteMatchesFixtureKeys writes the fixture adapter back and checks the files PEFT reads:
// the exact tensor names, shapes and bytes of the fixture, and the config keys PEFT writes.
func TestWriteMatchesFixtureKeys(t *testing.T) {
	src := filepath.Join(fixtures, "llama", "lora")
	a, err := Load(src)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "adapter")
	require.NoError(t, Write(out, a, nil))

	want, err := safetensors.Open(filepath.Join(src, WeightsFile))
	require.NoError(t, err)
	defer want.Close()
	got, err := safetensors.Open(filepath.Join(out, WeightsFile))
	require.NoError(t, err)
	defer got.Close()
	require.Equal(t, want.Names(), got.Names())
	require.Contains(t, got.Names(), "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
	require.Equal(t, map[string]string{"format": "pt"}, got.Metadata())
	for _, n := range want.Names() {
		wi, _ := want.Info(n)
		gi, _ := got.Info(n)
		require.Equal(t, wi.Shape, gi.Shape, n)
		require.Equal(t, wi.DType, gi.DType, n)
		wb, err := want.Bytes(n)
		require.NoError(t, err)
		gb, err := got.Bytes(n)
		require.NoError(t, err)
		require.Equal(t, wb, gb, n)
	}

	for _, name := range []string{ConfigFile, WeightsFile} {
		st, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), name)
	}
	data, err := os.ReadFile(filepath.Join(out, ConfigFile))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	require.Equal(t, map[string]any{
		"alpha_pattern": map[string]any{}, "auto_mapping": nil, "base_model_name_or_path": "..", "bias": "none",
		"exclude_modules": nil, "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "layers_pattern": nil,
		"layers_to_transform": nil, "lora_alpha": 8.0, "lora_dropout": 0.0, "modules_to_save": nil,
		"peft_type": "LORA", "r": 4.0, "rank_pattern": map[string]any{}, "revision": nil,
		"target_modules": []any{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
		"task_type":      "CAUSAL_LM", "use_dora": false, "use_rslora": false,
	}, cfg)

	// And it reads back to the same adapter.
	b, err := Load(out)
	require.NoError(t, err)
	require.Equal(t, a.Modules, b.Modules)
}

func TestWriteRoundTripPatterns(t *testing.T) {
	c := &Config{R: 2, LoraAlpha: 16, UseRSLoRA: true, LoraDropout: 0.05, BaseModelNameOrPath: "org/model",
		TargetModules: []string{"q_proj", "v_proj"},
		RankPattern:   []RankOverride{{"layers.1.self_attn.v_proj", 1}, {"v_proj", 3}},
		AlphaPattern:  []AlphaOverride{{"q_proj", 4}}}
	mods := []Module{
		{Name: "model.layers.0.self_attn.q_proj", Layer: 0, Kind: "q_proj", Rank: 2, In: 2, Out: 3, A: []float32{1, 2, 3, 4}, B: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "model.layers.1.self_attn.v_proj", Layer: 1, Kind: "v_proj", Rank: 1, In: 2, Out: 2, A: []float32{0.5, -0.5}, B: []float32{0.25, 1.5}},
	}
	out := t.TempDir()
	require.NoError(t, Write(out, &Adapter{Config: c, Modules: mods}, &WriteOptions{DType: safetensors.BF16}))
	raw, err := os.ReadFile(filepath.Join(out, ConfigFile))
	require.NoError(t, err)
	require.Contains(t, string(raw), `"rank_pattern": {
    "layers.1.self_attn.v_proj": 1,
    "v_proj": 3
  }`)
	b, err := Load(out)
	require.NoError(t, err)
	require.Equal(t, c.RankPattern, b.Config.RankPattern)
	require.Equal(t, c.AlphaPattern, b.Config.AlphaPattern)
	require.Equal(t, 0.05, b.Config.LoraDropout)
	require.True(t, b.Config.UseRSLoRA)
	require.Len(t, b.Modules, 2)
	require.Equal(t, mods[0].A, b.Modules[0].A) // all exactly representable in bf16
	require.Equal(t, mods[1].B, b.Modules[1].B)
	require.InDelta(t, 2.8284271247461903, b.Modules[0].Scale, 1e-15) // alpha_pattern 4 / sqrt(2)
	require.Equal(t, 16.0, b.Modules[1].Scale)                        // alpha 16 / sqrt(1)

	require.ErrorContains(t, Write(out, &Adapter{Config: c, Modules: []Module{{Name: "x", Rank: 2, In: 2, Out: 2, A: []float32{1}}}}, nil), "has 1 A and 0 B values")
	require.ErrorContains(t, Write(out, &Adapter{}, nil), "config are required")
}

func TestPatterns(t *testing.T) {
	c, err := ParseConfig([]byte(`{"r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"],
		"rank_pattern":{"q_proj":4,"layers.1.self_attn.q_proj":2,"model.layers.0.self_attn.v_proj":16},
		"alpha_pattern":{"layers\\.[01]\\.self_attn\\.v_proj":32}}`))
	require.NoError(t, err)
	tests := []struct {
		module string
		rank   int
		alpha  float64
		target bool
	}{
		{"model.layers.1.self_attn.q_proj", 4, 16, true}, // the first matching key wins, in file order
		{"model.layers.0.self_attn.v_proj", 16, 32, true},
		{"model.layers.2.self_attn.v_proj", 8, 16, true},
		{"model.layers.0.self_attn.k_proj", 8, 16, false},
		{"model.layers.0.self_attn.xq_proj", 8, 16, false}, // "(.*\.)?" needs a dot boundary
	}
	for _, tc := range tests {
		t.Run(tc.module, func(t *testing.T) {
			require.Equal(t, tc.rank, c.RankFor(tc.module))
			require.Equal(t, tc.alpha, c.AlphaFor(tc.module))
			require.Equal(t, tc.target, c.Targets(tc.module))
		})
	}
	require.Equal(t, 16.0/4, c.Scale("model.layers.1.self_attn.q_proj", 4))

	re, err := ParseConfig([]byte(`{"r":8,"target_modules":".*\\.(q|v)_proj"}`))
	require.NoError(t, err)
	require.True(t, re.Targets("model.layers.3.self_attn.q_proj"))
	require.False(t, re.Targets("model.layers.3.self_attn.k_proj"))
	require.False(t, re.Targets("model.layers.3.self_attn.q_proj.base")) // fullmatch

	ex, err := ParseConfig([]byte(`{"r":8,"target_modules":["q_proj","v_proj"],"exclude_modules":["layers.1.self_attn.q_proj"]}`))
	require.NoError(t, err)
	require.True(t, ex.Targets("model.layers.0.self_attn.q_proj"))
	require.False(t, ex.Targets("model.layers.1.self_attn.q_proj"))
	exRe, err := ParseConfig([]byte(`{"r":8,"target_modules":"all-linear","exclude_modules":".*mlp.*"}`))
	require.NoError(t, err)
	require.True(t, exRe.Targets("model.layers.0.self_attn.o_proj"))
	require.False(t, exRe.Targets("model.layers.0.mlp.up_proj"))

	all, err := ParseConfig([]byte(`{"r":8,"target_modules":"all-linear","use_rslora":true,"lora_alpha":16}`))
	require.NoError(t, err)
	require.True(t, all.Targets("model.layers.0.mlp.down_proj"))
	require.False(t, all.Targets("lm_head"))
	require.Equal(t, 4.0, all.Scale("model.layers.0.mlp.down_proj", 16)) // 16 / sqrt(16)
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		sentinel error
		wantErr  string
	}{
		{"dora", `{"r":4,"target_modules":["q_proj"],"use_dora":true}`, ErrUnsupported, "use_dora: DoRA adapters are not supported"},
		{"fan_in_fan_out", `{"r":4,"target_modules":["q_proj"],"fan_in_fan_out":true}`, ErrUnsupported, "fan_in_fan_out"},
		{"prefix tuning", `{"peft_type":"PREFIX_TUNING","target_modules":["q_proj"]}`, ErrUnsupported, `peft_type: "PREFIX_TUNING" is not supported (want LORA)`},
		{"bias all", `{"r":4,"target_modules":["q_proj"],"bias":"all"}`, ErrUnsupported, `bias: "all" is not supported`},
		{"modules_to_save", `{"r":4,"target_modules":["q_proj"],"modules_to_save":["lm_head"]}`, ErrUnsupported, "modules_to_save"},
		{"layers_to_transform", `{"r":4,"target_modules":["q_proj"],"layers_to_transform":[0]}`, ErrUnsupported, "layers_to_transform"},
		{"lora_bias", `{"r":4,"target_modules":["q_proj"],"lora_bias":true}`, ErrUnsupported, "lora_bias"},
		{"no targets", `{"r":4}`, ErrInvalid, "target_modules: missing"},
		{"layer_replication", `{"r":4,"target_modules":["q_proj"],"layer_replication":[[0,1]]}`, ErrUnsupported, "layer_replication"},
		{"target_parameters", `{"r":4,"target_modules":["q_proj"],"target_parameters":["experts.w"]}`, ErrUnsupported, "target_parameters"},
		{"bad exclude", `{"r":4,"target_modules":["q_proj"],"exclude_modules":[1]}`, ErrInvalid, "exclude_modules: want non-empty strings"},
		{"empty targets", `{"r":4,"target_modules":[]}`, ErrInvalid, "target_modules: empty list"},
		{"numeric targets", `{"r":4,"target_modules":3}`, ErrInvalid, "target_modules: want a list"},
		{"zero rank", `{"r":0,"target_modules":["q_proj"]}`, ErrInvalid, "r: want an integer in [1, 65536], found 0"},
		{"fractional rank", `{"r":2.5,"target_modules":["q_proj"]}`, ErrInvalid, "found 2.5"},
		{"string rank", `{"r":"4","target_modules":["q_proj"]}`, ErrInvalid, `r: want a number, found "4"`},
		{"bad pattern regex", `{"r":4,"target_modules":["q_proj"],"rank_pattern":{"(":2}}`, ErrInvalid, `rank_pattern key "("`},
		{"bad pattern value", `{"r":4,"target_modules":["q_proj"],"rank_pattern":{"q_proj":0}}`, ErrInvalid, `rank_pattern["q_proj"]: want an integer rank`},
		{"bad target regex", `{"r":4,"target_modules":"(["}`, ErrInvalid, `target_modules regex "(["`},
		{"dropout 1", `{"r":4,"target_modules":["q_proj"],"lora_dropout":1}`, ErrInvalid, "lora_dropout"},
		{"not json", `{"r":`, ErrInvalid, "want a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			require.True(t, errors.Is(err, tc.sentinel), "want errors.Is(%v): %v", tc.sentinel, err)
		})
	}
}

// writeAdapterDir writes a raw adapter directory: a config and tensors of the given shapes.
func writeAdapterDir(t *testing.T, cfg string, shapes map[string][]int) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644))
	var tensors []safetensors.Tensor
	for name, shape := range shapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		ten, err := safetensors.FromFloat32(name, safetensors.F32, shape, make([]float32, n))
		require.NoError(t, err)
		tensors = append(tensors, ten)
	}
	require.NoError(t, safetensors.WriteFile(filepath.Join(dir, WeightsFile), tensors, nil))
	return dir
}

// The llama fixture: hidden 64, 4 heads x 16, 2 kv heads, intermediate 160, 2 layers.
func TestValidateRejects(t *testing.T) {
	model, err := hfconfig.Load(filepath.Join(fixtures, "llama"))
	require.NoError(t, err)
	q0 := "base_model.model.model.layers.0.self_attn.q_proj"
	tests := []struct {
		name    string
		cfg     string
		shapes  map[string][]int
		wantErr string
	}{
		{"layer not in model", `{"r":4,"target_modules":["q_proj"]}`, map[string][]int{
			"base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight": {4, 64},
			"base_model.model.model.layers.5.self_attn.q_proj.lora_B.weight": {64, 4}},
			"adapter module model.layers.5.self_attn.q_proj is not a linear layer of this LlamaForCausalLM (2 layers"},
		{"lm_head", `{"r":4,"target_modules":["lm_head"]}`, map[string][]int{
			"base_model.model.lm_head.lora_A.weight": {4, 64}, "base_model.model.lm_head.lora_B.weight": {512, 4}},
			"adapter module lm_head is not a linear layer"},
		{"rank disagrees with config", `{"r":8,"target_modules":["q_proj"]}`, map[string][]int{
			q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_B.weight": {64, 4}},
			"has rank 4 in adapter_model.safetensors, but adapter_config.json gives it r=8"},
		{"rank disagrees with rank_pattern", `{"r":4,"target_modules":"model\\.layers\\.0\\.self_attn\\.q_proj","rank_pattern":{"q_proj":2}}`, map[string][]int{
			q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_B.weight": {64, 4}},
			"gives it r=2"},
		{"wrong in width", `{"r":4,"target_modules":["q_proj"]}`, map[string][]int{
			q0 + ".lora_A.weight": {4, 32}, q0 + ".lora_B.weight": {64, 4}},
			"lora_A is [4 32] and lora_B [64 4], want [4 64] and [64 4]"},
		{"wrong out width", `{"r":4,"target_modules":["k_proj"]}`, map[string][]int{
			"base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight": {4, 64},
			"base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight": {64, 4}},
			"want [4 64] and [32 4]"},
		{"target matches nothing", `{"r":4,"target_modules":["q_proj","c_attn"]}`, map[string][]int{
			q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_B.weight": {64, 4}},
			`target_modules entry "c_attn" matches no linear layer`},
		{"selected but missing", `{"r":4,"target_modules":["q_proj"]}`, map[string][]int{
			q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_B.weight": {64, 4}},
			"selects model.layers.1.self_attn.q_proj, but adapter_model.safetensors has no lora_A/lora_B for it"},
		{"weights not selected", `{"r":4,"target_modules":"model\\.layers\\.0\\.self_attn\\.v_proj"}`, map[string][]int{
			q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_B.weight": {64, 4},
			"base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight": {4, 64},
			"base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight": {32, 4}},
			"adapter module model.layers.0.self_attn.q_proj has weights but adapter_config.json's target_modules does not select it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Load(writeAdapterDir(t, tc.cfg, tc.shapes))
			require.NoError(t, err)
			err = a.Validate(model)
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	cfg := `{"r":4,"target_modules":["q_proj"]}`
	q0 := "base_model.model.model.layers.0.self_attn.q_proj"
	tests := []struct {
		name     string
		shapes   map[string][]int
		sentinel error
		wantErr  string
	}{
		{"embedding lora", map[string][]int{"base_model.model.model.embed_tokens.lora_embedding_A": {4, 512}}, ErrUnsupported, "LoRA on embeddings is not supported"},
		{"dora magnitude", map[string][]int{q0 + ".lora_magnitude_vector": {64}}, ErrUnsupported, "DoRA"},
		{"lora bias", map[string][]int{q0 + ".lora_B.bias": {64}}, ErrUnsupported, "LoRA biases"},
		{"unknown key", map[string][]int{"model.layers.0.self_attn.q_proj.weight": {64, 64}}, ErrInvalid, "is not a PEFT LoRA weight"},
		{"missing B", map[string][]int{q0 + ".lora_A.weight": {4, 64}}, ErrInvalid, `want both`},
		{"rank mismatch", map[string][]int{q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_B.weight": {64, 2}}, ErrInvalid, "disagree on the rank"},
		{"1-D", map[string][]int{q0 + ".lora_A.weight": {4}, q0 + ".lora_B.weight": {64, 4}}, ErrInvalid, "want [r in] and [out r]"},
		{"two A", map[string][]int{q0 + ".lora_A.weight": {4, 64}, q0 + ".lora_A.default.weight": {4, 64}, q0 + ".lora_B.weight": {64, 4}}, ErrInvalid, "two lora_A tensors"},
		{"empty", map[string][]int{}, ErrInvalid, "no LoRA tensors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeAdapterDir(t, cfg, tc.shapes))
			require.ErrorIs(t, err, tc.sentinel)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	_, err := Load(t.TempDir())
	require.ErrorContains(t, err, "load adapter")
	// The adapter-name form ("lora_A.default.weight") is accepted.
	a, err := Load(writeAdapterDir(t, cfg, map[string][]int{q0 + ".lora_A.default.weight": {4, 64}, q0 + ".lora_B.default.weight": {64, 4}}))
	require.NoError(t, err)
	require.Equal(t, "model.layers.0.self_attn.q_proj", a.Modules[0].Name)
}

func TestParseFromMemory(t *testing.T) {
	src := filepath.Join(fixtures, "qwen3", "lora")
	cfg, err := os.ReadFile(filepath.Join(src, ConfigFile))
	require.NoError(t, err)
	weights, err := os.ReadFile(filepath.Join(src, WeightsFile))
	require.NoError(t, err)
	a, err := Parse(cfg, bytes.NewReader(weights), int64(len(weights)))
	require.NoError(t, err)
	b, err := Load(src)
	require.NoError(t, err)
	require.Equal(t, b.Modules, a.Modules)
	_, err = Parse(cfg, bytes.NewReader(weights[:100]), 100)
	require.ErrorContains(t, err, "parse adapter: open safetensors adapter_model.safetensors: invalid safetensors")
}

// FuzzParseWeights feeds arbitrary adapter_model.safetensors bytes: an error or an adapter whose
// modules are internally consistent, never a panic.
func FuzzParseWeights(f *testing.F) {
	for _, m := range []string{"llama", "qwen3"} {
		data, err := os.ReadFile(filepath.Join(fixtures, m, "lora", WeightsFile))
		require.NoError(f, err)
		f.Add(data)
	}
	var small bytes.Buffer
	ta, _ := safetensors.FromFloat32("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", safetensors.F32, []int{1, 2}, []float32{1, 2})
	tb, _ := safetensors.FromFloat32("base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight", safetensors.BF16, []int{2, 1}, []float32{1, 2})
	require.NoError(f, safetensors.Write(&small, []safetensors.Tensor{ta, tb}, nil))
	f.Add(small.Bytes())
	cfg := []byte(`{"r":1,"target_modules":"all-linear"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(cfg, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, m := range a.Modules {
			if m.Rank <= 0 || len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank {
				t.Fatalf("inconsistent module %s: rank %d in %d out %d, %d A, %d B", m.Name, m.Rank, m.In, m.Out, len(m.A), len(m.B))
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, m := range fixtureModels {
		data, err := os.ReadFile(filepath.Join(fixtures, m, "lora", ConfigFile))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"r":8,"target_modules":".*\\.(q|v)_proj","rank_pattern":{"q_proj":4},"alpha_pattern":{"v":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.R < 1 || c.PeftType != "LORA" {
			t.Fatalf("accepted invalid config %+v", c)
		}
		name := "model.layers.0.self_attn.q_proj"
		if r := c.RankFor(name); r < 1 {
			t.Fatalf("rank %d", r)
		}
		_ = c.Targets(name)
		_ = c.Scale(name, c.RankFor(name))
	})
}
