package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const fakeVocab = 64

// fakeRunner is a deterministic stand-in model: after a sequence whose tokens sum to s, with
// adapter weights of id a, the most likely next token is (s + 7*a) mod 64, and the logits fall
// off with distance from it. It checks that the scheduler feeds every slot contiguously.
type fakeRunner struct {
	mu       sync.Mutex
	maxBatch int
	cache    map[int][]int // slot -> tokens fed so far
	adapters map[int]int   // device slot -> adapter id
	uploads  []int         // adapter ids uploaded, in order
	steps    int           // steps run
	moves    int           // slots moved
	rowsSeen map[int]int   // slot -> rows run, for the cancellation test
	gate     chan struct{} // when set, each step waits for a value
	gateOnce sync.Once
	failOn   int                  // a token id whose presence makes the step fail (0: never)
	onStep   func(rows []stepRow) // test hook
}

func newFakeRunner(maxBatch int) *fakeRunner {
	return &fakeRunner{maxBatch: maxBatch, cache: map[int][]int{}, adapters: map[int]int{}, rowsSeen: map[int]int{}}
}

// useGate makes every step wait on the gate until the test sends values or opens it; the gate
// opens at cleanup so a failing test cannot leave the engine stuck in a step.
func (f *fakeRunner) useGate(t *testing.T) {
	f.gate = make(chan struct{})
	t.Cleanup(f.openGate)
}

func (f *fakeRunner) openGate() { f.gateOnce.Do(func() { close(f.gate) }) }

func (f *fakeRunner) step(rows []stepRow) ([][]float32, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onStep != nil {
		f.onStep(rows)
	}
	f.steps++
	out := make([][]float32, len(rows))
	for i, r := range rows {
		if r.slot < 0 || r.slot >= f.maxBatch {
			return nil, fmt.Errorf("slot %d out of range", r.slot)
		}
		f.rowsSeen[r.slot]++
		if r.pos == 0 {
			f.cache[r.slot] = nil
		}
		if r.pos != len(f.cache[r.slot]) {
			return nil, fmt.Errorf("slot %d: pos %d, cache holds %d", r.slot, r.pos, len(f.cache[r.slot]))
		}
		for _, t := range r.tokens {
			if f.failOn != 0 && t == f.failOn {
				return nil, errors.New("injected failure")
			}
		}
		f.cache[r.slot] = append(f.cache[r.slot], r.tokens...)
		out[i] = fakeLogits(f.cache[r.slot], f.adapters[r.adapter])
	}
	return out, nil
}

func fakeLogits(seq []int, adapter int) []float32 {
	s := 7 * adapter
	for _, t := range seq {
		s += t
	}
	target := s % fakeVocab
	l := make([]float32, fakeVocab)
	for i := range l {
		d := i - target
		if d < 0 {
			d = -d
		}
		l[i] = -0.5 * float32(d)
	}
	return l
}

func (f *fakeRunner) move(moves map[int]int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := map[int][]int{}
	for from := range moves {
		old[from] = f.cache[from]
		delete(f.cache, from)
	}
	for from, to := range moves {
		f.cache[to] = old[from]
		f.moves++
	}
	return nil
}

func (f *fakeRunner) setAdapter(slot int, w *adapterWeights) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w == nil {
		delete(f.adapters, slot)
		return nil
	}
	f.adapters[slot] = w.rank // tests use the rank as the adapter's id
	f.uploads = append(f.uploads, w.rank)
	return nil
}

// fakeCodec maps byte b to token b%64 and token t to the letter 'a'+t%26, or to "<|END|>"-like
// pieces for a few ids, so stop strings can span tokens.
type fakeCodec struct{}

func (fakeCodec) encode(text string) []int {
	out := make([]int, len(text))
	for i := range len(text) {
		out[i] = int(text[i]) % fakeVocab
	}
	return out
}
func (fakeCodec) newDecoder() textDecoder { return &fakeDecoder{} }

type fakeDecoder struct{}

func (*fakeDecoder) add(id int) string { return string(rune('a' + id%26)) }
func (*fakeDecoder) flush() string     { return "" }

