// Command server starts the OpenAI-compatible server with two tenants' API keys and calls it
// with the official OpenAI Go client (github.com/openai/openai-go/v3): it lists models, asks
// for a chat completion, streams another with usage, and shows that one tenant cannot see
// another's files.
//
//	go run ./examples/server             # from the repository root
//
// The same server runs from the command line as
//
//	sectorflow serve --model DIR --data DIR --keys keys.txt
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/sectorflow/server"
)

func main() {
	model := flag.String("model", "testdata/models/llama", "base model directory (Hugging Face layout)")
	flag.Parse()
	if err := run(context.Background(), *model, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "server example:", err)
		os.Exit(1)
	}
}

// keysFile is what --keys FILE holds: "API-KEY TENANT [admin]" per line.
const keysFile = `sk-acme-example-key acme
sk-globex-example-key globex
`

func run(ctx context.Context, modelDir string, out io.Writer) error {
	keys, err := server.ParseKeys(strings.NewReader(keysFile))
	if err != nil {
		return err
	}
	meter := sectorflow.NewMemoryMeter()
	srv, err := server.New(ctx, modelDir, &server.Options{Keys: keys, Meter: meter})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Shutdown(ctx)
		return err
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	defer func() { stop(); <-done }()
	baseURL := "http://" + ln.Addr().String() + "/v1/"

	acme := openai.NewClient(option.WithBaseURL(baseURL), option.WithAPIKey("sk-acme-example-key"))
	globex := openai.NewClient(option.WithBaseURL(baseURL), option.WithAPIKey("sk-globex-example-key"))

	models, err := acme.Models.List(ctx)
	if err != nil {
		return err
	}
	for _, m := range models.Data {
		fmt.Fprintf(out, "model: %s (owned by %s)\n", m.ID, m.OwnedBy)
	}

	params := openai.ChatCompletionNewParams{
		Model:       "llama",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello!")},
		MaxTokens:   openai.Int(8),
		Temperature: openai.Float(0),
	}
	res, err := acme.Chat.Completions.New(ctx, params)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "chat: %q (finish %s, %d prompt + %d completion tokens)\n", res.Choices[0].Message.Content,
		res.Choices[0].FinishReason, res.Usage.PromptTokens, res.Usage.CompletionTokens)

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := acme.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	deltas := 0
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			deltas++
		}
	}
	if err := stream.Err(); err != nil {
		return err
	}
	fmt.Fprintf(out, "stream: %q in %d deltas, same as the plain call: %v, usage %d tokens\n",
		acc.Choices[0].Message.Content, deltas, acc.Choices[0].Message.Content == res.Choices[0].Message.Content, acc.Usage.TotalTokens)

	file, err := acme.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader(`{"prompt": "2+2=", "completion": "4"}`+"\n"), "math.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeFineTune,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "acme uploaded %s\n", file.Filename)
	_, err = globex.Files.Get(ctx, file.ID)
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		fmt.Fprintf(out, "globex reading acme's file: HTTP %d %s\n", apiErr.StatusCode, apiErr.Code)
	} else {
		return fmt.Errorf("globex read acme's file: expected a 404, found %v", err)
	}

	_, err = acme.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader("{\"prompt\": \"ok\", \"completion\": \"fine\"}\nnot json\n"), "bad.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeFineTune,
	})
	if errors.As(err, &apiErr) {
		fmt.Fprintf(out, "bad upload: HTTP %d: %s\n", apiErr.StatusCode, apiErr.Message)
	}
	t := meter.Totals("acme")
	fmt.Fprintf(out, "metered for acme: %d requests, %d completion tokens\n", t.Requests, t.CompletionTokens)
	return nil
}
