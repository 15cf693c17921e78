package inference

// runner runs the model for the scheduler. Every method is called from the scheduler goroutine
// only, so implementations need no locking; they own the KV cache and the device copies of the
// adapters.
type runner interface {
	// step feeds each row's new tokens into its cache slot (the whole prompt on a row's first
	// step, then one token) and returns, per row, the logits after the row's last token. The
	// logits may be views of the runner's buffers: they are valid until the next step.
	step(rows []stepRow) ([][]float32, error)
	// setAdapter installs adapter weights into device adapter slot (1..maxAdapters); nil clears
	// the slot. Slot 0 always means "no adapter".
	setAdapter(slot int, w *adapterWeights) error
	// move relocates the KV cache of running requests between slots (from -> to); every target
	// slot is free, and the sources are free afterwards.
	move(moves map[int]int) error
}

// stepRow is one request's share of a step.
type stepRow struct {
	slot    int   // KV cache slot, in [0, maxBatch)
	pos     int   // position of tokens[0]: the number of tokens already in the slot's cache
	tokens  []int // new tokens
	adapter int   // device adapter slot, 0 for none
}

// textCodec is what the engine needs from a tokenizer.
type textCodec interface {
	// encode turns a prompt into ids, special tokens (BOS) included.
	encode(text string) []int
	// newDecoder returns an incremental decoder that skips special tokens and never splits a
	// UTF-8 sequence.
	newDecoder() textDecoder
}

// textDecoder turns ids into text deltas.
type textDecoder interface {
	add(id int) string
	flush() string
}