// expectGreedy is the reference: the fake model's greedy continuation computed directly.
func expectGreedy(prompt []int, adapter, n int, ends []int) []int {
	seq := append([]int(nil), prompt...)
	var out []int
	for range n {
		s := 7 * adapter
		for _, t := range seq {
			s += t
		}
		tok := s % fakeVocab
		out = append(out, tok)
		seq = append(seq, tok)
		for _, e := range ends {
			if e == tok {
				return out
			}
		}
	}
	return out
}

func newTestEngine(t *testing.T, f *fakeRunner, opts *Options) *Engine {
	t.Helper()
	o := opts.withDefaults()
	o.MaxBatch = f.maxBatch
	e := newEngine(f, fakeCodec{}, engineSpec{vocab: fakeVocab, maxContext: 64, eos: []int{63}}, o, nil)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func TestEngineGreedyMatchesReference(t *testing.T) {
	tests := []struct {
		name   string
		req    Request
		want   []int
		reason FinishReason
	}{
		{"max tokens", Request{PromptIDs: []int{1, 2, 3}, MaxTokens: 5}, expectGreedy([]int{1, 2, 3}, 0, 5, nil), FinishLength},
		// 1 -> 1, 2, 4, 8, 16, 32, 0, ... never 63: the context (64) ends it.
		{"context length", Request{PromptIDs: []int{1}}, expectGreedy([]int{1}, 0, 63, nil), FinishLength},
		// 21 -> 21, 42, 20 (84%64), 40, 16, ...; stop token 40 ends after 4.
		{"stop token id", Request{PromptIDs: []int{21}, StopTokenIDs: []int{40}, MaxTokens: 10}, []int{21, 42, 20, 40}, FinishStop},
		// 63 - 31 = 32: prompt [31, 32] sums to 63, the EOS id.
		{"eos", Request{PromptIDs: []int{31, 32}, MaxTokens: 10}, []int{63}, FinishStop},
		{"ignore eos", Request{PromptIDs: []int{31, 32}, MaxTokens: 3, IgnoreEOS: true}, expectGreedy([]int{31, 32}, 0, 3, nil), FinishLength},
		// min tokens bans the EOS: the runner-up (62, then 61 on a tie between 62 and 0... ) wins.
		{"min tokens", Request{PromptIDs: []int{31, 32}, MaxTokens: 1, MinTokens: 1}, []int{62}, FinishLength},
	}
	f := newFakeRunner(4)
	e := newTestEngine(t, f, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Generate(t.Context(), &tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.want, res.TokenIDs)
			require.Equal(t, tt.reason, res.FinishReason)
			require.Equal(t, Usage{PromptTokens: len(tt.req.PromptIDs), CompletionTokens: len(tt.want)}, res.Usage)
		})
	}
}

func TestEngineStopStringsAcrossTokens(t *testing.T) {
	// Prompt [1] generates 1, 2, 4, 8, 16: letters b, c, e, i, q.
	tests := []struct {
		name   string
		stop   []string
		text   string
		ids    int
		reason FinishReason
	}{
		{"no stop", nil, "bceiq", 5, FinishLength},
		{"one token", []string{"e"}, "bc", 3, FinishStop},
		{"spans three tokens", []string{"cei"}, "b", 4, FinishStop},
		{"false start then length", []string{"ceX"}, "bceiq", 5, FinishLength},
		{"first of two", []string{"iq", "ei"}, "bc", 4, FinishStop},
	}
	e := newTestEngine(t, newFakeRunner(2), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var text string
			var chunks int
			var last *Chunk
			for c, err := range e.Stream(t.Context(), &Request{PromptIDs: []int{1}, MaxTokens: 5, Stop: tt.stop}) {
				require.NoError(t, err)
				text += c.Text
				chunks++
				last = c
			}
			require.Equal(t, tt.text, text)
			require.Equal(t, tt.ids, chunks)
			require.Equal(t, tt.reason, last.FinishReason)
			require.Equal(t, &Usage{PromptTokens: 1, CompletionTokens: tt.ids}, last.Usage)
		})
	}
}

