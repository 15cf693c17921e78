package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
)

// TestLoadStreamingTwoAdapters sends 64 concurrent streaming chats over loopback, spread over
// the base model and two fine-tuned adapters, and checks that every stream completes with exactly
// the text the same request gets alone (greedy decoding is batch-invariant), so no stream is cut
// or mixed with another. It logs the throughput recorded in BENCHMARKS.md.
func TestLoadStreamingTwoAdapters(t *testing.T) {
	const concurrent = 64
	maxTokens := 16
	if raceEnabled {
		maxTokens = 4
	}
	r := start(t, &Options{MaxBatch: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	alice := r.client("sk-alice-0001")

	// Two adapters, trained on different data so that they answer differently.
	var models []string
	for i, data := range []string{trainingData(8), `{"prompt": "x", "completion": "yyyy zzzz"}` + "\n"} {
		f := uploadFile(t, alice, data)
		job := createJob(t, alice, f.ID, 2, 4, option.WithJSONSet(hyper("learning_rate_multiplier"), 50),
			option.WithJSONSet("suffix", fmt.Sprintf("load%d", i)))
		done := waitJob(t, alice, job.ID, 2*time.Minute, "succeeded", "failed")
		require.Equal(t, "succeeded", string(done.Status), "%+v", done.Error)
		models = append(models, done.FineTunedModel)
	}
	models = append(models, "llama")
	prompts := []string{"What is code 1?", "Tell me about the sea", "x", "Count: one, two,"}

	params := func(model, prompt string) openai.ChatCompletionNewParams {
		p := chatParams(model, prompt, int64(maxTokens))
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		return p
	}
	ignoreEOS := option.WithJSONSet("ignore_eos", true)
	// References: each request alone.
	want := map[[2]string]string{}
	seqStart := time.Now()
	for _, m := range models {
		for _, p := range prompts {
			res, err := alice.Chat.Completions.New(ctx, chatParams(m, p, int64(maxTokens)), ignoreEOS)
			require.NoError(t, err)
			want[[2]string{m, p}] = res.Choices[0].Message.Content
		}
	}
	seq := time.Since(seqStart)
	t.Logf("sequential: %d requests one at a time, %d tokens each, in %v: %.1f tokens/s",
		len(want), maxTokens, seq.Round(time.Millisecond), float64(len(want)*maxTokens)/seq.Seconds())
	require.NotEqual(t, want[[2]string{models[0], prompts[0]}], want[[2]string{models[1], prompts[0]}], "the adapters differ")

	type outcome struct {
		model, prompt, text, finish string
		usage                       int64
		err                         error
	}
	results := make([]outcome, concurrent)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := outcome{model: models[i%len(models)], prompt: prompts[(i/len(models))%len(prompts)]}
			stream := alice.Chat.Completions.NewStreaming(ctx, params(o.model, o.prompt), ignoreEOS)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			o.err = stream.Err()
			if o.err == nil && len(acc.Choices) == 1 {
				o.text, o.finish, o.usage = acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, acc.Usage.CompletionTokens
			}
			results[i] = o
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	var tokens int64
	for i, o := range results {
		require.NoError(t, o.err, "request %d", i)
		require.Equal(t, "length", o.finish, "request %d", i)
		require.EqualValues(t, maxTokens, o.usage, "request %d", i)
		require.Equal(t, want[[2]string{o.model, o.prompt}], o.text, "request %d (%s, %q) differs from the same request alone", i, o.model, o.prompt)
		tokens += o.usage
	}
	t.Logf("load: %d concurrent streams (3 models: base + 2 adapters), %d tokens each, %d completion tokens in %v: %.1f tokens/s, %.2f requests/s",
		concurrent, maxTokens, tokens, elapsed.Round(time.Millisecond), float64(tokens)/elapsed.Seconds(), float64(concurrent)/elapsed.Seconds())
}
