package peft_test

import (
	"fmt"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/peft"
)

// Load a PEFT adapter and check it against the model it is for.
func ExampleLoad() {
	model, err := hfconfig.Load("../../testdata/models/mistral")
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := peft.Load("../../testdata/models/mistral/lora")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := a.Validate(model); err != nil {
		fmt.Println(err)
		return
	}
	m := a.Modules[0]
	fmt.Println(len(a.Modules), m.Name, m.Rank, m.In, m.Out, m.Scale)
	// Output: 14 model.layers.0.self_attn.q_proj 4 64 64 2
}
