package safetensors

import (
	"fmt"
	"math"
)

// DType is a safetensors element type as spelled in the header ("F32", "BF16", ...).
type DType string

// The element types this package understands. F32, F16 and BF16 can be read and written; F64,
// I64 and I32 can be read (and written as raw bytes).
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
)

// Size returns the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// Valid reports whether d is one of the supported element types.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating point type.
func (d DType) IsFloat() bool {
	return d == F64 || d == F32 || d == F16 || d == BF16
}

// supportedDTypes lists the dtypes in error messages.
const supportedDTypes = "F64, F32, F16, BF16, I64, I32"

// BFloat16ToFloat32 converts bfloat16 bits to float32 (exact).
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32ToBFloat16 rounds a float32 to the nearest bfloat16 (ties to even), as PyTorch does.
// NaN stays a (quiet) NaN.
func Float32ToBFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	if f != f { // NaN: keep sign, force a quiet NaN so truncation cannot make it Inf.
		return uint16(bits>>16) | 0x0040
	}
	rounding := uint32(0x7fff) + (bits>>16)&1
	return uint16((bits + rounding) >> 16)
}

// Float16ToFloat32 converts IEEE 754 half precision bits to float32 (exact).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: value = mant * 2^-24, exactly representable in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// Float32ToFloat16 rounds a float32 to the nearest IEEE 754 half (ties to even); values beyond
// the half range become ±Inf and NaN stays NaN.
func Float32ToFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): shift the implicit-one mantissa right, rounding to even.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rest := m & ((1 << shift) - 1)
		out := m >> shift
		if rest > half || (rest == half && out&1 == 1) {
			out++
		}
		return sign | uint16(out)
	}
	out := uint32(e)<<10 | mant>>13
	rest := mant & 0x1fff
	if rest > 0x1000 || (rest == 0x1000 && out&1 == 1) {
		out++ // may carry into the exponent, which is the correct rounding (up to Inf).
	}
	return sign | uint16(out)
}

// checkDType returns an error for an unknown dtype name.
func checkDType(d DType) error {
	if !d.Valid() {
		return fmt.Errorf("dtype %q is not supported (want one of %s)", string(d), supportedDTypes)
	}
	return nil
}
