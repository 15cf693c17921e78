package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/tokenize"
)

// Limits of a completion request.
const (
	maxChoices     = 8
	maxStops       = 4
	maxTopLogprobs = 20
)

// samplingParams are the fields chat and text completions share.
type samplingParams struct {
	Model               string             `json:"model"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	Temperature         *float64           `json:"temperature"`
	TopP                *float64           `json:"top_p"`
	N                   *int               `json:"n"`
	Stop                json.RawMessage    `json:"stop"`
	Seed                *int64             `json:"seed"`
	Stream              bool               `json:"stream"`
	StreamOptions       *streamOptions     `json:"stream_options"`
	PresencePenalty     *float64           `json:"presence_penalty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty"`
	LogitBias           map[string]float64 `json:"logit_bias"`
	User                string             `json:"user"`
	// Extensions, as vLLM names them.
	TopK              *int     `json:"top_k"`
	MinP              *float64 `json:"min_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	IgnoreEOS         bool     `json:"ignore_eos"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatRequest struct {
	samplingParams
	Messages    []tokenize.Message `json:"messages"`
	Logprobs    bool               `json:"logprobs"`
	TopLogprobs *int               `json:"top_logprobs"`
}

type completionRequest struct {
	samplingParams
	Prompt   json.RawMessage `json:"prompt"`
	Logprobs *int            `json:"logprobs"`
	Echo     bool            `json:"echo"`
	Suffix   *string         `json:"suffix"`
}

type usageObject struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// plan is a validated completion request, ready for the engine.
type plan struct {
	id      string
	model   string
	adapter string
	base    genRequest
	n       int
	stream  bool
	usage   bool // stream_options.include_usage
	chat    bool
}

func inRange(p *float64, name string, lo, hi float64) (float32, error) {
	if p == nil {
		return 0, nil
	}
	if math.IsNaN(*p) || *p < lo || *p > hi {
		return 0, invalid(name, "invalid_value", "Expected %s between %g and %g, found %g.", name, lo, hi, *p)
	}
	return float32(*p), nil
}