func TestEngineBadInput(t *testing.T) {
	f := newFakeRunner(2)
	e := newTestEngine(t, f, nil)
	// A long request keeps running while the bad ones are rejected.
	longDone := make(chan error, 1)
	go func() {
		res, err := e.Generate(context.Background(), &Request{PromptIDs: []int{1, 2, 3}, MaxTokens: 40, IgnoreEOS: true})
		if err == nil && len(res.TokenIDs) != 40 {
			err = fmt.Errorf("got %d tokens", len(res.TokenIDs))
		}
		longDone <- err
	}()
	long := make([]int, 64)
	tests := []struct {
		name    string
		req     *Request
		is      error
		wantErr string
	}{
		{"nil", nil, ErrInvalidRequest, "request is nil"},
		{"empty prompt", &Request{}, ErrInvalidRequest, "prompt is empty"},
		{"prompt too long", &Request{PromptIDs: long}, ErrInvalidRequest, "prompt has 64 tokens, want fewer than the context length 64"},
		{"token out of vocab", &Request{PromptIDs: []int{1, 99}}, ErrInvalidRequest, "prompt token 1 is 99"},
		{"unknown adapter", &Request{Prompt: "hi", Adapter: "nope"}, ErrUnknownAdapter, `adapter "nope"`},
		{"negative temperature", &Request{Prompt: "hi", Sampling: Sampling{Temperature: -1}}, ErrInvalidRequest, "temperature = -1"},
		{"top-p above 1", &Request{Prompt: "hi", Sampling: Sampling{TopP: 1.01}}, ErrInvalidRequest, "top_p = 1.01"},
		{"negative top-p", &Request{Prompt: "hi", Sampling: Sampling{TopP: -0.5}}, ErrInvalidRequest, "top_p = -0.5"},
		{"negative max tokens", &Request{Prompt: "hi", MaxTokens: -1}, ErrInvalidRequest, "max_tokens = -1"},
		{"min above max", &Request{Prompt: "hi", MaxTokens: 2, MinTokens: 3}, ErrInvalidRequest, "min_tokens = 3 exceeds max_tokens = 2"},
		{"too many logprobs", &Request{Prompt: "hi", TopLogprobs: 21}, ErrInvalidRequest, "top_logprobs = 21"},
		{"bad stop id", &Request{Prompt: "hi", StopTokenIDs: []int{-1}}, ErrInvalidRequest, "stop token id -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Generate(t.Context(), tt.req)
			require.ErrorIs(t, err, tt.is)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
	require.NoError(t, <-longDone)
	res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{5}, MaxTokens: 2})
	require.NoError(t, err)
	require.Equal(t, expectGreedy([]int{5}, 0, 2, nil), res.TokenIDs)
}

func TestEngineStepFailureKeepsServing(t *testing.T) {
	f := newFakeRunner(2)
	f.failOn = 50
	e := newTestEngine(t, f, nil)
	_, err := e.Generate(t.Context(), &Request{PromptIDs: []int{50}, MaxTokens: 3})
	require.ErrorIs(t, err, errStep)
	res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{3}, MaxTokens: 3})
	require.NoError(t, err)
	require.Equal(t, expectGreedy([]int{3}, 0, 3, nil), res.TokenIDs)
}

type panicRunner struct{ *fakeRunner }

func (p panicRunner) step(rows []stepRow) ([][]float32, error) {
	if rows[0].tokens[0] == 9 {
		panic("graph building failed")
	}
	return p.fakeRunner.step(rows)
}

func TestEngineRecoversPanics(t *testing.T) {
	f := newFakeRunner(1)
	e := newEngine(panicRunner{f}, nil, engineSpec{vocab: fakeVocab, maxContext: 64}, (&Options{MaxBatch: 1}).withDefaults(), nil)
	defer e.Close()
	_, err := e.Generate(t.Context(), &Request{PromptIDs: []int{9}})
	require.ErrorContains(t, err, "graph building failed")
	res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{3}, MaxTokens: 2})
	require.NoError(t, err)
	require.Equal(t, expectGreedy([]int{3}, 0, 2, nil), res.TokenIDs)
}

func TestEngineQueueFull(t *testing.T) {
	f := newFakeRunner(1)
	e := newTestEngine(t, f, &Options{QueueSize: 2})
	f.useGate(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// One running (blocked in its step), then two waiting.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { _, _ = e.Generate(ctx, &Request{PromptIDs: []int{1}, MaxTokens: 2}) })
		if i == 0 {
			require.Eventually(t, func() bool { return e.running.Load() == 1 }, 60*time.Second, time.Millisecond)
		}
	}
	require.Eventually(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.waiting) == 2
	}, 60*time.Second, time.Millisecond)
	_, err := e.Generate(t.Context(), &Request{PromptIDs: []int{1}})
	require.ErrorIs(t, err, ErrQueueFull)
	require.ErrorContains(t, err, "2 requests are waiting")
	cancel()
	f.openGate() // let every step through
	wg.Wait()
}

