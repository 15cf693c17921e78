package peft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// File names of a PEFT adapter directory.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// ErrUnsupported is wrapped by errors for adapter settings this SDK does not implement.
var ErrUnsupported = errors.New("unsupported adapter setting")

// ErrInvalid is wrapped by errors for a malformed or inconsistent adapter.
var ErrInvalid = errors.New("invalid adapter")

// AllLinear is PEFT's special target_modules value selecting every linear layer but the output.
const AllLinear = "all-linear"

// RankOverride is one rank_pattern entry: modules whose name matches Key get rank Rank.
type RankOverride struct {
	// Key is a regex matched as PEFT does: "(.*\.)?(Key)$" against the module name.
	Key string
	// Rank is the rank of the matching modules.
	Rank int
}

// AlphaOverride is one alpha_pattern entry: modules whose name matches Key get alpha Alpha.
type AlphaOverride struct {
	// Key is a regex matched as PEFT does: "(.*\.)?(Key)$" against the module name.
	Key string
	// Alpha is the alpha of the matching modules.
	Alpha float64
}

// Config is a parsed adapter_config.json (PEFT's LoraConfig).
type Config struct {
	// PeftType is "LORA".
	PeftType string
	// TaskType is "CAUSAL_LM" for the models this SDK runs.
	TaskType string
	// R is the default rank.
	R int
	// LoraAlpha is the default alpha.
	LoraAlpha float64
	// LoraDropout is the dropout on the adapter input during training (ignored at inference).
	LoraDropout float64
	// TargetModules lists module-name suffixes ("q_proj"); a module is targeted when its name
	// equals an entry or ends with "." + entry. Empty when TargetRegex is used.
	TargetModules []string
	// TargetRegex is target_modules given as a string: a regex the whole module name must
	// match, or AllLinear.
	TargetRegex string
	// ExcludeModules lists module-name suffixes that target_modules must not select (PEFT's
	// exclude_modules as a list); ExcludeRegex is the string form, matched against the whole name.
	ExcludeModules []string
	ExcludeRegex   string
	// UseRSLoRA selects scale alpha/sqrt(r) instead of alpha/r.
	UseRSLoRA bool
	// Bias is PEFT's bias setting; only "none" is supported.
	Bias string
	// BaseModelNameOrPath names the base model the adapter was trained on.
	BaseModelNameOrPath string
	// RankPattern and AlphaPattern are the per-module overrides, in file order.
	RankPattern  []RankOverride
	AlphaPattern []AlphaOverride

	rankRes   []*regexp.Regexp
	alphaRes  []*regexp.Regexp
	targetRe  *regexp.Regexp
	excludeRe *regexp.Regexp
}

// maxConfigSize caps adapter_config.json.
const maxConfigSize = 4 << 20

// maxRank caps r so a hostile config cannot make an engine allocate without bound.
const maxRank = 1 << 16

