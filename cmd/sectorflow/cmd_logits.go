package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/sectorflow/sdk/internal/model"
)

func init() {
	register(command{
		name:    "logits",
		summary: "print the float32 logits of a token sequence as JSON",
		run:     runLogits,
	})
}

func runLogits(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logits", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelDir := fs.String("model", "", "model directory (config.json + safetensors)")
	adapterDir := fs.String("adapter", "", "optional PEFT LoRA adapter directory")
	idsFlag := fs.String("ids", "", "comma-separated token ids, e.g. 1,2,3")
	precision := fs.String("precision", "float32", "float32, or bfloat16 (bf16 weights and matrix products)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow logits --model DIR [--adapter DIR] [--precision bfloat16] --ids 1,2,3")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if *modelDir == "" || *idsFlag == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError{code: 2}
	}
	ids, err := parseIDs(*idsFlag)
	if err != nil {
		return err
	}
	bf16, err := model.ParsePrecision(*precision)
	if err != nil {
		return err
	}
	m, _, err := model.Load(*modelDir, &model.Options{BF16: bf16})
	if err != nil {
		return err
	}
	defer m.Close()
	var adapter *model.Adapter
	if *adapterDir != "" {
		if adapter, err = m.LoadAdapter(*adapterDir); err != nil {
			return err
		}
	}
	logits, err := m.Logits(ctx, ids, adapter)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(struct {
		Logits [][]float32 `json:"logits"`
	}{logits})
}

// parseIDs reads "1,2,3" (spaces allowed) as int32 token ids.
func parseIDs(s string) ([]int32, error) {
	var ids []int32
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("--ids: item %d is %q, want a token id (a non-negative integer)", i+1, f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}
