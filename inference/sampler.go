package inference

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// TokenLogprob is the log-probability of one token, with the most likely alternatives at that
// step when they were asked for.
type TokenLogprob struct {
	// ID is the token id.
	ID int `json:"id"`
	// Logprob is the natural log of its probability under the model's raw distribution (the
	// log-softmax of the logits before penalties, bias, temperature or filters), as vLLM reports.
	Logprob float32 `json:"logprob"`
	// Top holds the most likely tokens at this step, most likely first (ties: lowest id first).
	Top []TokenLogprob `json:"top,omitempty"`
}

// sampler picks tokens for one request. It owns the request's random source and its token
// history, so its choices depend on nothing but the request and the logits of its own row.
type sampler struct {
	p      Sampling
	rng    *rand.Rand
	seen   map[int]bool // prompt and output tokens, for the repetition penalty
	counts map[int]int  // output tokens, for the presence and frequency penalties

	work []float64 // processed logits
	idx  []int     // candidate ids (finite processed logits), in id order
	e    []float64 // their unnormalised probabilities
	cand []int     // positions in idx of the head that the filters sort
}

// newSampler returns a sampler for p; seed is used when p.Seed is nil.
func newSampler(p Sampling, prompt []int, seed uint64) *sampler {
	if p.Seed != nil {
		seed = uint64(*p.Seed)
	}
	s := &sampler{
		p:      p,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		seen:   map[int]bool{},
		counts: map[int]int{},
	}
	for _, id := range prompt {
		s.seen[id] = true
	}
	return s
}

// accept records a generated token in the history that the penalties read.
func (s *sampler) accept(id int) {
	s.seen[id] = true
	s.counts[id]++
}

// next picks the next token from one row of logits. banned ids (the ending tokens before
// MinTokens is reached) are never picked unless nothing else is left. logprobs >= 0 asks for the
// chosen token's log-probability with that many alternatives; -1 skips the work.
func (s *sampler) next(logits []float32, banned []int, logprobs int) (int, *TokenLogprob) {
	if s.p.greedy() && len(banned) == 0 && s.untouched() {
		// Plain greedy: the argmax of the logits as they are (the same token as the general
		// path below, without its float64 copy of the vocabulary).
		tok := -1
		bv := float32(math.Inf(-1))
		for i, v := range logits {
			if v > bv { // NaN and -Inf never win, as in the general path
				tok, bv = i, v
			}
		}
		if tok < 0 {
			tok = argmax32(logits)
		}
		var lp *TokenLogprob
		if logprobs >= 0 {
			lp = rawLogprobs(logits, tok, logprobs)
		}
		return tok, lp
	}
	w := s.process(logits, banned)
	tok := -1
	if s.p.greedy() {
		bv := math.Inf(-1)
		for i, v := range w {
			if v > bv {
				tok, bv = i, v
			}
		}
	} else if ids, probs := s.filter(w); len(ids) > 0 {
		tok = s.draw(ids, probs)
	}
	if tok < 0 { // every token banned: fall back to the raw argmax
		tok = argmax32(logits)
	}
	var lp *TokenLogprob
	if logprobs >= 0 {
		lp = rawLogprobs(logits, tok, logprobs)
	}
	return tok, lp
}

// untouched reports whether process would leave the logits as they are: no penalty and no bias.
func (s *sampler) untouched() bool {
	rp := s.p.RepetitionPenalty
	return (rp <= 0 || rp == 1) && s.p.PresencePenalty == 0 && s.p.FrequencyPenalty == 0 && len(s.p.LogitBias) == 0
}

// process applies the penalties, the logit bias and the bans; it returns the sampler's scratch
// buffer, valid until the next call.
func (s *sampler) process(logits []float32, banned []int) []float64 {
	n := len(logits)
	if cap(s.work) < n {
		s.work = make([]float64, n)
	}
	w := s.work[:n]
	for i, v := range logits {
		w[i] = float64(v)
	}
	if rp := float64(s.p.RepetitionPenalty); rp > 0 && rp != 1 {
		for id := range s.seen {
			if id >= 0 && id < n {
				if w[id] > 0 {
					w[id] /= rp
				} else {
					w[id] *= rp
				}
			}
		}
	}
	if s.p.PresencePenalty != 0 || s.p.FrequencyPenalty != 0 {
		for id, c := range s.counts {
			if id >= 0 && id < n {
				w[id] -= float64(s.p.FrequencyPenalty)*float64(c) + float64(s.p.PresencePenalty)
			}
		}
	}
	for id, b := range s.p.LogitBias {
		if id >= 0 && id < n {
			if b <= -100 {
				w[id] = math.Inf(-1)
			} else {
				w[id] += float64(b)
			}
		}
	}
	for _, id := range banned {
		if id >= 0 && id < n {
			w[id] = math.Inf(-1)
		}
	}
	return w
}

