package inference

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// loop is the scheduler: the only goroutine that touches the runner. Between steps it drops
// cancelled requests, admits waiting ones into free slots, then runs one step in which new
// requests prefill their prompts and running ones decode one token each.
func (e *Engine) loop() {
	defer close(e.done)
	active := make([]*job, e.opts.MaxBatch) // by KV cache slot
	nActive := 0
	endJob := func(j *job) {
		active[j.slot] = nil
		nActive--
		e.running.Add(-1)
		if j.adapter != nil {
			e.adapters.release(j.adapter)
			j.adapter = nil
		}
		j.cancel()
	}
	for {
		// Wait for work.
		e.mu.Lock()
		for !e.closed && nActive == 0 && len(e.waiting) == 0 {
			e.mu.Unlock()
			<-e.wake
			e.mu.Lock()
		}
		if e.closed {
			waiting := e.waiting
			e.waiting = nil
			e.mu.Unlock()
			for _, j := range waiting {
				j.fail(ErrClosed, j.usageNow())
				j.cancel()
			}
			for _, j := range active {
				if j != nil {
					j.fail(ErrClosed, j.usageNow())
					endJob(j)
				}
			}
			return
		}
		if err := e.adapters.clearFreed(e.run); err != nil {
			e.opts.Logger.Warn("inference: clearing unloaded adapters", "err", err)
		}
		// Admit waiting requests, oldest first, into free slots.
		kept := e.waiting[:0]
		for _, j := range e.waiting {
			if j.ctx.Err() != nil {
				j.fail(fmt.Errorf("generate: %w", j.ctx.Err()), j.usageNow())
				continue
			}
			if nActive == len(active) {
				kept = append(kept, j)
				continue
			}
			if j.req.Adapter != "" {
				ent, ok, err := e.adapters.acquire(j.req.Adapter, e.run)
				if err != nil {
					j.fail(err, j.usageNow())
					continue
				}
				if !ok { // every adapter slot is pinned by running requests: wait
					kept = append(kept, j)
					continue
				}
				j.adapter = ent
			}
			j.slot = slices.Index(active, nil)
			active[j.slot] = j
			nActive++
			e.running.Add(1)
		}
		clear(e.waiting[len(kept):])
		e.waiting = kept
		e.mu.Unlock()

		// Drop cancelled requests: their slots are free for the next step.
		for _, j := range active {
			if j != nil && j.ctx.Err() != nil {
				j.fail(fmt.Errorf("generate: %w", j.ctx.Err()), j.usageNow())
				endJob(j)
			}
		}
		if nActive == 0 {
			continue
		}
		e.compact(active, nActive, endJob)

		rows := make([]stepRow, 0, nActive)
		jobs := make([]*job, 0, nActive)
		for _, j := range active {
			if j == nil {
				continue
			}
			r := stepRow{slot: j.slot, pos: j.cached}
			if j.cached < len(j.prompt) {
				// Long prompts go in chunks, so running requests keep decoding between them.
				r.tokens = j.prompt[j.cached:min(len(j.prompt), j.cached+e.opts.PrefillChunk)]
			} else {
				r.tokens = j.generated[len(j.generated)-1:]
			}
			if j.adapter != nil {
				r.adapter = j.adapter.slot
			}
			rows = append(rows, r)
			jobs = append(jobs, j)
		}
		t0 := time.Now()
		logits, err := e.safeStep(rows)
		took := time.Since(t0)
		for _, j := range jobs {
			j.mu.Lock()
			j.started = true
			j.compute += took
			j.mu.Unlock()
		}
		if err == nil && len(logits) != len(rows) {
			err = fmt.Errorf("%w: got logits for %d rows, want %d", errStep, len(logits), len(rows))
		}
		if err != nil {
			e.opts.Logger.Error("inference step failed", "rows", len(rows), "err", err)
			for _, j := range jobs {
				j.fail(err, j.usageNow())
				endJob(j)
			}
			continue
		}
		ready := make([]int, 0, len(jobs))
		for i, j := range jobs {
			j.cached += len(rows[i].tokens)
			if j.cached >= len(j.prompt) { // else more of the prompt to feed first
				ready = append(ready, i)
			}
		}
		picks := pickAll(jobs, logits, ready)
		for k, i := range ready {
			if done := e.emit(jobs[i], picks[k]); done {
				endJob(jobs[i])
			}
		}
	}
}

