package inference

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/model"
	"github.com/sectorflow/sdk/tokenize"
)

var fixtureModels = []string{"llama", "llama_bf16", "mistral", "qwen2", "qwen3"}

func fixtureDir(name string) string { return filepath.Join("..", "testdata", "models", name) }

type expectedGeneration struct {
	Prompt    []int     `json:"prompt"`
	Generated []int     `json:"generated"`
	MaxLogit  []float64 `json:"max_logit"`
}

func readExpected(t *testing.T, name, file string) expectedGeneration {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir(name), "expected", file))
	require.NoError(t, err)
	var e expectedGeneration
	require.NoError(t, json.Unmarshal(data, &e))
	return e
}

// loadFixture starts an engine on a fixture model with its LoRA adapter loaded as "lora".
func loadFixture(t *testing.T, name string, opts *Options) *Engine {
	t.Helper()
	e, err := Load(t.Context(), fixtureDir(name), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	require.NoError(t, e.LoadAdapter(t.Context(), "lora", filepath.Join(fixtureDir(name), "lora")))
	return e
}

// TestGreedyMatchesFixtures: greedy generation with the KV cache reproduces the reference
// tokens, and the top logit at each step, with and without the adapter.
func TestGreedyMatchesFixtures(t *testing.T) {
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			e := loadFixture(t, name, &Options{MaxContext: 64})
			for _, tc := range []struct{ file, adapter string }{{"generate.json", ""}, {"generate_lora.json", "lora"}} {
				want := readExpected(t, name, tc.file)
				res, err := e.Generate(t.Context(), &Request{PromptIDs: want.Prompt, Adapter: tc.adapter,
					MaxTokens: len(want.Generated), IgnoreEOS: true})
				require.NoError(t, err, tc.file)
				require.Equal(t, want.Generated, res.TokenIDs, tc.file)
				require.Equal(t, Usage{PromptTokens: len(want.Prompt), CompletionTokens: len(want.Generated)}, res.Usage)
			}
		})
	}
}

// TestCacheMatchesRecompute drives the runner directly: every decode step's logits through the
// KV cache equal a full recompute of the whole sequence without a cache (internal/model's
// Logits), and the greedy tokens and top logits match the fixtures.
func TestCacheMatchesRecompute(t *testing.T) {
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			maxLogitTol := 1e-4
			if name == "llama_bf16" {
				maxLogitTol = 0 // its generate.json was made from float32 weights
			}
			checkCacheMatchesRecompute(t, name, nil, cacheCheck{logitsTol: 2e-5, maxLogitTol: maxLogitTol, greedy: true})
		})
	}
}

// cacheCheck says how checkCacheMatchesRecompute compares: cache against recompute within
// logitsTol, the chosen token's logit against the fixture's within maxLogitTol (0: not
// compared); greedy requires our argmax to be the fixture's token, else the fixture's tokens are
// fed (teacher forcing).
type cacheCheck struct {
	logitsTol, maxLogitTol float64
	greedy                 bool
}

// checkCacheMatchesRecompute decodes the fixture's prompt through a runner's KV cache, with and
// without the fixture's adapter, comparing each step with a full recompute.
func checkCacheMatchesRecompute(t *testing.T, name string, opts *model.Options, c cacheCheck) {
	m, _, err := model.Load(fixtureDir(name), opts)
	require.NoError(t, err)
	defer m.Close()
	adapter, err := m.LoadAdapter(filepath.Join(fixtureDir(name), "lora"))
	require.NoError(t, err)
	for _, tc := range []struct {
		file    string
		adapter *model.Adapter
	}{{"generate.json", nil}, {"generate_lora.json", adapter}} {
		want := readExpected(t, name, tc.file)
		run := newModelRunner(m, 2, 64, 2)
		slot := 0
		if tc.adapter != nil {
			require.NoError(t, run.setAdapter(1, weightsFromModelAdapter(tc.adapter)))
			slot = 1
		}
		seq := append([]int(nil), want.Prompt...)
		row := stepRow{slot: 1, tokens: want.Prompt, adapter: slot} // slot 1: the cache grows to 2 rows
		for i := range want.Generated {
			logits, err := run.step([]stepRow{row})
			require.NoError(t, err)
			ids := make([]int32, len(seq))
			for k, v := range seq {
				ids[k] = int32(v)
			}
			full, err := m.Logits(context.Background(), ids, tc.adapter)
			require.NoError(t, err)
			require.InDeltaSlice(t, full[len(seq)-1], logits[0], c.logitsTol, "%s step %d", tc.file, i)
			tok := want.Generated[i]
			if c.greedy {
				require.Equal(t, tok, argmax32(logits[0]), "%s step %d", tc.file, i)
			}
			if c.maxLogitTol > 0 {
				require.InDelta(t, want.MaxLogit[i], logits[0][tok], c.maxLogitTol, "%s step %d", tc.file, i)
			}
			row = stepRow{slot: 1, pos: len(seq), tokens: []int{tok}, adapter: slot}
			seq = append(seq, tok)
		}
		run.close()
	}
}

