package hfconfig

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const fixtures = "../../testdata/models"

func TestLoadFixtures(t *testing.T) {
	llama := Config{
		Architecture: Llama, ModelType: "llama", VocabSize: 512, HiddenSize: 64, IntermediateSize: 160,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 16, HiddenAct: "silu",
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-5,
		Rope:           Rope{Theta: 500000, Type: RopeLlama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
		SlidingWindows: []int{0, 0}, BOSTokenID: 504, EOSTokenIDs: []int{508}, PadTokenID: -1, TorchDType: "float32",
	}
	llamaBF16 := llama
	llamaBF16.TorchDType = "bfloat16"
	mistral := Config{
		Architecture: Mistral, ModelType: "mistral", VocabSize: 512, HiddenSize: 64, IntermediateSize: 160,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 16, HiddenAct: "silu",
		MaxPositionEmbeddings: 4096, RMSNormEps: 1e-5, Rope: Rope{Theta: 1e6, Type: RopeDefault},
		SlidingWindows: []int{0, 0}, BOSTokenID: 504, EOSTokenIDs: []int{508}, PadTokenID: -1, TorchDType: "float32",
	}
	qwen2 := Config{
		Architecture: Qwen2, ModelType: "qwen2", VocabSize: 512, HiddenSize: 64, IntermediateSize: 160,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 16, HiddenAct: "silu",
		MaxPositionEmbeddings: 4096, RMSNormEps: 1e-6, Rope: Rope{Theta: 1e6, Type: RopeDefault},
		TieWordEmbeddings: true, QKVBias: true,
		SlidingWindows: []int{0, 0}, BOSTokenID: -1, EOSTokenIDs: []int{507}, PadTokenID: -1, TorchDType: "float32",
	}
	qwen3 := qwen2
	qwen3.Architecture, qwen3.ModelType, qwen3.HeadDim = Qwen3, "qwen3", 32
	qwen3.QKVBias, qwen3.QKNorm = false, true
	tests := []struct {
		dir  string
		want Config
	}{{"llama", llama}, {"llama_bf16", llamaBF16}, {"mistral", mistral}, {"qwen2", qwen2}, {"qwen3", qwen3}}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			c, err := Load(filepath.Join(fixtures, tc.dir))
			require.NoError(t, err)
			require.Equal(t, tc.want, *c)
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":100,"hidden_size":32,
		"intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4}`))
	require.NoError(t, err)
	require.Equal(t, Config{
		Architecture: Llama, ModelType: "llama", VocabSize: 100, HiddenSize: 32, IntermediateSize: 64,
		NumHiddenLayers: 3, NumAttentionHeads: 4, NumKeyValueHeads: 4, HeadDim: 8, HiddenAct: "silu",
		MaxPositionEmbeddings: 2048, RMSNormEps: 1e-6, Rope: Rope{Theta: 10000, Type: RopeDefault},
		SlidingWindows: []int{0, 0, 0}, BOSTokenID: -1, PadTokenID: -1,
	}, *c)
}

// base is a valid config body that the variations below extend or override.
const base = `"vocab_size":100,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4`

func TestVariants(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c *Config)
	}{
		{"model_type without architectures", `{"model_type":"qwen3",` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, Qwen3, c.Architecture)
			require.True(t, c.QKNorm)
		}},
		{"null head_dim and kv heads", `{"architectures":["MistralForCausalLM"],"sliding_window":null,"head_dim":null,"num_key_value_heads":null,` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, 8, c.HeadDim)
			require.Equal(t, 4, c.NumKeyValueHeads)
			require.Equal(t, 131072, c.MaxPositionEmbeddings)
		}},
		{"v5 rope_parameters llama3", `{"architectures":["LlamaForCausalLM"],"rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":32,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192},` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, Rope{Theta: 500000, Type: RopeLlama3, Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}, c.Rope)
		}},
		{"v5 rope_parameters default", `{"architectures":["Qwen3ForCausalLM"],"rope_parameters":{"rope_type":"default","rope_theta":1000000},` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, Rope{Theta: 1e6, Type: RopeDefault}, c.Rope)
		}},
		{"v5 rope_parameters per layer type", `{"architectures":["Qwen3ForCausalLM"],"rope_parameters":{"full_attention":{"rope_type":"linear","rope_theta":5000,"factor":2},"sliding_attention":{"rope_type":"linear","rope_theta":5000,"factor":2}},` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, Rope{Theta: 5000, Type: RopeLinear, Factor: 2}, c.Rope)
		}},
		{"partial_rotary_factor 1", `{"architectures":["LlamaForCausalLM"],"partial_rotary_factor":1.0,` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, RopeDefault, c.Rope.Type)
		}},
		{"legacy type linear", `{"architectures":["LlamaForCausalLM"],"rope_theta":20000,"rope_scaling":{"type":"linear","factor":2.0},` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, Rope{Theta: 20000, Type: RopeLinear, Factor: 2}, c.Rope)
		}},
		{"empty rope_scaling", `{"architectures":["LlamaForCausalLM"],"rope_scaling":{},` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, Rope{Theta: 10000, Type: RopeDefault}, c.Rope)
		}},
		{"mistral window absent means 4096", `{"architectures":["MistralForCausalLM"],` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{4096, 4096, 4096}, c.SlidingWindows)
		}},
		{"qwen2 max_window_layers absent means 28", `{"architectures":["Qwen2ForCausalLM"],"use_sliding_window":true,"sliding_window":4,"vocab_size":100,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":30,"num_attention_heads":4}`, func(t *testing.T, c *Config) {
			want := make([]int, 30)
			want[28], want[29] = 4, 4
			require.Equal(t, want, c.SlidingWindows)
		}},
		{"mistral window", `{"architectures":["MistralForCausalLM"],"sliding_window":4096,` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{4096, 4096, 4096}, c.SlidingWindows)
		}},
		{"qwen2 window unused", `{"architectures":["Qwen2ForCausalLM"],"use_sliding_window":false,"sliding_window":4,"max_window_layers":1,` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{0, 0, 0}, c.SlidingWindows)
		}},
		{"qwen2 max_window_layers", `{"architectures":["Qwen2ForCausalLM"],"use_sliding_window":true,"sliding_window":4,"max_window_layers":1,` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{0, 4, 4}, c.SlidingWindows)
			require.Equal(t, 4, c.SlidingWindow(2))
			require.Equal(t, 0, c.SlidingWindow(0))
			require.Equal(t, 0, c.SlidingWindow(99))
		}},
		{"qwen3 layer_types", `{"architectures":["Qwen3ForCausalLM"],"sliding_window":8,"layer_types":["sliding_attention","full_attention","sliding_attention"],` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{8, 0, 8}, c.SlidingWindows)
		}},
		{"llama ignores sliding_window", `{"architectures":["LlamaForCausalLM"],"sliding_window":8,` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{0, 0, 0}, c.SlidingWindows)
		}},
		{"llama biases", `{"architectures":["LlamaForCausalLM"],"attention_bias":true,"mlp_bias":true,` + base + `}`, func(t *testing.T, c *Config) {
			require.True(t, c.QKVBias && c.OutputBias && c.MLPBias)
		}},
		{"mistral never biased", `{"architectures":["MistralForCausalLM"],"attention_bias":true,"mlp_bias":true,` + base + `}`, func(t *testing.T, c *Config) {
			require.False(t, c.QKVBias || c.OutputBias || c.MLPBias)
		}},
		{"eos list and v5 dtype", `{"architectures":["LlamaForCausalLM"],"eos_token_id":[1,2,3],"bos_token_id":0,"dtype":"bfloat16",` + base + `}`, func(t *testing.T, c *Config) {
			require.Equal(t, []int{1, 2, 3}, c.EOSTokenIDs)
			require.Equal(t, 0, c.BOSTokenID)
			require.Equal(t, "bfloat16", c.TorchDType)
		}},
		{"float-typed integers", `{"architectures":["LlamaForCausalLM"],"vocab_size":100.0,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4}`, func(t *testing.T, c *Config) {
			require.Equal(t, 100, c.VocabSize)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.json))
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		sentinel error
		wantErr  string
	}{
		{"unknown architecture", `{"architectures":["GPT2LMHeadModel"],` + base + `}`, ErrUnsupportedArch,
			`architectures: unknown architecture "GPT2LMHeadModel"; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM`},
		{"unknown model_type", `{"model_type":"gpt2",` + base + `}`, ErrUnsupportedArch, `unknown model_type "gpt2"`},
		{"no architecture", `{` + base + `}`, ErrUnsupportedArch, "architectures: missing"},
		{"yarn", `{"architectures":["Qwen2ForCausalLM"],"rope_scaling":{"rope_type":"yarn","factor":4},` + base + `}`, ErrUnsupported,
			`rope_scaling.rope_type: rope type "yarn" is not supported (supported: default, linear, llama3)`},
		{"legacy dynamic", `{"architectures":["LlamaForCausalLM"],"rope_scaling":{"type":"dynamic","factor":4},` + base + `}`, ErrUnsupported,
			`rope_scaling.type: rope type "dynamic" is not supported`},
		{"v5 longrope", `{"architectures":["LlamaForCausalLM"],"rope_parameters":{"rope_type":"longrope","rope_theta":10000},` + base + `}`, ErrUnsupported,
			`rope_parameters.rope_type: rope type "longrope" is not supported`},
		{"per layer type rope differs", `{"architectures":["Qwen3ForCausalLM"],"rope_parameters":{"full_attention":{"rope_type":"default","rope_theta":1000000},"sliding_attention":{"rope_type":"default","rope_theta":10000}},` + base + `}`, ErrUnsupported,
			"different RoPE parameters for full and sliding attention layers"},
		{"partial rotary", `{"architectures":["LlamaForCausalLM"],"partial_rotary_factor":0.5,` + base + `}`, ErrUnsupported, "partial_rotary_factor: partial rotary embeddings (factor 0.5) are not supported"},
		{"partial rotary in rope_parameters", `{"architectures":["LlamaForCausalLM"],"rope_parameters":{"rope_type":"default","rope_theta":10000,"partial_rotary_factor":0.25},` + base + `}`, ErrUnsupported, "rope_parameters.partial_rotary_factor"},
		{"llama3 missing key", `{"architectures":["LlamaForCausalLM"],"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4},` + base + `}`, nil,
			`rope_scaling.original_max_position_embeddings: missing; rope type "llama3" needs it`},
		{"llama3 low >= high", `{"architectures":["LlamaForCausalLM"],"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":4,"high_freq_factor":4,"original_max_position_embeddings":8192},` + base + `}`, nil,
			"must be greater than low_freq_factor"},
		{"linear without factor", `{"architectures":["LlamaForCausalLM"],"rope_scaling":{"rope_type":"linear"},` + base + `}`, nil, `rope_scaling.factor: missing`},
		{"gelu", `{"architectures":["LlamaForCausalLM"],"hidden_act":"gelu",` + base + `}`, ErrUnsupported, `hidden_act: activation "gelu" is not supported`},
		{"kv heads do not divide", `{"architectures":["LlamaForCausalLM"],"num_key_value_heads":3,` + base + `}`, nil, "num_key_value_heads: 3 does not divide num_attention_heads 4"},
		{"odd head_dim", `{"architectures":["LlamaForCausalLM"],"head_dim":7,` + base + `}`, nil, "head_dim: want an even value"},
		{"missing hidden_size", `{"architectures":["LlamaForCausalLM"],"vocab_size":100,"intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4}`, nil, "hidden_size: missing"},
		{"negative layers", `{"architectures":["LlamaForCausalLM"],"vocab_size":100,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":-3,"num_attention_heads":4}`, nil, "num_hidden_layers: want an integer in [1, 4096], found -3"},
		{"huge vocab", `{"architectures":["LlamaForCausalLM"],"vocab_size":1e12,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4}`, nil, "vocab_size: want an integer in"},
		{"fractional size", `{"architectures":["LlamaForCausalLM"],"vocab_size":10.5,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4}`, nil, "vocab_size: want an integer, found 10.5"},
		{"string where number", `{"architectures":["LlamaForCausalLM"],"rope_theta":"big",` + base + `}`, nil, `rope_theta: want a number, found "big"`},
		{"bad bool", `{"architectures":["LlamaForCausalLM"],"tie_word_embeddings":"yes",` + base + `}`, nil, "tie_word_embeddings: want true or false"},
		{"bad eos", `{"architectures":["LlamaForCausalLM"],"eos_token_id":"x",` + base + `}`, nil, "eos_token_id: want an integer or a list of integers"},
		{"layer_types length", `{"architectures":["Qwen2ForCausalLM"],"layer_types":["full_attention"],` + base + `}`, nil, "layer_types: has 1 entries, want num_hidden_layers = 3"},
		{"layer_types value", `{"architectures":["Qwen2ForCausalLM"],"layer_types":["full_attention","chunked_attention","full_attention"],` + base + `}`, ErrUnsupported, `layer 1 has type "chunked_attention"`},
		{"not json", `{"architectures":`, nil, "want a JSON object"},
		{"trailing data", `{"architectures":["LlamaForCausalLM"],` + base + `} {}`, nil, "unexpected data"},
		{"zero eps", `{"architectures":["LlamaForCausalLM"],"rms_norm_eps":0,` + base + `}`, nil, "rms_norm_eps: want a small positive number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			if tc.sentinel != nil {
				require.True(t, errors.Is(err, tc.sentinel), "want errors.Is(%v)", tc.sentinel)
			}
		})
	}
	_, err := Load(t.TempDir())
	require.ErrorContains(t, err, "load config")
}

