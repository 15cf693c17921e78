package model

import "testing"

func TestParsePrecision(t *testing.T) {
	for in, want := range map[string]bool{"": false, "float32": false, "FP32": false, "f32": false, " bfloat16 ": true, "BF16": true} {
		got, err := ParsePrecision(in)
		if err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v, nil", in, got, err, want)
		}
	}
	for _, in := range []string{"float16", "half", "auto", "bf8"} {
		if _, err := ParsePrecision(in); err == nil || err.Error() != `precision "`+in+`": want float32 or bfloat16` {
			t.Errorf("ParsePrecision(%q) error = %v", in, err)
		}
	}
}