// compact moves running requests from high slots into free low ones when that lets the runner
// use a smaller batch bucket, so a lone survivor of a large batch does not keep paying for it.
func (e *Engine) compact(active []*job, nActive int, endJob func(*job)) {
	high := len(active) - 1
	for high >= 0 && active[high] == nil {
		high--
	}
	if bucketOf(high+1) <= bucketOf(nActive) {
		return
	}
	moves := map[int]int{}
	var moved []*job
	free := 0
	for s := high; s >= nActive; s-- {
		j := active[s]
		if j == nil {
			continue
		}
		for active[free] != nil {
			free++
		}
		moves[s] = free
		active[free], active[s] = j, nil
		j.slot = free
		moved = append(moved, j)
	}
	if err := e.safeMove(moves); err != nil {
		e.opts.Logger.Error("inference: moving cache slots failed", "err", err)
		for _, j := range moved {
			j.fail(err, j.usageNow())
			endJob(j)
		}
	}
}

// bucketOf is the power-of-two batch bucket of n rows.
func bucketOf(n int) int { return pow2(n, 1<<30) }

func (e *Engine) safeMove(moves map[int]int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errStep, r)
		}
	}()
	return e.run.move(moves)
}

// safeStep runs one step, turning a panic inside the compute library into an error so that one
// bad step fails its requests and the engine keeps serving.
func (e *Engine) safeStep(rows []stepRow) (logits [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.opts.Logger.Error("inference step panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errStep, r)
		}
	}()
	logits, err = e.run.step(rows)
	if err != nil {
		err = fmt.Errorf("%w: %w", errStep, err)
	}
	return logits, err
}

// pick is a sampled token and, when asked for, its log-probability.
type pick struct {
	tok int
	lp  *TokenLogprob
}

// parallelPicks is the number of rows from which sampling runs on several goroutines: each
// row's sampler scans the whole vocabulary (128K entries for Llama 3), which at batch 64 costs
// the scheduler more than a GPU step.
const parallelPicks = 8

// pickAll samples the next token of jobs[i] from logits[i] for each i in ready. Each job's
// sampler is its own (own random source and history), so the rows run concurrently when there
// are many, with the same results as one after the other.
func pickAll(jobs []*job, logits [][]float32, ready []int) []pick {
	picks := make([]pick, len(ready))
	one := func(k int) {
		j := jobs[ready[k]]
		var banned []int
		if len(j.generated) < j.req.MinTokens {
			banned = j.ends
		}
		picks[k].tok, picks[k].lp = j.sampler.next(logits[ready[k]], banned, j.logprobs)
	}
	workers := min(runtime.GOMAXPROCS(0), len(ready)/(parallelPicks/2))
	if len(ready) < parallelPicks || workers < 2 {
		for k := range ready {
			one(k)
		}
		return picks
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < len(ready); k += workers {
				one(k)
			}
		})
	}
	wg.Wait()
	return picks
}

// emit appends j's sampled token, emits the text it completes and reports whether the request
// has ended.
func (e *Engine) emit(j *job, p pick) bool {
	tok, lp := p.tok, p.lp
	j.sampler.accept(tok)
	j.generated = append(j.generated, tok)
	c := &Chunk{TokenIDs: []int{tok}}
	if lp != nil {
		c.Logprobs = []TokenLogprob{*lp}
	}
	var reason FinishReason
	ended := j.isEnd(tok)
	var text string
	if j.dec != nil && !ended {
		text = j.dec.add(tok)
	}
	out, matched := j.stop.add(text)
	c.Text = out
	switch {
	case matched || ended:
		reason = FinishStop
	case len(j.generated) >= j.maxTokens:
		reason = FinishLength
	}
	if reason != "" && !matched {
		// Release what the decoder and the stop matcher held back; it may still complete a
		// stop string.
		if j.dec != nil {
			rest, m := j.stop.add(j.dec.flush())
			c.Text += rest
			if m {
				reason = FinishStop
				matched = true
			}
		}
		if !matched {
			c.Text += j.stop.flush()
		}
	}
	u := j.usageNow()
	if reason != "" {
		c.FinishReason = reason
		c.Usage = &u
	}
	j.push(c, u)
	return reason != ""
}

// usageNow counts the tokens processed so far; only the scheduler goroutine calls it.
func (j *job) usageNow() Usage {
	return Usage{PromptTokens: len(j.prompt), CompletionTokens: len(j.generated)}
}