// buildPlan checks the parameters both endpoints share and resolves the model.
func (s *Server) buildPlan(ctx context.Context, sp *samplingParams, prompt []int, chat bool) (*plan, error) {
	p := principalOf(ctx)
	if sp.Model == "" {
		return nil, invalid("model", "missing_model", "Expected a model id, found none.")
	}
	rec, err := s.resolveModel(ctx, p.Tenant, sp.Model)
	if err != nil {
		return nil, err
	}
	pl := &plan{model: sp.Model, n: 1, stream: sp.Stream, chat: chat}
	if rec != nil {
		name, err := s.adapters.ensure(ctx, rec)
		if err != nil {
			return nil, internalError(err)
		}
		pl.adapter = name
	}
	if sp.N != nil {
		if *sp.N < 1 || *sp.N > maxChoices {
			return nil, invalid("n", "invalid_value", "Expected n between 1 and %d, found %d.", maxChoices, *sp.N)
		}
		pl.n = *sp.N
	}
	if sp.StreamOptions != nil {
		if !sp.Stream {
			return nil, invalid("stream_options", "invalid_value", "Expected stream_options only with stream true.")
		}
		pl.usage = sp.StreamOptions.IncludeUsage
	}
	g := genRequest{PromptIDs: prompt, Adapter: pl.adapter, Seed: sp.Seed, IgnoreEOS: sp.IgnoreEOS}
	// OpenAI's default temperature is 1.
	g.Temperature = 1
	if sp.Temperature != nil {
		if g.Temperature, err = inRange(sp.Temperature, "temperature", 0, 2); err != nil {
			return nil, err
		}
	}
	if sp.TopP != nil {
		if *sp.TopP <= 0 {
			return nil, invalid("top_p", "invalid_value", "Expected top_p in (0, 1], found %g.", *sp.TopP)
		}
		if g.TopP, err = inRange(sp.TopP, "top_p", 0, 1); err != nil {
			return nil, err
		}
	}
	if g.Presence, err = inRange(sp.PresencePenalty, "presence_penalty", -2, 2); err != nil {
		return nil, err
	}
	if g.Frequency, err = inRange(sp.FrequencyPenalty, "frequency_penalty", -2, 2); err != nil {
		return nil, err
	}
	if g.MinP, err = inRange(sp.MinP, "min_p", 0, 1); err != nil {
		return nil, err
	}
	if g.Repetition, err = inRange(sp.RepetitionPenalty, "repetition_penalty", 0, 10); err != nil {
		return nil, err
	}
	if sp.TopK != nil {
		if *sp.TopK < 0 {
			return nil, invalid("top_k", "invalid_value", "Expected top_k of at least 0, found %d.", *sp.TopK)
		}
		g.TopK = *sp.TopK
	}
	if len(sp.LogitBias) > 0 {
		g.LogitBias = map[int]float32{}
		for k, v := range sp.LogitBias {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || id >= s.tok.VocabSize() {
				return nil, invalid("logit_bias", "invalid_value", "Expected token ids in [0, %d) as logit_bias keys, found %q.", s.tok.VocabSize(), k)
			}
			if math.IsNaN(v) || v < -100 || v > 100 {
				return nil, invalid("logit_bias", "invalid_value", "Expected logit_bias values between -100 and 100, found %g.", v)
			}
			g.LogitBias[id] = float32(v)
		}
	}
	if len(sp.Stop) > 0 && string(sp.Stop) != "null" {
		var one string
		if json.Unmarshal(sp.Stop, &one) == nil {
			g.Stop = []string{one}
		} else if err := json.Unmarshal(sp.Stop, &g.Stop); err != nil {
			return nil, invalid("stop", "invalid_value", "Expected stop as a string or an array of strings.")
		}
		if len(g.Stop) > maxStops {
			return nil, invalid("stop", "invalid_value", "Expected at most %d stop sequences, found %d.", maxStops, len(g.Stop))
		}
		for _, st := range g.Stop {
			if st == "" {
				return nil, invalid("stop", "invalid_value", "Expected non-empty stop sequences.")
			}
		}
	}
	maxCtx := s.model.MaxContext()
	if len(prompt) >= maxCtx {
		return nil, invalid("messages", "context_length_exceeded",
			"This model's maximum context length is %d tokens. However, your prompt has %d tokens.", maxCtx, len(prompt))
	}
	room := maxCtx - len(prompt)
	max := sp.MaxCompletionTokens
	param := "max_completion_tokens"
	if max == nil {
		max, param = sp.MaxTokens, "max_tokens"
	}
	if max != nil {
		if *max < 1 || *max > s.opts.MaxTokensLimit {
			return nil, invalid(param, "invalid_value", "Expected %s between 1 and %d, found %d.", param, s.opts.MaxTokensLimit, *max)
		}
		if *max > room {
			return nil, invalid(param, "context_length_exceeded",
				"This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d for the completion).",
				maxCtx, len(prompt)+*max, len(prompt), *max)
		}
		g.MaxTokens = *max
	} else {
		g.MaxTokens = min(s.opts.MaxTokens, room)
	}
	pl.base = g
	return pl, nil
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	var req chatRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Messages) == 0 {
		return invalid("messages", "missing_messages", "Expected at least one message, found none.")
	}
	ct, err := s.tok.CompileChatTemplate()
	if err != nil || ct == nil {
		return invalid("model", "no_chat_template", "The model has no usable chat template; use /v1/completions.")
	}
	text, err := ct.Render(req.Messages, &tokenize.ChatOptions{AddGenerationPrompt: true})
	if err != nil {
		return invalid("messages", "invalid_messages", "The messages do not fit the model's chat template: %v.", err)
	}
	prompt := s.tok.Encode(text, false)
	if len(prompt) == 0 {
		return invalid("messages", "invalid_messages", "The chat template rendered no tokens.")
	}
	pl, err := s.buildPlan(r.Context(), &req.samplingParams, prompt, true)
	if err != nil {
		return err
	}
	pl.id = newID("chatcmpl-")
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > maxTopLogprobs {
			return invalid("top_logprobs", "invalid_value", "Expected top_logprobs between 0 and %d, found %d.", maxTopLogprobs, *req.TopLogprobs)
		}
		if !req.Logprobs {
			return invalid("top_logprobs", "invalid_value", "Expected logprobs true when top_logprobs is set.")
		}
		pl.base.TopLogprobs = *req.TopLogprobs
	}
	pl.base.Logprobs = req.Logprobs
	return s.run(w, r, pl)
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	var req completionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var prompt []int
	var text string
	var texts []string
	switch {
	case json.Unmarshal(req.Prompt, &text) == nil:
		prompt = s.tok.Encode(text, true)
	case json.Unmarshal(req.Prompt, &texts) == nil && len(texts) == 1:
		prompt = s.tok.Encode(texts[0], true)
	case json.Unmarshal(req.Prompt, &prompt) == nil && len(prompt) > 0:
		for _, id := range prompt {
			if id < 0 || id >= s.tok.VocabSize() {
				return invalid("prompt", "invalid_value", "Expected token ids in [0, %d), found %d.", s.tok.VocabSize(), id)
			}
		}
	default:
		return invalid("prompt", "invalid_value", "Expected prompt as a string, an array of one string, or an array of token ids.")
	}
	if len(prompt) == 0 {
		return invalid("prompt", "invalid_value", "Expected a non-empty prompt.")
	}
	if req.Echo || req.Suffix != nil {
		return invalid("echo", "unsupported", "echo and suffix are not supported.")
	}
	pl, err := s.buildPlan(r.Context(), &req.samplingParams, prompt, false)
	if err != nil {
		return err
	}
	pl.id = newID("cmpl-")
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > 5 {
			return invalid("logprobs", "invalid_value", "Expected logprobs between 0 and 5, found %d.", *req.Logprobs)
		}
		pl.base.Logprobs, pl.base.TopLogprobs = true, *req.Logprobs
	}
	return s.run(w, r, pl)
}

