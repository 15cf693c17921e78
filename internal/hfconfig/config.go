package hfconfig

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Supported architecture names, as they appear in config.json's "architectures".
const (
	Llama   = "LlamaForCausalLM"
	Mistral = "MistralForCausalLM"
	Qwen2   = "Qwen2ForCausalLM"
	Qwen3   = "Qwen3ForCausalLM"
)

// archDefaults holds the per-architecture values transformers' config classes use when a key
// is absent.
type archDefaults struct {
	modelType             string
	maxPositionEmbeddings int
}

var archs = map[string]archDefaults{
	Llama:   {"llama", 2048},
	Mistral: {"mistral", 4096 * 32},
	Qwen2:   {"qwen2", 32768},
	Qwen3:   {"qwen3", 32768},
}

// Supported returns the supported architecture names in a stable order.
func Supported() []string { return []string{Llama, Mistral, Qwen2, Qwen3} }

// Limits on sizes read from an untrusted config.json, so a hostile file cannot make an engine
// allocate without bound before it even opens the weights.
const (
	maxDim    = 1 << 24
	maxLayers = 4096
)

// FileName is the name of the configuration file in a Hugging Face model directory.
const FileName = "config.json"

// maxFileSize caps config.json (real ones are a few kilobytes).
const maxFileSize = 4 << 20

// Config is a validated model configuration with every default resolved.
type Config struct {
	// Architecture is one of Supported(), e.g. "LlamaForCausalLM".
	Architecture string
	// ModelType is config.json's model_type ("llama", "qwen3", ...).
	ModelType string
	// VocabSize is the number of token embeddings and logits.
	VocabSize int
	// HiddenSize is the residual stream width.
	HiddenSize int
	// IntermediateSize is the MLP's inner width.
	IntermediateSize int
	// NumHiddenLayers is the number of decoder layers.
	NumHiddenLayers int
	// NumAttentionHeads is the number of query heads.
	NumAttentionHeads int
	// NumKeyValueHeads is the number of key/value heads (GQA); it divides NumAttentionHeads.
	NumKeyValueHeads int
	// HeadDim is the per-head width: head_dim when set, else HiddenSize/NumAttentionHeads.
	HeadDim int
	// HiddenAct is the MLP activation; only "silu" is supported.
	HiddenAct string
	// MaxPositionEmbeddings is the context length the model was trained for.
	MaxPositionEmbeddings int
	// RMSNormEps is the epsilon of every RMSNorm.
	RMSNormEps float64
	// Rope holds the rotary embedding parameters.
	Rope Rope
	// TieWordEmbeddings makes lm_head reuse embed_tokens (lm_head.weight is then not read).
	TieWordEmbeddings bool
	// QKVBias is true when q_proj, k_proj and v_proj have biases.
	QKVBias bool
	// OutputBias is true when o_proj has a bias.
	OutputBias bool
	// MLPBias is true when gate_proj, up_proj and down_proj have biases.
	MLPBias bool
	// QKNorm is true when q and k get a per-head RMSNorm before RoPE (Qwen3).
	QKNorm bool
	// SlidingWindows holds, per layer, the attention window (a key is visible when
	// query-key < window), or 0 for full causal attention.
	SlidingWindows []int
	// BOSTokenID is the beginning-of-sequence token, or -1 when the config has none.
	BOSTokenID int
	// EOSTokenIDs are the end-of-sequence tokens (eos_token_id may be an int or a list).
	EOSTokenIDs []int
	// PadTokenID is the padding token, or -1 when the config has none.
	PadTokenID int
	// TorchDType is the checkpoint's declared dtype ("float32", "bfloat16", "float16") or "".
	TorchDType string
}

// Rope holds the rotary position embedding parameters.
type Rope struct {
	// Theta is the base (rope_theta), 10000 when absent.
	Theta float64
	// Type is "default", "linear" or "llama3".
	Type string
	// Factor scales the frequencies (linear, llama3).
	Factor float64
	// LowFreqFactor, HighFreqFactor and OriginalMaxPositionEmbeddings parameterise llama3.
	LowFreqFactor, HighFreqFactor float64
	// OriginalMaxPositionEmbeddings is llama3's original context length.
	OriginalMaxPositionEmbeddings int
}

