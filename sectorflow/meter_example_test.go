package sectorflow_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
)

func ExampleMemoryMeter() {
	ctx := context.Background()
	m := sectorflow.NewMemoryMeter()
	u := sectorflow.Usage{ID: "req-1", Tenant: "acme", Kind: sectorflow.UsageInference,
		Model: "llama-3.2-1b", PromptTokens: 412, CompletionTokens: 128, ComputeTime: 900 * time.Millisecond}
	_ = m.Record(ctx, u)
	_ = m.Record(ctx, u) // a retry is not billed twice
	fmt.Printf("%+v\n", m.Totals("acme"))
	// Output:
	// {Jobs:0 Requests:1 PromptTokens:412 CompletionTokens:128 TrainedTokens:0 ComputeTime:900ms}
}

func ExampleOpenJSONLMeter() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "usage")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "usage.jsonl")
	m, err := sectorflow.OpenJSONLMeter(ctx, path, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = m.Record(ctx, sectorflow.Usage{ID: "job-7", Tenant: "acme", Kind: sectorflow.UsageTraining,
		Model: "llama-3.2-1b", TrainedTokens: 47616000, Outcome: sectorflow.OutcomeCancelled})
	if err != nil {
		fmt.Println(err)
	}
	m.Close()

	f, err := os.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for u, err := range sectorflow.ReadUsageLog(f) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(u.Tenant, u.Kind, u.ID, u.TrainedTokens, u.Outcome)
	}
	// Output:
	// acme training job-7 47616000 cancelled
}
