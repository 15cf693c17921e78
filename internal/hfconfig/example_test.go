package hfconfig_test

import (
	"fmt"

	"github.com/sectorflow/sdk/internal/hfconfig"
)

// Load a model's config.json with every default resolved.
func ExampleLoad() {
	c, err := hfconfig.Load("../../testdata/models/qwen3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Architecture, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.Rope.Type, c.TieWordEmbeddings)
	fmt.Println(c.RopeInvFreq()[:2])
	// Output:
	// Qwen3ForCausalLM 2 4 2 32 default true
	// [1 0.4216965]
}
