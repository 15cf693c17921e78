package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sectorflow/sdk/sectorflow"
)

func init() {
	register(command{
		name:    "chat",
		summary: "chat with a model on stdin/stdout through its chat template",
		run:     runChat,
	})
}

// runChat reads one user message per line of stdin and streams each reply to stdout, keeping the
// conversation. "/reset" starts a new conversation and "/exit" (or end of input) quits.
func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	g := newGenFlags("chat", stderr)
	system := g.fs.String("system", "", "an optional system message that starts every conversation")
	g.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow chat --model DIR [--adapter DIR] [--system TEXT] [flags]")
		fmt.Fprintln(stderr, "One user message per line; /reset starts over, /exit quits.")
		g.fs.PrintDefaults()
	}
	if err := g.fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if g.model == "" || g.fs.NArg() != 0 {
		g.fs.Usage()
		return exitError{code: 2}
	}
	req, err := g.request()
	if err != nil {
		return err
	}
	m, err := g.load(ctx)
	if err != nil {
		return err
	}
	defer m.Close()

	var history []sectorflow.ChatMessage
	reset := func() {
		history = history[:0]
		if *system != "" {
			history = append(history, sectorflow.ChatMessage{Role: "system", Content: *system})
		}
	}
	reset()
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for {
		fmt.Fprint(stderr, "> ")
		if !in.Scan() {
			fmt.Fprintln(stderr)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/reset":
			reset()
			continue
		}
		history = append(history, sectorflow.ChatMessage{Role: "user", Content: line})
		var reply strings.Builder
		for c, err := range m.ChatStream(ctx, history, req) {
			if err != nil {
				fmt.Fprintln(stdout)
				return err
			}
			reply.WriteString(c.Text)
			if _, err := io.WriteString(stdout, c.Text); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout)
		history = append(history, sectorflow.ChatMessage{Role: "assistant", Content: reply.String()})
	}
}
