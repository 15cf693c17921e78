package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sectorflow/sdk/tuning"
)

func init() {
	register(command{
		name:    "merge",
		summary: "fold a LoRA adapter into its base model (plain Hugging Face checkpoint out)",
		run:     runMerge,
	})
}

func runMerge(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelDir := fs.String("model", "", "base model directory (Hugging Face layout)")
	adapterDir := fs.String("adapter", "", "PEFT LoRA adapter directory")
	out := fs.String("out", "", "output directory for the merged checkpoint")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow merge --model DIR --adapter DIR --out DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if *modelDir == "" || *adapterDir == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError{code: 2}
	}
	if err := tuning.Merge(ctx, *modelDir, *adapterDir, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged checkpoint written to %s\n", *out)
	return nil
}