func TestEngineCancelFreesSlotWithinOneStep(t *testing.T) {
	f := newFakeRunner(1)
	e := newTestEngine(t, f, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var cancelledAt int
	n := 0
	for c, err := range e.Stream(ctx, &Request{PromptIDs: []int{1}, IgnoreEOS: true}) {
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			break
		}
		require.NotNil(t, c)
		n++
		if n == 3 {
			f.mu.Lock()
			cancelledAt = f.rowsSeen[0]
			f.mu.Unlock()
			cancel()
		}
	}
	// The one slot is free: the next request runs at once.
	res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{2}, MaxTokens: 2})
	require.NoError(t, err)
	require.Len(t, res.TokenIDs, 2)
	f.mu.Lock()
	defer f.mu.Unlock()
	// At most one step of the cancelled request ran after the cancel, then the new one's two.
	require.LessOrEqual(t, f.rowsSeen[0], cancelledAt+1+2)
}

func TestEngineBreakingStreamCancels(t *testing.T) {
	f := newFakeRunner(1)
	e := newTestEngine(t, f, nil)
	for range e.Stream(t.Context(), &Request{PromptIDs: []int{1}, IgnoreEOS: true}) {
		break
	}
	res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{2}, MaxTokens: 2})
	require.NoError(t, err)
	require.Equal(t, expectGreedy([]int{2}, 0, 2, nil), res.TokenIDs)
	require.Eventually(t, func() bool { return e.running.Load() == 0 }, 60*time.Second, time.Millisecond)
}

func TestEngineConcurrentWithCancellations(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFakeRunner(8)
	o := (&Options{MaxBatch: 8, QueueSize: 64}).withDefaults()
	var usageMu sync.Mutex
	usage := map[string]UsageRecord{}
	results := map[string]*Result{}
	o.OnUsage = func(ctx context.Context, rec UsageRecord) {
		usageMu.Lock()
		defer usageMu.Unlock()
		if _, dup := usage[rec.ID]; dup {
			t.Errorf("usage of %s reported twice", rec.ID)
		}
		usage[rec.ID] = rec
	}
	e := newEngine(f, fakeCodec{}, engineSpec{vocab: fakeVocab, maxContext: 64, eos: []int{63}}, o, nil)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			prompt := make([]int, 1+rng.IntN(6))
			for k := range prompt {
				prompt[k] = rng.IntN(fakeVocab)
			}
			maxTok := 1 + rng.IntN(20)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelIt := i%3 == 0
			if cancelIt {
				go func() {
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
					cancel()
				}()
			}
			seed := int64(i)
			req := &Request{ID: fmt.Sprint("req-", i), PromptIDs: prompt, MaxTokens: maxTok, IgnoreEOS: true}
			if i%2 == 1 {
				req.Sampling = Sampling{Temperature: 0.8, TopK: 5, Seed: &seed}
			}
			res, err := e.Generate(ctx, req)
			if err == nil {
				usageMu.Lock()
				results[req.ID] = res
				usageMu.Unlock()
			}
			if err != nil {
				if cancelIt && errors.Is(err, context.Canceled) {
					return
				}
				errs <- fmt.Errorf("request %d: %w", i, err)
				return
			}
			if req.Sampling.Temperature == 0 {
				if want := expectGreedy(prompt, 0, maxTok, nil); fmt.Sprint(want) != fmt.Sprint(res.TokenIDs) {
					errs <- fmt.Errorf("request %d: got %v, want %v", i, res.TokenIDs, want)
				}
				return
			}
			// A seeded request alone gives the same tokens.
			alone := newEngine(newFakeRunner(1), nil, engineSpec{vocab: fakeVocab, maxContext: 64}, (&Options{MaxBatch: 1}).withDefaults(), nil)
			defer alone.Close()
			want, err := alone.Generate(context.Background(), req)
			if err != nil {
				errs <- err
				return
			}
			if fmt.Sprint(want.TokenIDs) != fmt.Sprint(res.TokenIDs) {
				errs <- fmt.Errorf("request %d (seeded): got %v, alone %v", i, res.TokenIDs, want.TokenIDs)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return e.running.Load() == 0 }, 60*time.Second, time.Millisecond)
	require.NoError(t, e.Close())
	usageMu.Lock()
	for id, res := range results {
		require.Contains(t, usage, id)
		require.NoError(t, usage[id].Err)
		require.Equal(t, res.Usage, usage[id].Usage)
		require.Equal(t, res.FinishReason, usage[id].FinishReason)
	}
	for id, rec := range usage {
		if _, ok := results[id]; !ok {
			// Cancelled: either before the end, or just as the last token arrived.
			require.True(t, errors.Is(rec.Err, context.Canceled) || rec.FinishReason != "", "%s: %+v", id, rec)
		}
	}
	require.GreaterOrEqual(t, len(results), n-n/3-1)
	usageMu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left behind:\n%s", allStacks())
}