// errorFromEngine maps an engine error to an API error.
func (s *Server) errorFromEngine(err error) error {
	switch {
	case errors.Is(err, errQueueFull):
		return &apiError{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: strPtr("rate_limit_exceeded"),
			Message: "The server is busy: its request queue is full. Retry shortly."}
	case errors.Is(err, errUnknownAdapter):
		// The adapter was unloaded to make room between resolving the model and starting the
		// request; a retry loads it again (OpenAI clients retry 503s by themselves).
		return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: strPtr("adapter_reloading"),
			Message: "The fine-tuned model is being reloaded; retry the request."}
	case errors.Is(err, errInvalidRequest):
		return invalid("", "invalid_value", "%v", err)
	case errors.Is(err, errNoModel):
		return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: strPtr("model_unavailable"), Message: err.Error()}
	case errors.Is(err, errShutdown), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: strPtr("request_cancelled"),
			Message: fmt.Sprintf("The request was stopped before it finished: %v.", err)}
	}
	return internalError(err)
}

// choiceEvent is one engine item of one choice.
type choiceEvent struct {
	index int
	chunk *genChunk
	err   error
}

// generate starts the plan's n generations; each yields its chunks then closes. Engines that
// fail before their first token (a full queue) report it as the first item.
func (s *Server) generate(ctx context.Context, pl *plan) []iter.Seq2[*genChunk, error] {
	out := make([]iter.Seq2[*genChunk, error], pl.n)
	for i := range pl.n {
		req := pl.base
		req.ID = fmt.Sprintf("%s-%d", pl.id, i)
		if req.Seed != nil && i > 0 {
			seed := *req.Seed + int64(i) // distinct but reproducible choices
			req.Seed = &seed
		}
		out[i] = s.model.Stream(ctx, &req)
	}
	return out
}

// run executes a plan and answers, streaming or not; it meters the request once it has ended.
func (s *Server) run(w http.ResponseWriter, r *http.Request, pl *plan) error {
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), modelIDKey{}, pl.model), s.opts.RequestTimeout)
	defer cancel()
	streams := s.generate(ctx, pl)
	// Pull the first item of every choice before answering, so that a full queue or an invalid
	// request still gets a proper status code.
	type puller struct {
		next func() (*genChunk, error, bool)
		stop func()
	}
	pulls := make([]puller, pl.n)
	first := make([]choiceEvent, pl.n)
	var wg sync.WaitGroup
	for i, st := range streams {
		next, stop := iter.Pull2(st)
		pulls[i] = puller{next, stop}
		defer stop()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err, ok := next()
			if !ok {
				err = errors.New("the engine ended the stream without a result")
			}
			first[i] = choiceEvent{index: i, chunk: c, err: err}
		}()
	}
	wg.Wait()
	for _, f := range first {
		if f.err != nil {
			return s.errorFromEngine(f.err)
		}
	}
	events := make(chan choiceEvent)
	for i := range pl.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send := func(ev choiceEvent) bool {
				select {
				case events <- ev:
					return true
				case <-ctx.Done():
					return false
				}
			}
			if !send(first[i]) || first[i].chunk.Final {
				return
			}
			for {
				c, err, ok := pulls[i].next()
				if !ok {
					return
				}
				if !send(choiceEvent{index: i, chunk: c, err: err}) || err != nil || c.Final {
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(events) }()
	var res *completionResult
	var err error
	var finish func()
	if pl.stream {
		res, finish, err = s.writeStream(ctx, w, pl, events)
	} else {
		res, err = s.collect(pl, events)
	}
	if err != nil {
		cancel() // stop the other choices too
	}
	for range events { // let the producers end
	}
	// End every engine request before answering, so that its usage is recorded by the time the
	// client has the whole answer.
	for _, p := range pulls {
		p.stop()
	}
	cancel()
	if pl.stream {
		finish()
		return nil
	}
	if err != nil {
		return s.errorFromEngine(err)
	}
	s.writeResult(w, pl, res)
	return nil
}

