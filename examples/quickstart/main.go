// Command quickstart fine-tunes a tiny model and serves it, in one process, on the pure-Go
// backend: it starts the OpenAI-compatible server on loopback, uploads a small dataset, runs a
// fine-tuning job while printing its events, then chats with the base model and with the
// fine-tuned one through the official OpenAI Go client.
//
//	go run ./examples/quickstart                 # from the repository root
//	go run ./examples/quickstart -serve          # keep serving afterwards (Ctrl-C to stop)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sectorflow/sdk/sectorflow/server"
)

// config is what the command line sets.
type config struct {
	model   string // base model directory
	epochs  int
	serve   bool // keep serving after the demo
	addr    string
	timeout time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.model, "model", "testdata/models/llama", "base model directory (Hugging Face layout)")
	flag.IntVar(&c.epochs, "epochs", 25, "training epochs over the 16 examples")
	flag.BoolVar(&c.serve, "serve", false, "keep serving after the demo, until Ctrl-C")
	flag.StringVar(&c.addr, "addr", "127.0.0.1:0", "address to serve on")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// dataset teaches the model the colours of sixteen made-up things.
func dataset() string {
	things := []string{"zorp", "blick", "fenn", "quill", "morv", "tazz", "lune", "grib",
		"wex", "plon", "sarn", "vib", "kest", "drom", "yull", "hapt"}
	colours := []string{"red", "blue", "green", "gold"}
	var b strings.Builder
	for i, t := range things {
		fmt.Fprintf(&b, `{"messages": [{"role": "user", "content": "What colour is a %s?"}, {"role": "assistant", "content": "A %s is %s."}]}`+"\n",
			t, t, colours[i%len(colours)])
	}
	return b.String()
}

func run(ctx context.Context, c config, out io.Writer) error {
	if c.addr == "" {
		c.addr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	say("loading %s and starting the OpenAI-compatible server", c.model)
	srv, err := server.New(ctx, c.model, &server.Options{CheckpointEvery: 10})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	defer func() { stopServing(); <-served }()
	base := "http://" + ln.Addr().String() + "/v1/"
	say("serving on %s (no API key needed: every call acts for tenant %q)", base, server.DefaultTenant)

	client := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey("unused"))
	file, err := client.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader(dataset()), "colours.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeFineTune,
	})
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	say("uploaded %s: %d bytes, validated", file.ID, file.Bytes)

	job, err := client.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{
		Model:        "llama",
		TrainingFile: file.ID,
		Suffix:       openai.String("colours"),
		Seed:         openai.Int(1),
		Method: openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{
			Hyperparameters: openai.SupervisedHyperparameters{
				NEpochs:                openai.SupervisedHyperparametersNEpochsUnion{OfInt: openai.Int(int64(c.epochs))},
				BatchSize:              openai.SupervisedHyperparametersBatchSizeUnion{OfInt: openai.Int(4)},
				LearningRateMultiplier: openai.SupervisedHyperparametersLearningRateMultiplierUnion{OfFloat: openai.Float(50)},
			},
		}},
	}, // LoRA rank and target modules are SectorFlow's extensions of OpenAI's hyperparameters.
		option.WithJSONSet("method.supervised.hyperparameters.lora_rank", 16),
		option.WithJSONSet("method.supervised.hyperparameters.lora_targets", "all-linear"))
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	say("created fine-tuning job %s (%s)", job.ID, job.Status)

	// Follow the job: print each new event, oldest first, until it ends.
	seen := map[string]bool{}
	for {
		page, err := client.FineTuning.Jobs.ListEvents(ctx, job.ID, openai.FineTuningJobListEventsParams{Limit: openai.Int(1000)})
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		for i := len(page.Data) - 1; i >= 0; i-- {
			if e := page.Data[i]; !seen[e.ID] {
				seen[e.ID] = true
				var step, total int
				if _, err := fmt.Sscanf(e.Message, "Step %d/%d", &step, &total); err == nil && step%10 != 0 {
					continue // every tenth step's metrics is enough
				}
				say("  job: %s", e.Message)
			}
		}
		if job, err = client.FineTuning.Jobs.Get(ctx, job.ID); err != nil {
			return fmt.Errorf("job: %w", err)
		}
		if job.Status == "succeeded" || job.Status == "failed" || job.Status == "cancelled" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if job.Status != "succeeded" {
		return fmt.Errorf("job %s ended %s: %s", job.ID, job.Status, job.Error.Message)
	}
	say("fine-tuned model %s: %d tokens trained", job.FineTunedModel, job.TrainedTokens)

	for _, q := range []string{"What colour is a zorp?", "What colour is a blick?"} {
		for _, model := range []string{"llama", job.FineTunedModel} {
			res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:       model,
				Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q)},
				MaxTokens:   openai.Int(12),
				Temperature: openai.Float(0),
			})
			if err != nil {
				return fmt.Errorf("chat: %w", err)
			}
			say("%-40s %q -> %q", model, q, res.Choices[0].Message.Content)
		}
	}
	if c.serve {
		say("still serving on %s; try:\n  curl %schat/completions -d '{\"model\": %q, \"messages\": [{\"role\": \"user\", \"content\": \"What colour is a zorp?\"}]}'",
			base, base, job.FineTunedModel)
		<-ctx.Done()
	}
	say("done")
	return nil
}
