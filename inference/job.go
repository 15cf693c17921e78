package inference

import (
	"context"
	"slices"
	"sync"
	"time"
)

// job is one request inside the engine. The scheduler goroutine owns every field above mu; the
// fields below mu are shared with the caller's goroutine.
type job struct {
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	req    *Request
	prompt []int

	sampler   *sampler
	dec       textDecoder
	stop      *stopMatcher
	ends      []int // ids that end generation: stop tokens, plus EOS unless ignored
	maxTokens int
	logprobs  int // -1: none; else number of alternatives

	slot      int // KV cache slot, -1 while waiting
	adapter   *adapterEntry
	cached    int // tokens in the slot's cache
	generated []int

	mu       sync.Mutex
	chunks   []*Chunk
	finished bool
	err      error
	usage    Usage
	reason   FinishReason
	started  bool          // took part in a model step
	compute  time.Duration // wall time of those steps
	notify   chan struct{}
}

// push hands a chunk to the caller.
func (j *job) push(c *Chunk, u Usage) {
	j.mu.Lock()
	j.chunks = append(j.chunks, c)
	j.usage = u
	if c.FinishReason != "" {
		j.finished = true
		j.reason = c.FinishReason
	}
	j.mu.Unlock()
	j.poke()
}

// fail ends the request with err unless it already ended.
func (j *job) fail(err error, u Usage) {
	j.mu.Lock()
	if !j.finished && j.err == nil {
		j.err = err
		j.usage = u
	}
	j.mu.Unlock()
	j.poke()
}

func (j *job) poke() {
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

// take returns the chunks produced since the last call and whether the request has ended.
func (j *job) take() ([]*Chunk, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.chunks
	j.chunks = nil
	return c, j.finished, j.err
}

// isEnd reports whether id ends generation for this request.
func (j *job) isEnd(id int) bool { return slices.Contains(j.ends, id) }