// filter turns processed logits into the distribution to draw from: temperature, then top-k,
// top-p and min-p. It returns candidate ids and their probabilities, which sum to 1: most likely
// first (lowest id first among ties) when a filter is on, in id order when none is.
func (s *sampler) filter(w []float64) ([]int, []float64) {
	t := float64(s.p.Temperature)
	m := math.Inf(-1)
	for _, v := range w {
		if v > m { // NaN and -Inf never win
			m = v
		}
	}
	if math.IsInf(m, -1) {
		return nil, nil
	}
	// Unnormalised probabilities at temperature t, shifted by the max (the best is 1).
	idx, e := s.idx[:0], s.e[:0]
	var z float64
	for i, v := range w {
		if !math.IsInf(v, -1) && !math.IsNaN(v) {
			p := math.Exp((v - m) / t)
			idx, e = append(idx, i), append(e, p)
			z += p
		}
	}
	s.idx, s.e = idx, e
	k, tp, mp := s.p.TopK, float64(s.p.TopP), float64(s.p.MinP)
	useK, useP := k > 0 && k < len(idx), tp > 0 && tp < 1
	if !useK && !useP && mp <= 0 {
		// No filter: every token stays; draw in id order, sparing a sort of the vocabulary.
		probs := make([]float64, len(e))
		for i, p := range e {
			probs[i] = p / z
		}
		return slices.Clone(idx), probs
	}
	// Only the most likely tokens can survive the filters. Sort a head of the distribution that
	// provably holds them (every token above a threshold, lowered until it holds the top k, or
	// enough mass for top-p, or down to the min-p limit), not the whole vocabulary.
	cand := s.cand[:0]
	for tau := 1e-3; ; tau *= 1e-3 {
		cand = cand[:0]
		var mass float64
		for j, p := range e {
			if p >= tau {
				cand = append(cand, j)
				mass += p
			}
		}
		ok := true
		switch {
		case useK:
			ok = len(cand) >= k
		case useP:
			ok = mass >= tp*z
		default:
			ok = tau <= mp
		}
		if ok || len(cand) == len(e) {
			break
		}
	}
	s.cand = cand
	sort.Slice(cand, func(a, b int) bool {
		wa, wb := w[idx[cand[a]]], w[idx[cand[b]]]
		if wa != wb {
			return wa > wb
		}
		return idx[cand[a]] < idx[cand[b]]
	})
	if useK {
		cand = cand[:k]
		z = 0
		for _, j := range cand {
			z += e[j]
		}
	}
	ids := make([]int, len(cand))
	probs := make([]float64, len(cand))
	for i, j := range cand {
		ids[i], probs[i] = idx[j], e[j]/z
	}
	if useP {
		var cum float64
		keep := len(probs)
		for i, p := range probs {
			cum += p
			if cum >= tp {
				keep = i + 1
				break
			}
		}
		ids, probs = ids[:keep], probs[:keep]
	}
	if mp > 0 {
		limit := mp * probs[0]
		keep := len(probs)
		for i, p := range probs {
			if p < limit {
				keep = i
				break
			}
		}
		ids, probs = ids[:keep], probs[:keep]
	}
	var sum float64
	for _, p := range probs {
		sum += p
	}
	for i := range probs {
		probs[i] /= sum
	}
	return ids, probs
}

// draw picks one of ids with the given probabilities from the request's random source.
func (s *sampler) draw(ids []int, probs []float64) int {
	u := s.rng.Float64()
	var cum float64
	for i, p := range probs {
		cum += p
		if u < cum {
			return ids[i]
		}
	}
	return ids[len(ids)-1]
}

// argmax32 returns the index of the largest value, the lowest index among ties.
func argmax32(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// rawLogprobs returns the log-softmax of logits at tok, with the top alternatives.
func rawLogprobs(logits []float32, tok, top int) *TokenLogprob {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(sum)
	lp := &TokenLogprob{ID: tok, Logprob: float32(float64(logits[tok]) - lse)}
	if top > 0 {
		top = min(top, len(logits))
		ids := make([]int, 0, top+1)
		for i := range logits {
			// Insertion into a short sorted list: top is small, the vocabulary large.
			pos := len(ids)
			for pos > 0 && logits[i] > logits[ids[pos-1]] {
				pos--
			}
			if pos < top {
				ids = append(ids, 0)
				copy(ids[pos+1:], ids[pos:])
				ids[pos] = i
				if len(ids) > top {
					ids = ids[:top]
				}
			}
		}
		for _, id := range ids {
			lp.Top = append(lp.Top, TokenLogprob{ID: id, Logprob: float32(float64(logits[id]) - lse)})
		}
	}
	return lp
}
