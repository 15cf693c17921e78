package model_test

import (
	"context"
	"fmt"

	"github.com/sectorflow/sdk/internal/model"
)

// Load a checkpoint with its LoRA adapter and take the most likely next token after a prompt.
func ExampleModel_Logits() {
	m, _, err := model.Load("../../testdata/models/llama", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	adapter, err := m.LoadAdapter("../../testdata/models/llama/lora")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := []int32{504, 506, 450, 10, 382, 306, 258, 342, 287, 341, 63, 507, 10, 506, 391, 10}
	for _, a := range []*model.Adapter{nil, adapter} {
		logits, err := m.Logits(context.Background(), ids, a)
		if err != nil {
			fmt.Println(err)
			return
		}
		last := logits[len(logits)-1]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		fmt.Println("next token:", best)
	}
	// Output:
	// next token: 345
	// next token: 344
}
