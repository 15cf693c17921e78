package sectorflow_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sectorflow/sdk/sectorflow"
)

// ExampleTuner fine-tunes a LoRA adapter on a chat dataset and follows its progress.
func ExampleTuner() {
	tuner, err := sectorflow.NewTuner("testdata/models/llama", nil)
	if err != nil {
		log.Fatal(err)
	}
	job, err := tuner.Tune(context.Background(), "train.jsonl", "adapter-out", &sectorflow.TuneOptions{
		Rank: 16, Targets: []string{"all-linear"}, Epochs: 3, LearningRate: 1e-3, CheckpointEvery: 50,
	})
	if err != nil {
		log.Fatal(err)
	}
	for e, err := range job.Events() {
		if err != nil {
			log.Fatal(err) // a *tuning.DatasetError lists every bad line
		}
		if e.Kind == "step" {
			fmt.Printf("step %d/%d loss %.3f\n", e.Step, e.TotalSteps, e.Loss)
		}
	}
	res, _ := job.Wait(context.Background())
	fmt.Println("adapter in", res.AdapterDir)
}
