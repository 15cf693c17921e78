package inference_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sectorflow/sdk/inference"
)

// ExampleEngine_Stream streams a greedy continuation of the tiny Qwen2 checkpoint in testdata;
// the last chunk carries the finish reason and the usage.
func ExampleEngine_Stream() {
	ctx := context.Background()
	eng, err := inference.Load(ctx, "../testdata/models/qwen2", &inference.Options{MaxContext: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	var ids []int
	for chunk, err := range eng.Stream(ctx, &inference.Request{Prompt: "Hello", MaxTokens: 5, IgnoreEOS: true}) {
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, chunk.TokenIDs...)
		if chunk.FinishReason != "" {
			fmt.Println(len(ids), chunk.FinishReason, chunk.Usage.CompletionTokens)
		}
	}
	// Output:
	// 5 length 5
}