// Load reads and validates dir/config.json.
func Load(dir string) (*Config, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("load config %s: larger than %d bytes", path, maxFileSize)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Parse validates the contents of a config.json.
func Parse(data []byte) (*Config, error) {
	o, err := parseObject("", data)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	if err := c.parseArch(o); err != nil {
		return nil, err
	}
	if err := c.parseSizes(o); err != nil {
		return nil, err
	}
	if err := c.parseRope(o); err != nil {
		return nil, err
	}
	if err := c.parseFlags(o); err != nil {
		return nil, err
	}
	if err := c.parseWindows(o); err != nil {
		return nil, err
	}
	if err := c.parseTokens(o); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) parseArch(o object) error {
	list, ok, err := o.strings("architectures")
	if err != nil {
		return err
	}
	modelType, _, err := o.str("model_type")
	if err != nil {
		return err
	}
	switch {
	case ok && len(list) > 0:
		c.Architecture = list[0]
	case modelType != "":
		// No architectures list: map the model_type the way AutoModelForCausalLM would.
		for name, d := range archs {
			if d.modelType == modelType {
				c.Architecture = name
			}
		}
		if c.Architecture == "" {
			return &ConfigError{Field: "model_type", Err: ErrUnsupportedArch,
				Reason: fmt.Sprintf("unknown model_type %q and no architectures list; supported architectures: %s", modelType, strings.Join(Supported(), ", "))}
		}
	default:
		return &ConfigError{Field: "architectures", Err: ErrUnsupportedArch,
			Reason: fmt.Sprintf("missing; want one of %s", strings.Join(Supported(), ", "))}
	}
	d, known := archs[c.Architecture]
	if !known {
		return &ConfigError{Field: "architectures", Err: ErrUnsupportedArch,
			Reason: fmt.Sprintf("unknown architecture %q; supported: %s", c.Architecture, strings.Join(Supported(), ", "))}
	}
	c.ModelType = modelType
	if c.ModelType == "" {
		c.ModelType = d.modelType
	}
	return nil
}

// positive reads a required positive integer no larger than limit.
func positive(o object, key string, limit int) (int, error) {
	v, ok, err := o.integer(key)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fieldErr(key, "missing; want a positive integer")
	}
	if v <= 0 || v > limit {
		return 0, fieldErr(key, "want an integer in [1, %d], found %d", limit, v)
	}
	return v, nil
}