func TestEngineClose(t *testing.T) {
	f := newFakeRunner(1)
	e := newEngine(f, nil, engineSpec{vocab: fakeVocab, maxContext: 64}, (&Options{MaxBatch: 1}).withDefaults(), nil)
	t.Cleanup(func() { _ = e.Close() })
	f.useGate(t)
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := e.Generate(context.Background(), &Request{PromptIDs: []int{1}, IgnoreEOS: true})
			errc <- err
		}()
	}
	require.Eventually(t, func() bool { e.mu.Lock(); defer e.mu.Unlock(); return len(e.waiting) == 1 }, 60*time.Second, time.Millisecond)
	go func() { f.gate <- struct{}{}; f.openGate() }()
	require.NoError(t, e.Close())
	require.ErrorIs(t, <-errc, ErrClosed)
	require.ErrorIs(t, <-errc, ErrClosed)
	_, err := e.Generate(t.Context(), &Request{PromptIDs: []int{1}})
	require.ErrorIs(t, err, ErrClosed)
}

func TestAdapterRegistryLRU(t *testing.T) {
	f := newFakeRunner(4)
	e := newTestEngine(t, f, &Options{MaxAdapters: 2})
	for i := 1; i <= 3; i++ {
		require.NoError(t, e.adapters.add(fmt.Sprintf("a%d", i), &adapterWeights{rank: i}))
	}
	gen := func(name string, id int) {
		t.Helper()
		res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{2}, Adapter: name, MaxTokens: 3})
		require.NoError(t, err)
		require.Equal(t, expectGreedy([]int{2}, id, 3, nil), res.TokenIDs, "adapter %s", name)
	}
	gen("a1", 1)
	gen("a2", 2)
	gen("a1", 1) // a1 most recent, a2 least
	gen("a3", 3) // evicts a2
	gen("a1", 1) // still resident
	gen("a2", 2) // reloaded, evicts a3
	gen("", 0)
	f.mu.Lock()
	require.Equal(t, []int{1, 2, 3, 2}, f.uploads)
	f.mu.Unlock()

	require.NoError(t, e.UnloadAdapter("a2"))
	_, err := e.Generate(t.Context(), &Request{PromptIDs: []int{2}, Adapter: "a2"})
	require.ErrorIs(t, err, ErrUnknownAdapter)
	gen("a1", 1) // a step after the unload: the runner's copy of a2 is gone
	f.mu.Lock()
	require.Equal(t, map[int]int{1: 1}, f.adapters)
	f.mu.Unlock()
	require.ErrorIs(t, e.UnloadAdapter("a2"), ErrUnknownAdapter)
	require.ElementsMatch(t, []string{"a1", "a3"}, e.Adapters())
}

