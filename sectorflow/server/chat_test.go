package server

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/sectorflow"
)

func chatParams(model, text string, maxTokens int64) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:       model,
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
		MaxTokens:   openai.Int(maxTokens),
		Temperature: openai.Float(0),
	}
}

func TestChatEndToEnd(t *testing.T) {
	meter := sectorflow.NewMemoryMeter()
	r := start(t, &Options{Meter: meter})
	ctx := context.Background()
	alice := r.client("sk-alice-0001")

	models, err := alice.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, models.Data, 1)
	require.Equal(t, "llama", models.Data[0].ID)

	// Plain: greedy, so two identical requests agree.
	p := chatParams("llama", "Hello there", 12)
	a, err := alice.Chat.Completions.New(ctx, p)
	require.NoError(t, err)
	require.Len(t, a.Choices, 1)
	require.Equal(t, "assistant", string(a.Choices[0].Message.Role))
	require.Contains(t, []string{"stop", "length"}, a.Choices[0].FinishReason)
	require.Positive(t, a.Usage.PromptTokens)
	require.Positive(t, a.Usage.CompletionTokens)
	require.LessOrEqual(t, a.Usage.CompletionTokens, int64(12))
	require.Equal(t, a.Usage.PromptTokens+a.Usage.CompletionTokens, a.Usage.TotalTokens)
	b, err := alice.Chat.Completions.New(ctx, p)
	require.NoError(t, err)
	require.Equal(t, a.Choices[0].Message.Content, b.Choices[0].Message.Content)

	// Streaming with usage: the deltas add up to the same greedy text.
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := alice.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	require.NoError(t, stream.Err())
	require.Greater(t, chunks, 2)
	require.Equal(t, a.Choices[0].Message.Content, acc.Choices[0].Message.Content)
	require.Equal(t, a.Usage.CompletionTokens, acc.Usage.CompletionTokens)
	require.Equal(t, a.Usage.PromptTokens, acc.Usage.PromptTokens)

	// n, seed and sampling: seeded requests repeat themselves.
	sp := chatParams("llama", "Tell me a story", 8)
	sp.Temperature = openai.Float(1.2)
	sp.N = openai.Int(3)
	sp.Seed = openai.Int(42)
	s1, err := alice.Chat.Completions.New(ctx, sp)
	require.NoError(t, err)
	require.Len(t, s1.Choices, 3)
	s2, err := alice.Chat.Completions.New(ctx, sp)
	require.NoError(t, err)
	for i := range 3 {
		require.EqualValues(t, i, s1.Choices[i].Index)
		require.Equal(t, s1.Choices[i].Message.Content, s2.Choices[i].Message.Content)
	}

	// Logprobs with alternatives.
	lp := chatParams("llama", "Hi", 4)
	lp.Logprobs = openai.Bool(true)
	lp.TopLogprobs = openai.Int(3)
	l, err := alice.Chat.Completions.New(ctx, lp)
	require.NoError(t, err)
	require.NotEmpty(t, l.Choices[0].Logprobs.Content)
	for _, tok := range l.Choices[0].Logprobs.Content {
		require.LessOrEqual(t, tok.Logprob, 0.0)
		require.Len(t, tok.TopLogprobs, 3)
		require.GreaterOrEqual(t, tok.TopLogprobs[0].Logprob, tok.TopLogprobs[2].Logprob)
	}

	// max_completion_tokens and a token limit beyond the context.
	mc := chatParams("llama", "Hi", 1)
	mc.MaxTokens = param0()
	mc.MaxCompletionTokens = openai.Int(3)
	m, err := alice.Chat.Completions.New(ctx, mc)
	require.NoError(t, err)
	require.LessOrEqual(t, m.Usage.CompletionTokens, int64(3))
	_, err = alice.Chat.Completions.New(ctx, chatParams("llama", "Hi", 100000))
	require.Equal(t, http.StatusBadRequest, statusOf(err))

	// Usage reached the meter, billed to alice.
	require.Eventually(t, func() bool { return len(meter.Records("alice")) >= 8 }, 5*time.Second, 10*time.Millisecond)
	for _, u := range meter.Records("alice") {
		require.Equal(t, sectorflow.UsageInference, u.Kind)
		require.Positive(t, u.PromptTokens)
	}
}

// param0 leaves max_tokens out of the request.
func param0() param.Opt[int64] { return param.Opt[int64]{} }

func TestTextCompletions(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	c, err := alice.Completions.New(ctx, openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel("llama"),
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens:   openai.Int(6),
		Temperature: openai.Float(0),
		Logprobs:    openai.Int(2),
	})
	require.NoError(t, err)
	require.Len(t, c.Choices, 1)
	require.Positive(t, c.Usage.CompletionTokens)
	require.Len(t, c.Choices[0].Logprobs.Tokens, int(c.Usage.CompletionTokens))

	stream := alice.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel("llama"),
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens:   openai.Int(6),
		Temperature: openai.Float(0),
	})
	var text strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text.WriteString(ch.Text)
		}
	}
	require.NoError(t, stream.Err())
	require.Equal(t, c.Choices[0].Text, text.String())
}