func (c *Config) parseSizes(o object) error {
	var err error
	if c.VocabSize, err = positive(o, "vocab_size", maxDim); err != nil {
		return err
	}
	if c.HiddenSize, err = positive(o, "hidden_size", maxDim); err != nil {
		return err
	}
	if c.IntermediateSize, err = positive(o, "intermediate_size", maxDim); err != nil {
		return err
	}
	if c.NumHiddenLayers, err = positive(o, "num_hidden_layers", maxLayers); err != nil {
		return err
	}
	if c.NumAttentionHeads, err = positive(o, "num_attention_heads", maxDim); err != nil {
		return err
	}
	c.NumKeyValueHeads = c.NumAttentionHeads
	if o.has("num_key_value_heads") {
		if c.NumKeyValueHeads, err = positive(o, "num_key_value_heads", maxDim); err != nil {
			return err
		}
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fieldErr("num_key_value_heads", "%d does not divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	}
	hd, ok, err := o.integer("head_dim")
	if err != nil {
		return err
	}
	if !ok || hd == 0 { // transformers: head_dim or hidden_size // num_attention_heads
		hd = c.HiddenSize / c.NumAttentionHeads
		if hd == 0 {
			return fieldErr("num_attention_heads", "%d heads leave no width in hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
		}
	}
	if hd < 0 || hd > maxDim {
		return fieldErr("head_dim", "want an integer in [1, %d], found %d", maxDim, hd)
	}
	if hd%2 != 0 {
		return fieldErr("head_dim", "want an even value (RoPE rotates pairs), found %d", hd)
	}
	if int64(hd)*int64(c.NumAttentionHeads) > maxDim {
		return fieldErr("head_dim", "%d x %d heads exceeds %d", hd, c.NumAttentionHeads, maxDim)
	}
	c.HeadDim = hd
	c.MaxPositionEmbeddings = archs[c.Architecture].maxPositionEmbeddings
	if o.has("max_position_embeddings") {
		if c.MaxPositionEmbeddings, err = positive(o, "max_position_embeddings", 1<<30); err != nil {
			return err
		}
	}
	c.RMSNormEps = 1e-6
	if eps, ok, err := o.number("rms_norm_eps"); err != nil {
		return err
	} else if ok {
		if !(eps > 0 && eps < 1) {
			return fieldErr("rms_norm_eps", "want a small positive number, found %v", eps)
		}
		c.RMSNormEps = eps
	}
	c.HiddenAct = "silu"
	if act, ok, err := o.str("hidden_act"); err != nil {
		return err
	} else if ok {
		c.HiddenAct = act
	}
	if c.HiddenAct != "silu" {
		return &ConfigError{Field: "hidden_act", Err: ErrUnsupported,
			Reason: fmt.Sprintf("activation %q is not supported (want silu)", c.HiddenAct)}
	}
	return nil
}

func (c *Config) parseFlags(o object) error {
	var err error
	if c.TieWordEmbeddings, err = o.boolean("tie_word_embeddings", false); err != nil {
		return err
	}
	attnBias, err := o.boolean("attention_bias", false)
	if err != nil {
		return err
	}
	mlpBias, err := o.boolean("mlp_bias", false)
	if err != nil {
		return err
	}
	switch c.Architecture {
	case Llama:
		c.QKVBias, c.OutputBias, c.MLPBias = attnBias, attnBias, mlpBias
	case Mistral:
		// MistralAttention and MistralMLP have no biases whatever the config says.
	case Qwen2:
		c.QKVBias = true // Qwen2: q, k, v always biased; o never.
	case Qwen3:
		c.QKVBias, c.OutputBias = attnBias, attnBias
		c.QKNorm = true
	}
	dt, _, err := o.str("torch_dtype")
	if err != nil {
		return err
	}
	if dt == "" { // transformers v5 renamed torch_dtype to dtype
		if dt, _, err = o.str("dtype"); err != nil {
			return err
		}
	}
	c.TorchDType = dt
	return nil
}

func (c *Config) parseWindows(o object) error {
	c.SlidingWindows = make([]int, c.NumHiddenLayers)
	window, ok, err := o.integer("sliding_window")
	if err != nil {
		return err
	}
	if !ok {
		window = 0
		if _, present := o.m["sliding_window"]; !present && c.Architecture == Mistral {
			window = 4096 // MistralConfig's default when the key is absent (null means none)
		}
	}
	if window < 0 {
		return fieldErr("sliding_window", "want a positive integer or null, found %d", window)
	}
	switch c.Architecture {
	case Mistral:
		for i := range c.SlidingWindows {
			c.SlidingWindows[i] = window
		}
	case Qwen2, Qwen3:
		types, hasTypes, err := o.strings("layer_types")
		if err != nil {
			return err
		}
		if hasTypes {
			if len(types) != c.NumHiddenLayers {
				return fieldErr("layer_types", "has %d entries, want num_hidden_layers = %d", len(types), c.NumHiddenLayers)
			}
			for i, t := range types {
				switch t {
				case "full_attention":
				case "sliding_attention":
					c.SlidingWindows[i] = window
				default:
					return &ConfigError{Field: "layer_types", Err: ErrUnsupported,
						Reason: fmt.Sprintf("layer %d has type %q, want full_attention or sliding_attention", i, t)}
				}
			}
			return nil
		}
		use, err := o.boolean("use_sliding_window", false)
		if err != nil {
			return err
		}
		if !use || window == 0 {
			return nil
		}
		mwl := 28 // Qwen2Config's and Qwen3Config's default
		if v, ok, err := o.integer("max_window_layers"); err != nil {
			return err
		} else if ok {
			mwl = v
		}
		for i := range c.SlidingWindows {
			if i >= mwl {
				c.SlidingWindows[i] = window
			}
		}
	}
	return nil
}

func (c *Config) parseTokens(o object) error {
	c.BOSTokenID, c.PadTokenID = -1, -1
	for key, dst := range map[string]*int{"bos_token_id": &c.BOSTokenID, "pad_token_id": &c.PadTokenID} {
		ids, err := o.intList(key)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			*dst = ids[0]
		}
	}
	eos, err := o.intList("eos_token_id")
	if err != nil {
		return err
	}
	c.EOSTokenIDs = eos
	for _, id := range eos {
		if id < 0 {
			return fieldErr("eos_token_id", "want token ids >= 0, found %d", id)
		}
	}
	return nil
}

// SlidingWindow returns layer's attention window, or 0 for full causal attention.
func (c *Config) SlidingWindow(layer int) int {
	if layer < 0 || layer >= len(c.SlidingWindows) {
		return 0
	}
	return c.SlidingWindows[layer]
}