// TestMixedBatchEqualsAlone: requests with different prompt lengths, adapters and sampling
// settings, running together, give exactly what each gives alone.
func TestMixedBatchEqualsAlone(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxBatch: 4, MaxContext: 64})
	prompt := readExpected(t, "llama", "generate.json").Prompt
	seed1, seed2 := int64(11), int64(12)
	reqs := []*Request{
		{PromptIDs: prompt, MaxTokens: 12, IgnoreEOS: true},
		{PromptIDs: prompt[:5], Adapter: "lora", MaxTokens: 10, IgnoreEOS: true},
		{PromptIDs: prompt[3:], MaxTokens: 12, IgnoreEOS: true,
			Sampling: Sampling{Temperature: 0.9, TopP: 0.95, Seed: &seed1}},
		{PromptIDs: prompt[:9], Adapter: "lora", MaxTokens: 8, IgnoreEOS: true,
			Sampling: Sampling{Temperature: 1.3, TopK: 20, RepetitionPenalty: 1.2, Seed: &seed2}},
	}
	alone := make([]*Result, len(reqs))
	for i, r := range reqs {
		res, err := e.Generate(t.Context(), r)
		require.NoError(t, err)
		alone[i] = res
	}
	var wg sync.WaitGroup
	together := make([]*Result, len(reqs))
	errs := make([]error, len(reqs))
	start := make(chan struct{})
	for i, r := range reqs {
		wg.Go(func() {
			<-start
			together[i], errs[i] = e.Generate(context.Background(), r)
		})
	}
	close(start)
	wg.Wait()
	for i := range reqs {
		require.NoError(t, errs[i])
		require.Equal(t, alone[i].TokenIDs, together[i].TokenIDs, "request %d", i)
		require.Equal(t, alone[i].Text, together[i].Text, "request %d", i)
	}
	// The greedy base request is the fixture's prefix.
	require.Equal(t, readExpected(t, "llama", "generate.json").Generated[:12], together[0].TokenIDs)
}

func TestLoadAdapterErrors(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxContext: 32})
	tests := []struct {
		name, dir string
		wantErr   string
	}{
		{"missing dir", filepath.Join(t.TempDir(), "nope"), "nope"},
		{"adapter for another base", filepath.Join(fixtureDir("qwen3"), "lora"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.LoadAdapter(t.Context(), "x", tt.dir)
			require.ErrorIs(t, err, ErrInvalidAdapter)
			require.Contains(t, err.Error(), tt.wantErr)
			_, err = e.Generate(t.Context(), &Request{PromptIDs: []int{1, 2}, Adapter: "x"})
			require.ErrorIs(t, err, ErrUnknownAdapter)
		})
	}
	// The engine still serves.
	res, err := e.Generate(t.Context(), &Request{Prompt: "hello", MaxTokens: 3, Adapter: "lora"})
	require.NoError(t, err)
	require.Len(t, res.TokenIDs, 3)
}

func TestChatPrompt(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxContext: 64})
	// The llama fixture's template, rendered by hand: BOS, header, content, eot, then the
	// assistant header. The special tokens are single ids (504, 509, 510, 508).
	ids, err := e.ChatPrompt([]tokenize.Message{{Role: "user", Content: "Hi"}}, nil)
	require.NoError(t, err)
	want := []int{504, 509}
	want = append(want, e.tok.Encode("user", false)...)
	want = append(want, 510)
	want = append(want, e.tok.Encode("\n\nHi", false)...)
	want = append(want, 508, 509)
	want = append(want, e.tok.Encode("assistant", false)...)
	want = append(want, 510)
	want = append(want, e.tok.Encode("\n\n", false)...)
	require.Equal(t, want, ids)
	_, err = e.ChatPrompt(nil, nil)
	require.ErrorIs(t, err, ErrInvalidRequest)
}

