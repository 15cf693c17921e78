package model

import (
	"fmt"
	"strings"
)

// ParsePrecision reads the compute precision the public options take: "" or "float32" (also
// "fp32", "f32") is float32 everywhere; "bfloat16" (also "bf16") sets [Options].BF16.
func ParsePrecision(s string) (bf16 bool, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "float32", "fp32", "f32":
		return false, nil
	case "bfloat16", "bf16":
		return true, nil
	}
	return false, fmt.Errorf("precision %q: want float32 or bfloat16", s)
}
