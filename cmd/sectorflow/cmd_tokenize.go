package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sectorflow/sdk/tokenize"
)

func init() {
	register(command{
		name:    "tokenize",
		summary: "encode text to token ids with a tokenizer.json (Hugging Face-identical)",
		run:     runTokenize,
	})
	register(command{
		name:    "detokenize",
		summary: "decode token ids back to text",
		run:     runDetokenize,
	})
}

// maxJSONLLine bounds one input line of --jsonl.
const maxJSONLLine = 64 << 20

func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep "<|im_start|>" readable
	return enc
}

func runTokenize(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("tokenizer", "", "model directory or tokenizer.json file (required)")
	special := fs.Bool("special", false, "add the special tokens of the post-processor (such as BOS)")
	text := fs.String("text", "", "text to encode (default: all of standard input)")
	jsonl := fs.Bool("jsonl", false, `read {"text": ...} lines from standard input, write {"ids": [...], "decoded": ...} lines`)
	offsets := fs.Bool("offsets", false, "also print the byte offsets of each token")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow tokenize --tokenizer PATH [--special] [--offsets] [--text T | --jsonl]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	tok, err := tokenize.Load(*path)
	if err != nil {
		return err
	}
	enc := newJSONEncoder(stdout)
	type result struct {
		IDs     []int    `json:"ids"`
		Offsets [][2]int `json:"offsets,omitempty"`
		Decoded *string  `json:"decoded,omitempty"`
	}
	encode := func(s string) result {
		var r result
		if *offsets {
			r.IDs, r.Offsets = tok.EncodeWithOffsets(s, *special)
		} else {
			r.IDs = tok.Encode(s, *special)
		}
		if r.IDs == nil {
			r.IDs = []int{}
		}
		return r
	}
	if !*jsonl {
		s := *text
		if !flagSet(fs, "text") {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return fmt.Errorf("read standard input: %w", err)
			}
			s = string(b)
		}
		return enc.Encode(encode(s))
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 1<<16), maxJSONLLine)
	for line := 1; sc.Scan(); line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var in struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil || in.Text == nil {
			return fmt.Errorf("standard input line %d: expected {\"text\": \"...\"}, found %.60q", line, sc.Text())
		}
		r := encode(*in.Text)
		d := tok.Decode(r.IDs, false)
		r.Decoded = &d
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func runDetokenize(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("detokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("tokenizer", "", "model directory or tokenizer.json file (required)")
	idsFlag := fs.String("ids", "", "comma-separated token ids, such as 1,2,3 (required)")
	skip := fs.Bool("skip-special", false, "leave special tokens out of the text")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow detokenize --tokenizer PATH --ids 1,2,3 [--skip-special]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if *path == "" || !flagSet(fs, "ids") || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	var ids []int
	for i, f := range strings.Split(*idsFlag, ",") {
		f = strings.TrimSpace(f)
		if f == "" && strings.TrimSpace(*idsFlag) == "" {
			break
		}
		id, err := strconv.Atoi(f)
		if err != nil || id < 0 {
			return fmt.Errorf("--ids item %d: expected a non-negative integer, found %q", i+1, f)
		}
		ids = append(ids, id)
	}
	tok, err := tokenize.Load(*path)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := tok.IDToToken(id); !ok {
			return fmt.Errorf("--ids: expected ids below %d, found unknown id %d", tok.VocabSize(), id)
		}
	}
	return newJSONEncoder(stdout).Encode(struct {
		Text string `json:"text"`
	}{tok.Decode(ids, *skip)})
}