// pacedRunner slows each step down so that a test can join requests mid-flight, and counts
// steps that prefilled some rows while decoding others.
type pacedRunner struct {
	*modelRunner
	mixed atomic.Int32
	moves atomic.Int32
}

func (p *pacedRunner) step(rows []stepRow) ([][]float32, error) {
	time.Sleep(2 * time.Millisecond)
	var pre, dec bool
	for _, r := range rows {
		pre = pre || len(r.tokens) > 1
		dec = dec || len(r.tokens) == 1
	}
	if pre && dec {
		p.mixed.Add(1)
	}
	return p.modelRunner.step(rows)
}

func (p *pacedRunner) move(moves map[int]int) error {
	p.moves.Add(int32(len(moves)))
	return p.modelRunner.move(moves)
}

// TestJoinWhileDecoding: requests that join a running batch (their prompts prefilled as a
// sub-batch while the others decode) and requests that reuse a freed slot holding a longer old
// sequence give exactly what they give alone.
func TestJoinWhileDecoding(t *testing.T) {
	m, _, err := model.Load(fixtureDir("qwen2"), nil)
	require.NoError(t, err)
	run := &pacedRunner{modelRunner: newModelRunner(m, 4, 128, 2)}
	e := newEngine(run, nil, engineSpec{vocab: m.Spec.VocabSize, maxContext: 128}, (&Options{MaxBatch: 4}).withDefaults(),
		func() error { run.close(); return m.Close() })
	e.model = m
	defer e.Close()
	require.NoError(t, e.LoadAdapter(t.Context(), "lora", filepath.Join(fixtureDir("qwen2"), "lora")))
	prompt := readExpected(t, "qwen2", "generate.json").Prompt
	long := &Request{PromptIDs: prompt, MaxTokens: 100, IgnoreEOS: true}
	joiners := []*Request{
		{PromptIDs: prompt[:4], Adapter: "lora", MaxTokens: 6, IgnoreEOS: true},
		{PromptIDs: prompt[2:9], MaxTokens: 5, IgnoreEOS: true},
		{PromptIDs: prompt[:2], MaxTokens: 7, IgnoreEOS: true}, // reuses a freed slot
	}
	alone := map[*Request][]int{}
	for _, r := range append([]*Request{long}, joiners...) {
		res, err := e.Generate(t.Context(), r)
		require.NoError(t, err)
		alone[r] = res.TokenIDs
	}
	run.mixed.Store(0)
	var longIDs []int
	n := 0
	for c, err := range e.Stream(t.Context(), long) {
		require.NoError(t, err)
		longIDs = append(longIDs, c.TokenIDs...)
		n++
		if k, ok := map[int]int{3: 0, 12: 1, 20: 2}[n]; ok { // join mid-flight, one after the other
			res, err := e.Generate(t.Context(), joiners[k])
			require.NoError(t, err)
			require.Equal(t, alone[joiners[k]], res.TokenIDs, "joiner %d", k)
		}
	}
	require.Equal(t, alone[long], longIDs)
	require.GreaterOrEqual(t, run.mixed.Load(), int32(3), "steps that prefilled while decoding")

	// A short request in slot 0 and a long one in slot 1: when the short one ends, the long one
	// moves to slot 0 (the cache shrinks to one row) and still gives what it gives alone.
	run.moves.Store(0)
	var wg sync.WaitGroup
	var short, longer *Result
	var errShort, errLong error
	wg.Go(func() { short, errShort = e.Generate(context.Background(), joiners[1]) })
	time.Sleep(time.Millisecond)
	wg.Go(func() { longer, errLong = e.Generate(context.Background(), long) })
	wg.Wait()
	require.NoError(t, errShort)
	require.NoError(t, errLong)
	require.Equal(t, alone[joiners[1]], short.TokenIDs)
	require.Equal(t, alone[long], longer.TokenIDs)
	require.Positive(t, run.moves.Load(), "the long request moved to slot 0")
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		opts    *Options
		wantErr string
	}{
		{"missing directory", filepath.Join(t.TempDir(), "none"), nil, "none"},
		// qwen3's config says max_position_embeddings 4096.
		{"context beyond the model", fixtureDir("qwen3"), &Options{MaxContext: 8192}, "MaxContext = 8192 exceeds the model's max_position_embeddings (4096)"},
		{"unknown backend", fixtureDir("qwen3"), &Options{Backend: "nope"}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(t.Context(), tt.dir, tt.opts)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	e := loadFixture(t, "qwen3", &Options{MaxContext: 32})
	require.Equal(t, 32, e.MaxContext())
	st := e.Stats()
	require.Equal(t, Stats{}, Stats{Running: st.Running, Waiting: st.Waiting})
}

// TestChunkedPrefillMatchesFixtures: prompts fed a few tokens per step give the reference tokens.
func TestChunkedPrefillMatchesFixtures(t *testing.T) {
	for _, name := range []string{"llama", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			e := loadFixture(t, name, &Options{MaxContext: 64, PrefillChunk: 3})
			for _, tc := range []struct{ file, adapter string }{{"generate.json", ""}, {"generate_lora.json", "lora"}} {
				want := readExpected(t, name, tc.file)
				res, err := e.Generate(t.Context(), &Request{PromptIDs: want.Prompt, Adapter: tc.adapter,
					MaxTokens: len(want.Generated), IgnoreEOS: true})
				require.NoError(t, err)
				require.Equal(t, want.Generated, res.TokenIDs, tc.file)
			}
		})
	}
}