// completionResult is what the choices of a request produced.
type completionResult struct {
	texts    []string
	logprobs [][]tokenLogprob
	finish   []string
	prompt   int
	complete []int
	done     int // choices that finished
}

func newResult(n int) *completionResult {
	return &completionResult{texts: make([]string, n), logprobs: make([][]tokenLogprob, n), finish: make([]string, n), complete: make([]int, n)}
}

func (c *completionResult) add(ev choiceEvent) {
	i := ev.index
	c.texts[i] += ev.chunk.Text
	c.logprobs[i] = append(c.logprobs[i], ev.chunk.Logprobs...)
	if ev.chunk.Final {
		c.finish[i] = ev.chunk.FinishReason
		c.prompt = ev.chunk.PromptTokens
		c.complete[i] = ev.chunk.CompletionTokens
		c.done++
	}
}

func (c *completionResult) usage() usageObject {
	u := usageObject{PromptTokens: c.prompt}
	for _, n := range c.complete {
		u.CompletionTokens += n
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

func (s *Server) collect(pl *plan, events <-chan choiceEvent) (*completionResult, error) {
	res := newResult(pl.n)
	for ev := range events {
		if ev.err != nil {
			return res, ev.err
		}
		res.add(ev)
	}
	if res.done < pl.n {
		return res, fmt.Errorf("generation ended early: %w", context.Canceled)
	}
	return res, nil
}

func (s *Server) writeResult(w http.ResponseWriter, pl *plan, res *completionResult) {
	choices := make([]map[string]any, pl.n)
	for i := range pl.n {
		c := map[string]any{"index": i, "finish_reason": res.finish[i], "logprobs": nil}
		if pl.chat {
			c["message"] = map[string]any{"role": "assistant", "content": res.texts[i], "refusal": nil}
			if pl.base.Logprobs {
				c["logprobs"] = s.chatLogprobs(res.logprobs[i])
			}
		} else {
			c["text"] = res.texts[i]
			if pl.base.Logprobs {
				c["logprobs"] = s.completionLogprobs(res.logprobs[i])
			}
		}
		choices[i] = c
	}
	object := "text_completion"
	if pl.chat {
		object = "chat.completion"
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": pl.id, "object": object, "created": time.Now().Unix(), "model": pl.model,
		"system_fingerprint": "sectorflow", "choices": choices, "usage": res.usage()})
}

// writeStream answers with server-sent events, one chunk per engine delta; the returned finish
// writes the closing "[DONE]".
func (s *Server) writeStream(ctx context.Context, w http.ResponseWriter, pl *plan, events <-chan choiceEvent) (*completionResult, func(), error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	created := time.Now().Unix()
	object := "text_completion"
	if pl.chat {
		object = "chat.completion.chunk"
	}
	var writeErr error
	send := func(v any) {
		if writeErr != nil {
			return
		}
		data, err := json.Marshal(v)
		if err != nil {
			writeErr = err
			return
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			writeErr = err
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(choice map[string]any) map[string]any {
		m := map[string]any{"id": pl.id, "object": object, "created": created, "model": pl.model,
			"system_fingerprint": "sectorflow", "choices": []any{choice}}
		if pl.usage {
			m["usage"] = nil
		}
		return m
	}
	if pl.chat {
		for i := range pl.n {
			send(chunk(map[string]any{"index": i, "delta": map[string]any{"role": "assistant", "content": ""}, "logprobs": nil, "finish_reason": nil}))
		}
	}
	res := newResult(pl.n)
	var genErr error
	for ev := range events {
		if ev.err != nil {
			genErr = ev.err
			break
		}
		res.add(ev)
		c := ev.chunk
		if c.Text == "" && len(c.Logprobs) == 0 && !c.Final {
			continue
		}
		choice := map[string]any{"index": ev.index, "logprobs": nil, "finish_reason": nil}
		if c.Final {
			choice["finish_reason"] = c.FinishReason
		}
		if pl.chat {
			delta := map[string]any{}
			if c.Text != "" {
				delta["content"] = c.Text
			}
			choice["delta"] = delta
			if pl.base.Logprobs && len(c.Logprobs) > 0 {
				choice["logprobs"] = s.chatLogprobs(c.Logprobs)
			}
		} else {
			choice["text"] = c.Text
			if pl.base.Logprobs && len(c.Logprobs) > 0 {
				choice["logprobs"] = s.completionLogprobs(c.Logprobs)
			}
		}
		send(chunk(choice))
		if writeErr != nil {
			return res, func() {}, fmt.Errorf("client gone: %w", context.Canceled)
		}
	}
	if genErr == nil && res.done < pl.n {
		genErr = context.Cause(ctx)
		if genErr == nil {
			genErr = context.Canceled
		}
	}
	if genErr != nil {
		if errors.Is(genErr, errShutdown) || errors.Is(context.Cause(ctx), errShutdown) {
			// The server is stopping: end every open choice cleanly.
			for i := range pl.n {
				if res.finish[i] == "" {
					res.finish[i] = "length"
					send(chunk(map[string]any{"index": i, "delta": map[string]any{}, "text": "", "logprobs": nil, "finish_reason": "length"}))
				}
			}
		} else if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ae := s.errorFromEngine(genErr).(*apiError)
			send(map[string]any{"error": ae})
		}
	}
	if pl.usage {
		send(map[string]any{"id": pl.id, "object": object, "created": created, "model": pl.model,
			"system_fingerprint": "sectorflow", "choices": []any{}, "usage": res.usage()})
	}
	finish := func() {
		if writeErr == nil {
			_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	return res, finish, genErr
}

// tokenText is the text of one token for logprobs.
func (s *Server) tokenText(id int) string { return s.tok.Decode([]int{id}, false) }

func (s *Server) chatLogprobs(lps []tokenLogprob) map[string]any {
	content := make([]map[string]any, len(lps))
	for i, lp := range lps {
		t := s.tokenText(lp.ID)
		top := make([]map[string]any, len(lp.Top))
		for j, alt := range lp.Top {
			at := s.tokenText(alt.ID)
			top[j] = map[string]any{"token": at, "logprob": alt.Logprob, "bytes": []byte(at)}
		}
		content[i] = map[string]any{"token": t, "logprob": lp.Logprob, "bytes": bytesOf(t), "top_logprobs": top}
	}
	return map[string]any{"content": content, "refusal": nil}
}

// bytesOf returns b as JSON numbers (a []byte would be base64).
func bytesOf(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

func (s *Server) completionLogprobs(lps []tokenLogprob) map[string]any {
	tokens := make([]string, len(lps))
	values := make([]float32, len(lps))
	tops := make([]map[string]float32, len(lps))
	offsets := make([]int, len(lps))
	off := 0
	for i, lp := range lps {
		tokens[i], values[i], offsets[i] = s.tokenText(lp.ID), lp.Logprob, off
		off += len(tokens[i])
		tops[i] = map[string]float32{}
		for _, alt := range lp.Top {
			tops[i][s.tokenText(alt.ID)] = alt.Logprob
		}
	}
	return map[string]any{"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}
}

type modelIDKey struct{}

// onUsage receives the usage of every engine request (one per choice) when it ends, with the
// request's context, and bills the calling tenant. Requests refused before the model ran them
// (invalid, queue full) are not reported.
func (s *Server) onUsage(ctx context.Context, u sectorflow.Usage) {
	if s.meter == nil {
		return
	}
	u.Tenant = principalOf(ctx).Tenant
	if u.Tenant == "" {
		return // not a request of this server's handlers
	}
	if model, ok := ctx.Value(modelIDKey{}).(string); ok && u.Adapter != "" {
		u.Adapter = model
	}
	u.Model = s.modelName
	if err := s.meter.Record(context.WithoutCancel(ctx), u); err != nil {
		s.log.Error("metering request", "id", u.ID, "error", err)
	}
}