// ParseConfig parses and validates adapter_config.json.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d byte limit: %w", ConfigFile, len(data), maxConfigSize, ErrInvalid)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object: %v: %w", ConfigFile, err, ErrInvalid)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: unexpected data after the JSON object: %w", ConfigFile, ErrInvalid)
	}
	get := func(key string, dst any) error {
		v, ok := raw[key]
		if !ok || string(bytes.TrimSpace(v)) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s: %s: want %s, found %s: %w", ConfigFile, key, kindOf(dst), short(v), ErrInvalid)
		}
		return nil
	}
	c := &Config{PeftType: "LORA", R: 8, LoraAlpha: 8, Bias: "none"}
	var useDoRA, fanInFanOut bool
	var modulesToSave, layersToTransform, layersPattern, loraBias, targets, exclude any
	var layerReplication, targetParameters, trainableTokens any
	var r float64 = 8
	for _, f := range []struct {
		key string
		dst any
	}{
		{"peft_type", &c.PeftType}, {"task_type", &c.TaskType}, {"r", &r}, {"lora_alpha", &c.LoraAlpha},
		{"lora_dropout", &c.LoraDropout}, {"use_rslora", &c.UseRSLoRA}, {"bias", &c.Bias},
		{"base_model_name_or_path", &c.BaseModelNameOrPath}, {"use_dora", &useDoRA},
		{"fan_in_fan_out", &fanInFanOut}, {"modules_to_save", &modulesToSave},
		{"layers_to_transform", &layersToTransform}, {"layers_pattern", &layersPattern},
		{"lora_bias", &loraBias}, {"target_modules", &targets}, {"exclude_modules", &exclude},
		{"layer_replication", &layerReplication}, {"target_parameters", &targetParameters},
		{"trainable_token_indices", &trainableTokens},
	} {
		if err := get(f.key, f.dst); err != nil {
			return nil, err
		}
	}
	unsupported := func(key, why string) error {
		return fmt.Errorf("%s: %s: %s: %w", ConfigFile, key, why, ErrUnsupported)
	}
	switch {
	case c.PeftType != "LORA":
		return nil, unsupported("peft_type", fmt.Sprintf("%q is not supported (want LORA)", c.PeftType))
	case useDoRA:
		return nil, unsupported("use_dora", "DoRA adapters are not supported")
	case fanInFanOut:
		return nil, unsupported("fan_in_fan_out", "Conv1D-style (fan_in_fan_out) adapters are not supported")
	case c.Bias != "none":
		return nil, unsupported("bias", fmt.Sprintf("%q is not supported (want none)", c.Bias))
	case notEmpty(modulesToSave):
		return nil, unsupported("modules_to_save", "fully trained extra modules are not supported")
	case notEmpty(layersToTransform) || notEmpty(layersPattern):
		return nil, unsupported("layers_to_transform", "restricting LoRA to some layers is not supported")
	case loraBias == true:
		return nil, unsupported("lora_bias", "LoRA biases are not supported")
	case notEmpty(layerReplication):
		return nil, unsupported("layer_replication", "replicated layers are not supported")
	case notEmpty(targetParameters):
		return nil, unsupported("target_parameters", "LoRA on parameters (not modules) is not supported")
	case notEmpty(trainableTokens):
		return nil, unsupported("trainable_token_indices", "trainable tokens are not supported")
	}
	switch t := exclude.(type) {
	case nil:
	case string:
		c.ExcludeRegex = t
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("%s: exclude_modules: want non-empty strings, found %v: %w", ConfigFile, e, ErrInvalid)
			}
			c.ExcludeModules = append(c.ExcludeModules, s)
		}
	default:
		return nil, fmt.Errorf("%s: exclude_modules: want a list of module names or a regex, found %s: %w", ConfigFile, short(raw["exclude_modules"]), ErrInvalid)
	}
	if r != math.Trunc(r) || r < 1 || r > maxRank {
		return nil, fmt.Errorf("%s: r: want an integer in [1, %d], found %v: %w", ConfigFile, maxRank, r, ErrInvalid)
	}
	c.R = int(r)
	if math.IsNaN(c.LoraAlpha) || math.IsInf(c.LoraAlpha, 0) {
		return nil, fmt.Errorf("%s: lora_alpha: want a finite number, found %v: %w", ConfigFile, c.LoraAlpha, ErrInvalid)
	}
	if !(c.LoraDropout >= 0 && c.LoraDropout < 1) {
		return nil, fmt.Errorf("%s: lora_dropout: want a value in [0, 1), found %v: %w", ConfigFile, c.LoraDropout, ErrInvalid)
	}
	switch t := targets.(type) {
	case nil:
		return nil, fmt.Errorf("%s: target_modules: missing; want a list of module names or a regex: %w", ConfigFile, ErrInvalid)
	case string:
		c.TargetRegex = t
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("%s: target_modules: want non-empty strings, found %v: %w", ConfigFile, e, ErrInvalid)
			}
			c.TargetModules = append(c.TargetModules, s)
		}
		if len(c.TargetModules) == 0 {
			return nil, fmt.Errorf("%s: target_modules: empty list: %w", ConfigFile, ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("%s: target_modules: want a list of module names or a regex, found %s: %w", ConfigFile, short(raw["target_modules"]), ErrInvalid)
	}
	var err error
	if c.RankPattern, err = orderedPattern(raw["rank_pattern"], "rank_pattern", func(f float64) (int, error) {
		if f != math.Trunc(f) || f < 1 || f > maxRank {
			return 0, fmt.Errorf("want an integer rank in [1, %d], found %v", maxRank, f)
		}
		return int(f), nil
	}, func(k string, v int) RankOverride { return RankOverride{k, v} }); err != nil {
		return nil, err
	}
	if c.AlphaPattern, err = orderedPattern(raw["alpha_pattern"], "alpha_pattern", func(f float64) (float64, error) {
		return f, nil
	}, func(k string, v float64) AlphaOverride { return AlphaOverride{k, v} }); err != nil {
		return nil, err
	}
	if err := c.compile(); err != nil {
		return nil, err
	}
	return c, nil
}