func TestEngineMixedAdaptersInOneBatch(t *testing.T) {
	f := newFakeRunner(4)
	e := newTestEngine(t, f, &Options{MaxAdapters: 2})
	require.NoError(t, e.adapters.add("x", &adapterWeights{rank: 5}))
	require.NoError(t, e.adapters.add("y", &adapterWeights{rank: 9}))
	var mixed bool
	f.onStep = func(rows []stepRow) {
		seen := map[int]bool{}
		for _, r := range rows {
			seen[r.adapter] = true
		}
		if len(seen) >= 3 {
			mixed = true
		}
	}
	f.useGate(t)
	reqs := []struct {
		adapter string
		id      int
	}{{"x", 5}, {"y", 9}, {"", 0}, {"x", 5}}
	var wg sync.WaitGroup
	results := make([][]int, len(reqs))
	for i, r := range reqs {
		wg.Go(func() {
			res, err := e.Generate(context.Background(), &Request{PromptIDs: []int{i + 1}, Adapter: r.adapter, MaxTokens: 6, IgnoreEOS: true})
			if err == nil {
				results[i] = res.TokenIDs
			}
		})
	}
	require.Eventually(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.waiting)+int(e.running.Load()) == len(reqs)
	}, 60*time.Second, time.Millisecond)
	f.openGate()
	wg.Wait()
	for i, r := range reqs {
		require.Equal(t, expectGreedy([]int{i + 1}, r.id, 6, nil), results[i], "request %d", i)
	}
	require.True(t, mixed, "no step mixed three adapter slots")
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestEngineLogprobs(t *testing.T) {
	e := newTestEngine(t, newFakeRunner(1), nil)
	// Prompt [1] greedy: 1, 2. Fake logits are -0.5*|i - target| over 64 ids.
	lse := func(target int) float64 {
		var s float64
		for i := range fakeVocab {
			s += math.Exp(-0.5 * math.Abs(float64(i-target)))
		}
		return math.Log(s)
	}
	res, err := e.Generate(t.Context(), &Request{PromptIDs: []int{1}, MaxTokens: 2, TopLogprobs: 2})
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, res.TokenIDs)
	require.Len(t, res.Logprobs, 2)
	for i, target := range []int{1, 2} {
		lp := res.Logprobs[i]
		require.Equal(t, target, lp.ID)
		require.InDelta(t, -lse(target), float64(lp.Logprob), 1e-6)
		// The two runners-up tie at distance 1; the lower id comes first.
		require.Equal(t, []int{target, target - 1}, []int{lp.Top[0].ID, lp.Top[1].ID})
		require.InDelta(t, -0.5-lse(target), float64(lp.Top[1].Logprob), 1e-6)
	}
	res, err = e.Generate(t.Context(), &Request{PromptIDs: []int{1}, MaxTokens: 2})
	require.NoError(t, err)
	require.Nil(t, res.Logprobs)
}

func TestEngineCompactsSlots(t *testing.T) {
	f := newFakeRunner(4)
	e := newTestEngine(t, f, nil)
	f.useGate(t)
	lengths := []int{2, 3, 4, 30}
	results := make([][]int, len(lengths))
	var wg sync.WaitGroup
	inFlight := func(n int) func() bool {
		return func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return len(e.waiting)+int(e.running.Load()) == n
		}
	}
	for i, n := range lengths {
		// The long request comes last, so it takes the highest slot.
		require.Eventually(t, inFlight(i), 60*time.Second, time.Millisecond)
		wg.Go(func() {
			res, err := e.Generate(context.Background(), &Request{PromptIDs: []int{i + 1}, MaxTokens: n, IgnoreEOS: true})
			if err == nil {
				results[i] = res.TokenIDs
			}
		})
	}
	require.Eventually(t, inFlight(len(lengths)), 60*time.Second, time.Millisecond)
	f.openGate()
	wg.Wait()
	for i, n := range lengths {
		require.Equal(t, expectGreedy([]int{i + 1}, 0, n, nil), results[i], "request %d", i)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Positive(t, f.moves, "the long request was moved to a lower slot")
}

func TestEnginePrefillChunks(t *testing.T) {
	f := newFakeRunner(2)
	var fed []int
	f.onStep = func(rows []stepRow) {
		for _, r := range rows {
			fed = append(fed, len(r.tokens))
		}
	}
	e := newTestEngine(t, f, &Options{PrefillChunk: 4})
	prompt := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	res, err := e.Generate(t.Context(), &Request{PromptIDs: prompt, MaxTokens: 3, IgnoreEOS: true})
	require.NoError(t, err)
	require.Equal(t, expectGreedy(prompt, 0, 3, nil), res.TokenIDs)
	f.mu.Lock()
	defer f.mu.Unlock()
	// Three prompt chunks, then two decode steps (the third token is never fed back).
	require.Equal(t, []int{4, 4, 2, 1, 1}, fed)
}