// TestRealModelConcurrentCancellations: the real runner under many concurrent requests (prompt
// lengths, adapters, sampling) with random cancellations: every finished request equals its run
// alone, and every slot is free at the end.
func TestRealModelConcurrentCancellations(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxBatch: 4, MaxContext: 64, QueueSize: 64, PrefillChunk: 8})
	prompt := readExpected(t, "llama", "generate.json").Prompt
	const n = 16
	reqs := make([]*Request, n)
	for i := range reqs {
		seed := int64(i)
		r := &Request{PromptIDs: prompt[i%5 : 6+i%11], MaxTokens: 3 + i%9, IgnoreEOS: true}
		if i%3 == 1 {
			r.Adapter = "lora"
		}
		if i%2 == 1 {
			r.Sampling = Sampling{Temperature: 0.9, TopK: 50, Seed: &seed}
		}
		reqs[i] = r
	}
	got := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%4 == 0 {
				time.AfterFunc(time.Duration(i)*time.Millisecond, cancel)
			}
			got[i], errs[i] = e.Generate(ctx, r)
		})
	}
	wg.Wait()
	finished := 0
	for i, r := range reqs {
		if errs[i] != nil {
			require.ErrorIs(t, errs[i], context.Canceled, "request %d", i)
			require.Zero(t, i%4, "request %d was not cancelled", i)
			continue
		}
		finished++
		alone, err := e.Generate(t.Context(), r)
		require.NoError(t, err)
		require.Equal(t, alone.TokenIDs, got[i].TokenIDs, "request %d", i)
	}
	require.GreaterOrEqual(t, finished, n-n/4)
	require.Eventually(t, func() bool { st := e.Stats(); return st.Running == 0 && st.Waiting == 0 }, 60*time.Second, time.Millisecond)
}

func TestRealModelStops(t *testing.T) {
	e := loadFixture(t, "llama", &Options{MaxContext: 64})
	// EOS ids come from config.json and generation_config.json: 508 for this fixture.
	require.Equal(t, []int{508}, e.eos)
	want := readExpected(t, "llama", "generate.json")
	stop := want.Generated[2] // 286, first generated at step 2
	res, err := e.Generate(t.Context(), &Request{PromptIDs: want.Prompt, StopTokenIDs: []int{stop}, MaxTokens: 16})
	require.NoError(t, err)
	require.Equal(t, want.Generated[:3], res.TokenIDs)
	require.Equal(t, FinishStop, res.FinishReason)
	// Banning the EOS-like stop until 5 tokens exist moves the stop later or removes it.
	res, err = e.Generate(t.Context(), &Request{PromptIDs: want.Prompt, StopTokenIDs: []int{stop}, MinTokens: 5, MaxTokens: 5})
	require.NoError(t, err)
	require.Len(t, res.TokenIDs, 5)
	require.NotContains(t, res.TokenIDs, stop)
}
