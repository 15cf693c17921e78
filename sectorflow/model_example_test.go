package sectorflow_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sectorflow/sdk/sectorflow"
)

// ExampleModel generates greedily from the tiny Llama checkpoint in testdata, with and without
// its LoRA adapter; the tokens are those Hugging Face transformers produces.
func ExampleModel() {
	ctx := context.Background()
	m, err := sectorflow.LoadModel(ctx, "../testdata/models/llama", &sectorflow.ModelOptions{MaxContext: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if err := m.LoadAdapter(ctx, "tuned", "../testdata/models/llama/lora"); err != nil {
		log.Fatal(err)
	}
	prompt := []int{504, 506, 450, 10, 382, 306, 258, 342, 287, 341, 63, 507, 10, 506, 391, 10}
	for _, adapter := range []string{"", "tuned"} {
		res, err := m.Generate(ctx, &sectorflow.GenerateRequest{PromptIDs: prompt, Adapter: adapter, MaxTokens: 4, IgnoreEOS: true})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.TokenIDs, res.FinishReason, res.Usage.PromptTokens, res.Usage.CompletionTokens)
	}
	// Output:
	// [345 22 286 345] length 16 4
	// [344 187 22 307] length 16 4
}
