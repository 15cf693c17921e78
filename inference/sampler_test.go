package inference

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// softmaxOf is the hand formula exp(x_i/t)/sum_j exp(x_j/t) over the listed values.
func softmaxOf(t float64, xs ...float64) []float64 {
	out := make([]float64, len(xs))
	var sum float64
	for i, x := range xs {
		out[i] = math.Exp(x / t)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func TestSamplerDistribution(t *testing.T) {
	logits := []float32{1, 2, 3, 0}
	tests := []struct {
		name      string
		p         Sampling
		wantIDs   []int
		wantProbs []float64
	}{
		{"temperature 1", Sampling{Temperature: 1}, []int{2, 1, 0, 3},
			[]float64{0.6439142598879722, 0.23688281808991013, 0.08714431874203257, 0.03205860328008499}},
		{"temperature 2", Sampling{Temperature: 2}, []int{2, 1, 0, 3}, softmaxOf(2, 3, 2, 1, 0)},
		{"temperature 0.5", Sampling{Temperature: 0.5}, []int{2, 1, 0, 3}, softmaxOf(0.5, 3, 2, 1, 0)},
		{"top-k 2", Sampling{Temperature: 1, TopK: 2}, []int{2, 1},
			[]float64{0.7310585786300049, 0.2689414213699951}},
		{"top-k larger than vocab", Sampling{Temperature: 1, TopK: 10}, []int{2, 1, 0, 3}, softmaxOf(1, 3, 2, 1, 0)},
		// cumulative 0.644, 0.881 >= 0.8: the two most likely stay.
		{"top-p 0.8", Sampling{Temperature: 1, TopP: 0.8}, []int{2, 1},
			[]float64{0.7310585786300049, 0.2689414213699951}},
		{"top-p 0.6 keeps the first", Sampling{Temperature: 1, TopP: 0.6}, []int{2}, []float64{1}},
		{"top-p 1 is off", Sampling{Temperature: 1, TopP: 1}, []int{2, 1, 0, 3}, softmaxOf(1, 3, 2, 1, 0)},
		// 0.2 * 0.644 = 0.129: 0.237 stays, 0.087 goes.
		{"min-p 0.2", Sampling{Temperature: 1, MinP: 0.2}, []int{2, 1},
			[]float64{0.7310585786300049, 0.2689414213699951}},
		{"min-p 0.05", Sampling{Temperature: 1, MinP: 0.05}, []int{2, 1, 0}, softmaxOf(1, 3, 2, 1)},
		{"top-k then top-p", Sampling{Temperature: 1, TopK: 3, TopP: 0.9}, []int{2, 1},
			[]float64{0.7310585786300049, 0.2689414213699951}},
		// softmax at t=2 over 3,2,1: 0.506, 0.307, 0.186; 0.5*0.506=0.253 drops id 0.
		{"temperature 2 then min-p 0.5", Sampling{Temperature: 2, MinP: 0.5}, []int{2, 1}, softmaxOf(2, 3, 2)},
		{"bias changes order", Sampling{Temperature: 1, LogitBias: map[int]float32{3: 4}}, []int{3, 2, 1, 0},
			softmaxOf(1, 4, 3, 2, 1)},
		{"bias -100 bans", Sampling{Temperature: 1, LogitBias: map[int]float32{2: -100}}, []int{1, 0, 3},
			softmaxOf(1, 2, 1, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.p, nil, 1)
			ids, probs := s.filter(s.process(logits, nil))
			// The order of candidates only fixes how a draw walks them; compare the distribution.
			require.ElementsMatch(t, tt.wantIDs, ids)
			for i, id := range tt.wantIDs {
				require.InDelta(t, tt.wantProbs[i], probs[slices.Index(ids, id)], 1e-12, "token %d", id)
			}
		})
	}
}

func TestSamplerPenalties(t *testing.T) {
	logits := []float32{1, 2, 3, -1}
	tests := []struct {
		name   string
		p      Sampling
		prompt []int
		output []int
		want   []float64
	}{
		{"none", Sampling{}, []int{2}, []int{1}, []float64{1, 2, 3, -1}},
		// transformers: positive logits divided, negative multiplied, prompt and output alike.
		{"repetition 2", Sampling{RepetitionPenalty: 2}, []int{2}, []int{3}, []float64{1, 2, 1.5, -2}},
		{"repetition 1 is off", Sampling{RepetitionPenalty: 1}, []int{2}, []int{3}, []float64{1, 2, 3, -1}},
		// OpenAI: only output tokens; presence once, frequency per occurrence.
		{"presence 0.5", Sampling{PresencePenalty: 0.5}, []int{0}, []int{2, 2, 1}, []float64{1, 1.5, 2.5, -1}},
		{"frequency 0.25", Sampling{FrequencyPenalty: 0.25}, []int{0}, []int{2, 2, 1}, []float64{1, 1.75, 2.5, -1}},
		{"presence and frequency", Sampling{PresencePenalty: 0.5, FrequencyPenalty: 0.25}, nil, []int{2, 2, 1},
			[]float64{1, 1.25, 2, -1}},
		{"negative presence rewards", Sampling{PresencePenalty: -1}, nil, []int{3}, []float64{1, 2, 3, 0}},
		{"repetition then bias", Sampling{RepetitionPenalty: 2, LogitBias: map[int]float32{0: 0.5}}, []int{0}, nil,
			[]float64{1, 2, 3, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.p, tt.prompt, 1)
			for _, id := range tt.output {
				s.accept(id)
			}
			require.InDeltaSlice(t, tt.want, s.process(logits, nil), 1e-12)
		})
	}
}