// compile prepares the regexes of target_modules, rank_pattern and alpha_pattern.
func (c *Config) compile() error {
	c.rankRes, c.alphaRes, c.targetRe, c.excludeRe = nil, nil, nil, nil
	for _, p := range c.RankPattern {
		re, err := patternRegexp(p.Key)
		if err != nil {
			return fmt.Errorf("%s: rank_pattern key %q: %v: %w", ConfigFile, p.Key, err, ErrInvalid)
		}
		c.rankRes = append(c.rankRes, re)
	}
	for _, p := range c.AlphaPattern {
		re, err := patternRegexp(p.Key)
		if err != nil {
			return fmt.Errorf("%s: alpha_pattern key %q: %v: %w", ConfigFile, p.Key, err, ErrInvalid)
		}
		c.alphaRes = append(c.alphaRes, re)
	}
	if c.TargetRegex != "" && c.TargetRegex != AllLinear {
		re, err := regexp.Compile(`^(?:` + c.TargetRegex + `)$`)
		if err != nil {
			return fmt.Errorf("%s: target_modules regex %q: %v: %w", ConfigFile, c.TargetRegex, err, ErrInvalid)
		}
		c.targetRe = re
	}
	if c.ExcludeRegex != "" {
		re, err := regexp.Compile(`^(?:` + c.ExcludeRegex + `)$`)
		if err != nil {
			return fmt.Errorf("%s: exclude_modules regex %q: %v: %w", ConfigFile, c.ExcludeRegex, err, ErrInvalid)
		}
		c.excludeRe = re
	}
	return nil
}

// patternRegexp is PEFT's get_pattern_key match: re.match(rf"(.*\.)?({key})$", name).
func patternRegexp(key string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`)
}

// orderedPattern decodes a JSON object keeping its key order (PEFT uses the first match).
func orderedPattern[V, O any](raw json.RawMessage, field string, conv func(float64) (V, error), mk func(string, V) O) ([]O, error) {
	if raw == nil || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: %s: want an object of module pattern -> value, found %s: %w", ConfigFile, field, short(raw), ErrInvalid)
	}
	var out []O
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v: %w", ConfigFile, field, err, ErrInvalid)
		}
		key := tok.(string) // object keys are always strings
		var f float64
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %s[%q]: want a number: %v: %w", ConfigFile, field, key, err, ErrInvalid)
		}
		v, err := conv(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %s[%q]: %v: %w", ConfigFile, field, key, err, ErrInvalid)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: %s: key %q given twice: %w", ConfigFile, field, key, ErrInvalid)
		}
		seen[key] = true
		out = append(out, mk(key, v))
	}
	return out, nil
}

func notEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case []any:
		return len(t) > 0
	case string:
		return t != ""
	case map[string]any:
		return len(t) > 0
	}
	return true
}

func kindOf(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *bool:
		return "true or false"
	case *float64, *int:
		return "a number"
	}
	return "a valid value"
}

func short(v json.RawMessage) string {
	s := strings.TrimSpace(string(v))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// Targets reports whether target_modules selects the module (a full name such as
// "model.layers.0.self_attn.q_proj") and exclude_modules does not, with PEFT's rules.
func (c *Config) Targets(module string) bool {
	if c.excluded(module) {
		return false
	}
	if c.TargetRegex == AllLinear {
		_, kind := splitModule(module)
		return isProjection(kind)
	}
	if c.TargetRegex != "" {
		if c.targetRe == nil {
			if err := c.compile(); err != nil {
				return false
			}
		}
		return c.targetRe.MatchString(module)
	}
	for _, t := range c.TargetModules {
		if module == t || strings.HasSuffix(module, "."+t) {
			return true
		}
	}
	return false
}

func (c *Config) excluded(module string) bool {
	if c.ExcludeRegex != "" {
		if c.excludeRe == nil {
			if err := c.compile(); err != nil {
				return false
			}
		}
		return c.excludeRe.MatchString(module)
	}
	for _, t := range c.ExcludeModules {
		if module == t || strings.HasSuffix(module, "."+t) {
			return true
		}
	}
	return false
}

// RankFor returns the module's rank: the first matching rank_pattern entry, else R.
func (c *Config) RankFor(module string) int {
	if len(c.rankRes) != len(c.RankPattern) {
		if err := c.compile(); err != nil {
			return c.R
		}
	}
	for i, re := range c.rankRes {
		if re.MatchString(module) {
			return c.RankPattern[i].Rank
		}
	}
	return c.R
}

// AlphaFor returns the module's alpha: the first matching alpha_pattern entry, else LoraAlpha.
func (c *Config) AlphaFor(module string) float64 {
	if len(c.alphaRes) != len(c.AlphaPattern) {
		if err := c.compile(); err != nil {
			return c.LoraAlpha
		}
	}
	for i, re := range c.alphaRes {
		if re.MatchString(module) {
			return c.AlphaPattern[i].Alpha
		}
	}
	return c.LoraAlpha
}

// Scale returns the LoRA scale of a module of the given rank: alpha/r, or alpha/sqrt(r) with
// rsLoRA, alpha from AlphaFor.
func (c *Config) Scale(module string, rank int) float64 {
	alpha := c.AlphaFor(module)
	if c.UseRSLoRA {
		return alpha / math.Sqrt(float64(rank))
	}
	return alpha / float64(rank)
}
