package safetensors_test

import (
	"fmt"

	"github.com/sectorflow/sdk/internal/safetensors"
)

// Open a Hugging Face checkpoint directory and read one tensor as float32.
func ExampleOpenDir() {
	ckpt, err := safetensors.OpenDir("../../testdata/models/llama_bf16")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ckpt.Close()
	info, _ := ckpt.Info("model.norm.weight")
	values, err := ckpt.Float32("model.norm.weight")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(ckpt.Names()), info.DType, info.Shape, values[0])
	// Output: 21 BF16 [64] 1.078125
}