func TestStopStrings(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	base, err := alice.Completions.New(ctx, openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel("llama"), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("abc")},
		MaxTokens: openai.Int(16), Temperature: openai.Float(0),
	}, option.WithJSONSet("ignore_eos", true))
	require.NoError(t, err)
	text := base.Choices[0].Text
	require.GreaterOrEqual(t, len(text), 4, "need some text to stop in")
	stop := text[2:4]
	cut := text[:strings.Index(text, stop)]
	got, err := alice.Completions.New(ctx, openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel("llama"), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("abc")},
		MaxTokens: openai.Int(16), Temperature: openai.Float(0),
		Stop: openai.CompletionNewParamsStopUnion{OfStringArray: []string{stop}},
	}, option.WithJSONSet("ignore_eos", true))
	require.NoError(t, err)
	require.Equal(t, cut, got.Choices[0].Text)
	require.Equal(t, "stop", string(got.Choices[0].FinishReason))
}

func TestQueueFullAnswers429(t *testing.T) {
	r := start(t, &Options{MaxBatch: 1, QueueSize: 1})
	alice := r.client("sk-alice-0001")
	// A long stream holds the only batch slot.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := alice.Chat.Completions.NewStreaming(ctx, chatParams("llama", "Count to a thousand", 1800), option.WithJSONSet("ignore_eos", true))
	require.True(t, long.Next(), "%v", long.Err())
	// Of four more requests, one waits in the queue and three are refused at once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	refused := make(chan struct{}, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := alice.Chat.Completions.New(context.Background(), chatParams("llama", "Hi", 2))
			mu.Lock()
			statuses[statusOf(err)]++
			mu.Unlock()
			if statusOf(err) == http.StatusTooManyRequests {
				refused <- struct{}{}
			}
		}()
	}
	for range 3 {
		select {
		case <-refused:
		case <-time.After(time.Minute):
			t.Fatalf("expected three 429s while the slot is busy, found %v", statuses)
		}
	}
	cancel() // free the slot: the queued request runs
	for long.Next() {
	}
	long.Close()
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusTooManyRequests: 3, 0: 1}, statuses)
}

func TestClientDisconnectCancelsGeneration(t *testing.T) {
	meter := sectorflow.NewMemoryMeter()
	r := start(t, &Options{Meter: meter})
	body := `{"model": "llama", "stream": true, "max_tokens": 1500, "ignore_eos": true, "messages": [{"role": "user", "content": "go on"}]}`
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", r.url+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk-alice-0001")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	for i := 0; i < 6 && sc.Scan(); i++ { // a few events, then hang up
	}
	cancel()
	resp.Body.Close()
	require.Eventually(t, func() bool { return len(meter.Records("alice")) == 1 }, 20*time.Second, 20*time.Millisecond)
	u := meter.Records("alice")[0]
	require.Equal(t, sectorflow.OutcomeCancelled, u.Outcome)
	require.Less(t, u.CompletionTokens, int64(1500), "generation stopped when the client left")
}

func TestShutdownEndsStreamsCleanly(t *testing.T) {
	r := start(t, &Options{ShutdownGrace: 300 * time.Millisecond})
	body := `{"model": "llama", "stream": true, "max_tokens": 1800, "ignore_eos": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "go on"}]}`
	req, err := http.NewRequest("POST", r.url+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk-alice-0001")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for len(lines) < 4 && sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	stopped := make(chan struct{})
	go func() { r.stop(t); close(stopped) }()
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	<-stopped
	n := len(lines)
	require.Greater(t, n, 6)
	require.Equal(t, "data: [DONE]", lines[n-1], "the stream ends with [DONE]")
	require.Contains(t, lines[n-2], `"usage":{"prompt_tokens"`, "then the usage chunk")
	require.Contains(t, lines[n-3], `"finish_reason":"length"`, "after a final chunk")
	require.Less(t, n, 1800, "the server stopped the generation instead of waiting for it")
}

func TestStreamingSeveralChoices(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	p := chatParams("llama", "Tell me a story", 6)
	p.Temperature = openai.Float(1.5)
	p.N = openai.Int(3)
	p.Seed = openai.Int(5)
	plain, err := alice.Chat.Completions.New(ctx, p)
	require.NoError(t, err)
	stream := alice.Chat.Completions.NewStreaming(ctx, p)
	texts := make([]string, 3)
	finished := 0
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			texts[c.Index] += c.Delta.Content
			if c.FinishReason != "" {
				finished++
			}
		}
	}
	require.NoError(t, stream.Err())
	require.Equal(t, 3, finished)
	for i := range 3 {
		require.Equal(t, plain.Choices[i].Message.Content, texts[i], "choice %d", i)
	}
}
