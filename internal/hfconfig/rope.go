package hfconfig

import (
	"fmt"
	"math"
	"strings"
)

// Rope types.
const (
	RopeDefault = "default"
	RopeLinear  = "linear"
	RopeLlama3  = "llama3"
)

var supportedRopeTypes = []string{RopeDefault, RopeLinear, RopeLlama3}

func (c *Config) parseRope(o object) error {
	// transformers v5 keeps everything in rope_parameters; v4 has rope_theta at the top level
	// and the scaling in rope_scaling (rope_type, or the legacy "type").
	params, hasParams, err := o.object("rope_parameters")
	if err != nil {
		return err
	}
	scaling, hasScaling, err := o.object("rope_scaling")
	if err != nil {
		return err
	}
	// transformers v5 may key rope_parameters by layer type; these architectures use one RoPE
	// for every layer, so the two entries must agree.
	if full, ok, err := params.objectIfPresent("full_attention"); err != nil {
		return err
	} else if ok {
		if sliding, ok, err := params.objectIfPresent("sliding_attention"); err != nil {
			return err
		} else if ok && !sameJSON(full, sliding) {
			return &ConfigError{Field: "rope_parameters", Err: ErrUnsupported,
				Reason: "different RoPE parameters for full and sliding attention layers are not supported"}
		}
		params = full
	}
	src, field := object{}, ""
	switch {
	case hasParams && len(params.m) > 0:
		src, field = params, "rope_parameters"
	case hasScaling && len(scaling.m) > 0:
		src, field = scaling, "rope_scaling"
	}
	for _, obj := range []struct {
		o     object
		field string
	}{{o, "partial_rotary_factor"}, {src, field + ".partial_rotary_factor"}} {
		if obj.o.m == nil {
			continue
		}
		if f, ok, err := obj.o.number("partial_rotary_factor"); err != nil {
			return err
		} else if ok && f != 1 {
			return &ConfigError{Field: obj.field, Err: ErrUnsupported,
				Reason: fmt.Sprintf("partial rotary embeddings (factor %v) are not supported (want 1)", f)}
		}
	}
	// rope_theta: the first non-zero of the top level, rope_parameters, rope_scaling; else 10000.
	c.Rope.Theta = 10000
	for _, obj := range []struct {
		o  object
		ok bool
	}{{o, true}, {params, hasParams}, {scaling, hasScaling}} {
		if !obj.ok {
			continue
		}
		theta, ok, err := obj.o.number("rope_theta")
		if err != nil {
			return err
		}
		if ok && theta != 0 {
			c.Rope.Theta = theta
			break
		}
	}
	if !(c.Rope.Theta > 0) || math.IsInf(c.Rope.Theta, 0) {
		return fieldErr("rope_theta", "want a positive number, found %v", c.Rope.Theta)
	}
	c.Rope.Type = RopeDefault
	if field == "" {
		return nil
	}
	typeKey := "rope_type"
	t, ok, err := src.str(typeKey)
	if err != nil {
		return err
	}
	if !ok {
		typeKey = "type"
		if t, ok, err = src.str(typeKey); err != nil {
			return err
		}
	}
	if ok {
		c.Rope.Type = t
	}
	need := func(key string) (float64, error) {
		v, ok, err := src.number(key)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fieldErr(field+"."+key, "missing; rope type %q needs it", c.Rope.Type)
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return 0, fieldErr(field+"."+key, "want a positive number, found %v", v)
		}
		return v, nil
	}
	switch c.Rope.Type {
	case RopeDefault:
	case RopeLinear:
		if c.Rope.Factor, err = need("factor"); err != nil {
			return err
		}
	case RopeLlama3:
		if c.Rope.Factor, err = need("factor"); err != nil {
			return err
		}
		if c.Rope.LowFreqFactor, err = need("low_freq_factor"); err != nil {
			return err
		}
		if c.Rope.HighFreqFactor, err = need("high_freq_factor"); err != nil {
			return err
		}
		orig, err := need("original_max_position_embeddings")
		if err != nil {
			return err
		}
		if orig != math.Trunc(orig) || orig > 1<<30 {
			return fieldErr(field+".original_max_position_embeddings", "want an integer, found %v", orig)
		}
		c.Rope.OriginalMaxPositionEmbeddings = int(orig)
		if c.Rope.HighFreqFactor <= c.Rope.LowFreqFactor {
			return fieldErr(field+".high_freq_factor", "must be greater than low_freq_factor (%v), found %v", c.Rope.LowFreqFactor, c.Rope.HighFreqFactor)
		}
	default:
		return &ConfigError{Field: field + "." + typeKey, Err: ErrUnsupported,
			Reason: fmt.Sprintf("rope type %q is not supported (supported: %s)", c.Rope.Type, strings.Join(supportedRopeTypes, ", "))}
	}
	return nil
}

// f32 rounds to float32; every step below goes through it so that the result is the one
// PyTorch's float32 kernels produce, with no fused or extended-precision intermediate.
func f32(x float64) float32 { return float32(x) }

// RopeInvFreq returns the HeadDim/2 rotary inverse frequencies exactly as transformers computes
// them in float32 (modeling_rope_utils): inv[i] = 1 / theta^(float32(2i)/float32(head_dim)),
// then the linear or llama3 scaling. PyTorch evaluates `scalar / tensor` as
// reciprocal(tensor) * scalar, which the llama3 branch reproduces. Every step is exact except
// theta^x: it is rounded correctly here, while PyTorch's vectorized CPU powf (Sleef, 1-ULP
// accurate) lands one ULP away for about 1% of (theta, head_dim, i) combinations, a relative
// difference of 6e-8 in that frequency.
func (c *Config) RopeInvFreq() []float32 {
	hd := c.HeadDim
	theta := float64(f32(c.Rope.Theta))
	inv := make([]float32, hd/2)
	for i := range inv {
		exp := f32(float64(float32(2*i)) / float64(float32(hd)))
		p := f32(math.Pow(theta, float64(exp)))
		inv[i] = f32(1 / float64(p))
	}
	switch c.Rope.Type {
	case RopeLinear:
		factor := float64(f32(c.Rope.Factor))
		for i := range inv {
			inv[i] = f32(float64(inv[i]) / factor)
		}
	case RopeLlama3:
		factor := float64(f32(c.Rope.Factor))
		lo := float64(f32(c.Rope.LowFreqFactor))
		old := float64(c.Rope.OriginalMaxPositionEmbeddings)
		loWavelen := float64(f32(old / c.Rope.LowFreqFactor))
		hiWavelen := float64(f32(old / c.Rope.HighFreqFactor))
		twoPi := float64(f32(2 * math.Pi))
		oldF := float64(f32(old))
		span := float64(f32(c.Rope.HighFreqFactor - c.Rope.LowFreqFactor))
		for i, v := range inv {
			wavelen := float64(f32(float64(f32(1/float64(v))) * twoPi))
			scaled := float64(v)
			if wavelen > loWavelen {
				scaled = float64(f32(float64(v) / factor))
			}
			if wavelen < hiWavelen || wavelen > loWavelen {
				inv[i] = float32(scaled)
				continue
			}
			// Medium frequencies: (1 - s) * inv / factor + s * inv, s from the wavelength.
			s := float64(f32(float64(f32(float64(f32(1/wavelen))*oldF)) - lo))
			s = float64(f32(s / span))
			a := float64(f32(float64(f32(1-s)) * scaled))
			a = float64(f32(a / factor))
			b := float64(f32(s * scaled))
			inv[i] = f32(a + b)
		}
	}
	return inv
}