func TestSamplerGreedy(t *testing.T) {
	tests := []struct {
		name   string
		p      Sampling
		logits []float32
		banned []int
		prompt []int
		want   int
	}{
		{"argmax", Sampling{}, []float32{1, 2, 3, 0}, nil, nil, 2},
		{"ties pick lowest id", Sampling{}, []float32{3, 1, 3, 3}, nil, nil, 0},
		{"banned skipped", Sampling{}, []float32{1, 2, 3, 0}, []int{2}, nil, 1},
		{"all banned falls back to raw argmax", Sampling{}, []float32{1, 2}, []int{0, 1}, nil, 1},
		{"bias", Sampling{LogitBias: map[int]float32{0: 5}}, []float32{1, 2, 3, 0}, nil, nil, 0},
		{"repetition penalty flips", Sampling{RepetitionPenalty: 2}, []float32{1, 2, 3, 0}, nil, []int{2}, 1},
		{"top-k 1 with temperature is greedy", Sampling{Temperature: 5, TopK: 1}, []float32{1, 2, 3, 0}, nil, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.p, tt.prompt, 1)
			got, _ := s.next(tt.logits, tt.banned, -1)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSamplerDrawFrequencies(t *testing.T) {
	// top-k 2 over logits 1,2,3,0: P(2) = 1/(1+e^-1) = 0.7311.
	seed := int64(7)
	s := newSampler(Sampling{Temperature: 1, TopK: 2, Seed: &seed}, nil, 0)
	counts := map[int]int{}
	const n = 20000
	for range n {
		id, _ := s.next([]float32{1, 2, 3, 0}, nil, -1)
		counts[id]++
	}
	require.Len(t, counts, 2)
	require.InDelta(t, 0.7310585786300049, float64(counts[2])/n, 0.015)
}

func TestSamplerSeedReproducible(t *testing.T) {
	logits := []float32{0.1, 0.2, 0.3, 0.25, 0.15, 0.05}
	run := func(seed int64) []int {
		s := newSampler(Sampling{Temperature: 1, Seed: &seed}, nil, 999)
		var out []int
		for range 64 {
			id, _ := s.next(logits, nil, -1)
			s.accept(id)
			out = append(out, id)
		}
		return out
	}
	require.Equal(t, run(42), run(42))
	require.NotEqual(t, run(42), run(43))
}

func TestRawLogprobs(t *testing.T) {
	logits := []float32{1, 2, 3, 0}
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3) + math.Exp(0))
	tests := []struct {
		name string
		tok  int
		top  int
		want TokenLogprob
	}{
		{"no alternatives", 1, 0, TokenLogprob{ID: 1, Logprob: float32(2 - lse)}},
		{"two alternatives", 0, 2, TokenLogprob{ID: 0, Logprob: float32(1 - lse), Top: []TokenLogprob{
			{ID: 2, Logprob: float32(3 - lse)}, {ID: 1, Logprob: float32(2 - lse)}}}},
		{"more than vocab", 3, 9, TokenLogprob{ID: 3, Logprob: float32(0 - lse), Top: []TokenLogprob{
			{ID: 2, Logprob: float32(3 - lse)}, {ID: 1, Logprob: float32(2 - lse)},
			{ID: 0, Logprob: float32(1 - lse)}, {ID: 3, Logprob: float32(0 - lse)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, *rawLogprobs(logits, tt.tok, tt.top))
		})
	}
}

func TestSamplingValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Sampling
		wantErr string
	}{
		{"zero is greedy", Sampling{}, ""},
		{"full", Sampling{Temperature: 0.7, TopK: 40, TopP: 0.9, MinP: 0.05, RepetitionPenalty: 1.1,
			PresencePenalty: 0.5, FrequencyPenalty: -0.5, LogitBias: map[int]float32{3: -100}}, ""},
		{"negative temperature", Sampling{Temperature: -0.1}, "temperature = -0.1"},
		{"NaN temperature", Sampling{Temperature: float32(math.NaN())}, "temperature"},
		{"negative top-k", Sampling{TopK: -1}, "top_k = -1"},
		{"top-p above 1", Sampling{TopP: 1.5}, "top_p = 1.5, want a value in (0, 1]"},
		{"negative top-p", Sampling{TopP: -0.2}, "top_p = -0.2"},
		{"min-p above 1", Sampling{MinP: 2}, "min_p = 2"},
		{"negative repetition", Sampling{RepetitionPenalty: -1}, "repetition_penalty = -1"},
		{"presence too large", Sampling{PresencePenalty: 3}, "presence_penalty = 3"},
		{"frequency too small", Sampling{FrequencyPenalty: -2.5}, "frequency_penalty = -2.5"},
		{"bias id out of vocab", Sampling{LogitBias: map[int]float32{10: 1}}, "logit_bias token id = 10, want an id in [0, 10)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.validate(10)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrInvalidRequest))
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestSamplerFilterOnLargeVocab: the filters sort only the head of the distribution; on a large
// vocabulary with a long flat tail they keep exactly the hand-computed sets.
func TestSamplerFilterOnLargeVocab(t *testing.T) {
	// Logits: ids 0..9 at 10 - i, then 100000 tokens at -5.
	logits := make([]float32, 100010)
	for i := range logits {
		logits[i] = -5
	}
	for i := range 10 {
		logits[i] = float32(10 - i)
	}
	head := 0.0
	for i := range 10 {
		head += math.Exp(float64(10 - i))
	}
	tail := 100000 * math.Exp(-5)
	tests := []struct {
		name    string
		p       Sampling
		wantIDs []int
	}{
		{"top-k 3", Sampling{Temperature: 1, TopK: 3}, []int{0, 1, 2}},
		// P(0) = e^10 / (head + tail) = 0.63; the first two reach 0.86.
		{"top-p 0.8", Sampling{Temperature: 1, TopP: 0.8}, []int{0, 1}},
		// The tail holds 0.0302 of the mass: a nucleus of 0.99 needs part of it, after id 9.
		{"top-p 0.99 reaches the tail", Sampling{Temperature: 1, TopP: 0.99}, nil},
		{"min-p 0.1", Sampling{Temperature: 1, MinP: 0.1}, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.p, nil, 1)
			ids, probs := s.filter(s.process(logits, nil))
			if tt.wantIDs != nil {
				require.Equal(t, tt.wantIDs, ids)
			} else {
				require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, ids[:10])
				// Cumulative mass of the head is 0.9698; the tail tokens (ties) come in id order.
				need := int(math.Ceil((0.99*(head+tail) - head) / math.Exp(-5)))
				require.Len(t, ids, 10+need)
				require.Equal(t, 10, ids[10])
			}
			var sum float64
			for _, p := range probs {
				sum += p
			}
			require.InDelta(t, 1, sum, 1e-9)
		})
	}
}

// TestGreedyFastPathSameToken: plain greedy (no penalty, bias or ban) skips the float64 copy;
// it must pick what the general path picks, NaN and -Inf included.
func TestGreedyFastPathSameToken(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	rows := [][]float32{
		{0.5, 2, 2, -1}, // tie: lowest id
		{nan, 1, 3, 2},  // NaN first never wins
		{-inf, -inf, 0.25, -inf},
		{nan, nan, nan}, // nothing finite: raw argmax fallback
		{-inf, -inf},    // all -Inf: fallback
		{1, inf, 3},     // +Inf wins
	}
	for i, logits := range rows {
		fast := newSampler(Sampling{}, nil, 1)
		tok, _ := fast.next(logits, nil, -1)
		// The general path: a zero logit bias entry makes process run, changing nothing.
		general := newSampler(Sampling{LogitBias: map[int]float32{len(logits) + 5: 0}}, nil, 1)
		want, _ := general.next(logits, nil, -1)
		if tok != want {
			t.Errorf("row %d: fast path picked %d, general path %d", i, tok, want)
		}
	}
}