// The expected frequencies were computed independently in Python, rounding every step to
// float32 the way PyTorch's float32 kernels do (reciprocal(x) * scalar for scalar / tensor).
func TestRopeInvFreq(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []float32
	}{
		{"llama fixture llama3", Config{HeadDim: 16, Rope: Rope{Theta: 500000, Type: RopeLlama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}},
			[]float32{1.0, 0.193922758102417, 0.03760603070259094, 0.00729266507551074, 0.0005248460220173001, 3.428102354519069e-05, 6.647869668086059e-06, 1.289173155782919e-06}},
		{"qwen3 fixture default", Config{HeadDim: 32, Rope: Rope{Theta: 1e6, Type: RopeDefault}},
			[]float32{1.0, 0.4216965138912201, 0.17782793939113617, 0.07498941570520401, 0.03162277862429619, 0.01333521492779255, 0.005623413249850273, 0.0023713738191872835, 0.0010000000474974513, 0.00042169648804701865, 0.00017782794020604342, 7.498942431993783e-05, 3.162277425872162e-05, 1.333521413471317e-05, 5.62341347176698e-06, 2.3713737391517498e-06}},
		{"linear factor 2", Config{HeadDim: 8, Rope: Rope{Theta: 10000, Type: RopeLinear, Factor: 2}},
			[]float32{0.5, 0.05000000074505806, 0.004999999888241291, 0.0005000000237487257}},
		{"llama 3.1 head_dim 128", Config{HeadDim: 128, Rope: Rope{Theta: 500000, Type: RopeLlama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}},
			[]float32{1.0, 0.8146172165870667, 0.663601279258728, 0.5405809879302979, 0.44036662578582764, 0.3587302267551422, 0.2922278344631195, 0.2380538135766983, 0.193922758102417, 0.1579728126525879, 0.12868738174438477, 0.10483095049858093, 0.08539710193872452, 0.06956595182418823, 0.05666961893439293, 0.046164050698280334, 0.03760603070259094, 0.030634520575404167, 0.02495540864765644, 0.020329104736447334, 0.016560440883040428, 0.013490419834852219, 0.010989529080688953, 0.008952259086072445, 0.00729266507551074, 0.005940730683505535, 0.00483942124992609, 0.003942275885492563, 0.0032114461064338684, 0.0021665706299245358, 0.0013718936825171113, 0.0008567514596506953, 0.0005248460220173001, 0.0003126936499029398, 0.0001785077911335975, 9.556212171446532e-05, 7.784655463183299e-05, 6.341514381347224e-05, 5.165906986803748e-05, 4.208236714475788e-05, 3.428102354519069e-05, 2.7925909307668917e-05, 2.2748929040972143e-05, 1.8531669411459006e-05, 1.5096217794052791e-05, 1.2297638932068367e-05, 1.0017868589784484e-05, 8.160727702488657e-06, 6.647869668086059e-06, 5.415469331637723e-06, 4.411534519022098e-06, 3.593711880967021e-06, 2.927499735960737e-06, 2.3847917418606812e-06, 1.9426925064180978e-06, 1.5825507944100536e-06, 1.289173155782919e-06, 1.050182618200779e-06, 8.554969213037111e-07, 6.969025321268418e-07, 5.677088097399974e-07, 4.6246537976912805e-07, 3.76732259610435e-07, 3.068925877869333e-07}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.cfg.RopeInvFreq())
		})
	}
}

// FuzzParse: any input yields a config or an error, never a panic, and an accepted config
// satisfies the invariants engines rely on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"architectures":["LlamaForCausalLM"],` + base + `}`))
	f.Add([]byte(`{"architectures":["Qwen2ForCausalLM"],"use_sliding_window":true,"sliding_window":4,"max_window_layers":1,` + base + `}`))
	f.Add([]byte(`{"architectures":["LlamaForCausalLM"],"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192},` + base + `}`))
	f.Add([]byte(`{"model_type":"qwen3","layer_types":["sliding_attention"],"sliding_window":2,"vocab_size":1,"hidden_size":2,"intermediate_size":1,"num_hidden_layers":1,"num_attention_heads":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if c.HeadDim <= 0 || c.HeadDim%2 != 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0 || len(c.SlidingWindows) != c.NumHiddenLayers {
			t.Fatalf("accepted an inconsistent config: %+v", c)
		}
		if len(c.RopeInvFreq()) != c.HeadDim/2 {
			t.Fatalf("wrong number of inverse frequencies")
		}
	})
}
