package inference

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/sectorflow/sdk/internal/model"
)

// modelRunner runs an internal/model forward pass with a fixed-size KV cache.
//
// Cache layout: per layer, K and V of shape [rows, KVHeads, S, HeadDim], where row r is KV slot
// r and position p of a sequence lives at cache index p, so masks are "key index <= query
// position" and a reused slot's stale entries are hidden until overwritten. rows is the smallest
// power of two (capped at maxBatch) above the highest slot in use, so a lone request does not pay
// for a full batch; a gather program regrows or shrinks the cache when that changes.
//
// A step makes at most two program calls. Decoding rows (one new token each) run over all cache
// rows with T = 1, rows without a token feeding padding that writes nothing (cache index -1).
// Prompts run as a sub-batch of their own: their cache rows are gathered, run with T the power of
// two (at least 16, capped at S) that fits the longest prompt, and scattered back with a one-hot
// product (the pure-Go backend has no DynamicUpdateSlice), so a prompt joining a large batch costs
// its own tokens only. Programs are compiled once per (rows, sub-batch, T) and adapter layout, so
// a server compiles a handful of them.
type modelRunner struct {
	m        *model.Model
	spec     *model.Spec
	backend  backends.Backend
	maxBatch int
	S        int

	rows  int // current cache batch size, 0 before the first step
	cache []*tensors.Tensor

	execs  map[string]*graph.Exec // by adapter layout and step kind (prefill or decode)
	resize *graph.Exec

	// Adapter stacks: adapters[s] is device slot s (1..maxAdapters; 0 is "none"), stored at
	// index s-1 of each stack (see maskedLoRA).
	adapters  []*adapterWeights
	loraSig   string
	loraKeys  []loraKey // adapted (layer, module) pairs, in stack order
	loraRank  int
	loraStack []*tensors.Tensor // A [N*R, in] and scale * B^T [out, N*R] per key
	loraDirty bool

	held []*tensors.Tensor // the last step's logits, read by the scheduler until the next step

	// seen holds the program shapes run so far (scheduler goroutine only); nPrograms and
	// firstRunNanos are read by Engine.Stats from other goroutines.
	seen          map[string]bool
	nPrograms     atomic.Int64
	firstRunNanos atomic.Int64
}

// firstRun records a run of the program of shape key that took d; only the first run of each
// shape counts (it includes the compilation).
func (r *modelRunner) firstRun(key string, d time.Duration) {
	if r.seen[key] {
		return
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[key] = true
	r.nPrograms.Add(1)
	r.firstRunNanos.Add(int64(d))
}

func (r *modelRunner) programs() (int, time.Duration) {
	return int(r.nPrograms.Load()), time.Duration(r.firstRunNanos.Load())
}

type loraKey struct {
	layer  int
	module string
}

// maxPrograms caps each Exec's compiled programs (shape buckets); GoMLX's default of 32 would be
// too few for rows x T x adapter layouts.
const maxPrograms = 256

func newModelRunner(m *model.Model, maxBatch, maxContext, maxAdapters int) *modelRunner {
	return &modelRunner{
		m: m, spec: m.Spec, backend: m.Backend(), maxBatch: maxBatch, S: maxContext,
		execs:    map[string]*graph.Exec{},
		adapters: make([]*adapterWeights, maxAdapters+1),
	}
}

// pow2 returns the smallest power of two >= n, capped at limit.
func pow2(n, limit int) int {
	b := 1
	for b < n {
		b *= 2
	}
	return min(b, limit)
}

// prefillBucket returns the T of a step whose longest row feeds n tokens.
func (r *modelRunner) prefillBucket(n int) int {
	if n == 1 {
		return 1
	}
	return pow2(max(n, 16), r.S)
}

func (r *modelRunner) setAdapter(slot int, w *adapterWeights) error {
	if slot <= 0 || slot >= len(r.adapters) {
		return fmt.Errorf("adapter slot %d out of range [1, %d)", slot, len(r.adapters))
	}
	r.adapters[slot] = w
	r.loraDirty = true
	return nil
}

// release frees the logits of the previous step.
func (r *modelRunner) release() {
	for _, t := range r.held {
		_ = t.FinalizeAll()
	}
	clear(r.held)
	r.held = r.held[:0]
}

// close releases the cache and the compiled programs.
func (r *modelRunner) close() {
	r.release()
	for _, t := range r.cache {
		_ = t.FinalizeAll()
	}
	r.cache = nil
	for _, t := range r.loraStack {
		_ = t.FinalizeAll()
	}
	r.loraStack = nil
	for _, e := range r.execs {
		e.Finalize()
	}
	if r.resize != nil {
		r.resize.Finalize()
	}
}

func (r *modelRunner) step(rows []stepRow) ([][]float32, error) {
	r.release()
	need := 1
	var prefill, decode []int
	for i, row := range rows {
		need = max(need, row.slot+1)
		if row.pos+len(row.tokens) > r.S {
			return nil, fmt.Errorf("slot %d: %d cached + %d new tokens exceed the cache length %d", row.slot, row.pos, len(row.tokens), r.S)
		}
		if len(row.tokens) == 0 {
			return nil, fmt.Errorf("slot %d: no new tokens", row.slot)
		}
		if len(row.tokens) > 1 {
			prefill = append(prefill, i)
		} else {
			decode = append(decode, i)
		}
	}
	if err := r.ensureRows(pow2(need, r.maxBatch)); err != nil {
		return nil, err
	}
	logits := make([][]float32, len(rows))
	// Prompts run on a sub-batch gathered from their cache rows, so a prompt joining a large
	// batch costs its own tokens, not the batch size times its length.
	if len(prefill) > 0 {
		if err := r.run(rows, prefill, true, logits); err != nil {
			return nil, err
		}
	}
	if len(decode) > 0 {
		if err := r.run(rows, decode, false, logits); err != nil {
			return nil, err
		}
	}
	return logits, nil
}

// run executes one program over the rows picked by which. gathered runs them as a sub-batch of
// their own (prefill); otherwise over all cache rows with T = 1 (decode), rows not picked
// feeding padding.
func (r *modelRunner) run(rows []stepRow, which []int, gathered bool, logits [][]float32) error {
	longest, useLoRA := 1, false
	for _, i := range which {
		longest = max(longest, len(rows[i].tokens))
		useLoRA = useLoRA || rows[i].adapter > 0
	}
	S := r.S
	B, T := r.rows, 1
	if gathered {
		B, T = pow2(len(which), 1<<20), r.prefillBucket(longest)
	}
	// line b of the program holds rows[which[k]] at b = k (gathered) or b = its slot.
	line := func(k int) int {
		if gathered {
			return k
		}
		return rows[which[k]].slot
	}
	ids := make([]int32, B*T)
	pos := make([]int32, B*T)
	slots := make([]int32, B*T)
	for i := range slots {
		slots[i] = -1 // padding writes nothing
	}
	mask := make([]bool, B*T*S)
	sel := make([]float32, B*T)
	nSlots := len(r.adapters) - 1
	var adapterSel []float32 // [B, nSlots*R]: ones over the R columns of each line's adapter
	if useLoRA {
		if err := r.refreshLoRA(); err != nil {
			return err
		}
		adapterSel = make([]float32, B*nSlots*r.loraRank)
	}
	rowIdx := make([]int32, B)
	rowHot := make([]float32, B*r.rows)
	for k, i := range which {
		row, b := rows[i], line(k)
		for t, id := range row.tokens {
			p := row.pos + t
			ids[b*T+t] = int32(id)
			pos[b*T+t] = int32(p)
			slots[b*T+t] = int32(p)
			m := mask[(b*T+t)*S : (b*T+t+1)*S]
			for s := 0; s <= p; s++ {
				m[s] = true
			}
		}
		sel[b*T+len(row.tokens)-1] = 1
		if row.adapter > 0 && useLoRA {
			R := r.loraRank
			sel := adapterSel[b*nSlots*R+(row.adapter-1)*R : b*nSlots*R+row.adapter*R]
			for k := range sel {
				sel[k] = 1
			}
		}
		rowIdx[b] = int32(row.slot)
		rowHot[b*r.rows+row.slot] = 1
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(ids, B, T),
		tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(slots, B, T),
		tensors.FromFlatDataAndDimensions(mask, B, T, S),
		tensors.FromFlatDataAndDimensions(sel, B, T),
	}
	if gathered {
		args = append(args,
			tensors.FromFlatDataAndDimensions(rowIdx, B, 1),
			tensors.FromFlatDataAndDimensions(rowHot, B, r.rows))
	}
	if useLoRA {
		args = append(args, tensors.FromFlatDataAndDimensions(adapterSel, B, nSlots*r.loraRank))
	}
	nOwn := len(args)
	exec, err := r.exec(useLoRA, gathered)
	if err != nil {
		return err
	}
	for _, w := range r.m.Weights() {
		args = append(args, w)
	}
	for _, c := range r.cache {
		args = append(args, c)
	}
	if useLoRA {
		for _, t := range r.loraStack {
			args = append(args, t)
		}
	}
	t0 := time.Now()
	outs, err := exec.Exec(args...)
	took := time.Since(t0)
	for _, a := range args[:nOwn] {
		_ = a.(*tensors.Tensor).FinalizeAll()
	}
	if err != nil {
		return err
	}
	sig := ""
	if useLoRA {
		sig = r.loraSig
	}
	r.firstRun(fmt.Sprintf("step lora=%q prefill=%v B=%d T=%d rows=%d", sig, gathered, B, T, r.rows), took)
	for i, c := range r.cache {
		_ = c.FinalizeAll()
		r.cache[i] = outs[1+i]
	}
	// The rows' logits are slices of the output tensor's host copy, not a second copy: at
	// batch 64 and a 128K vocabulary that is 33 MB a step. The tensor stays alive until the
	// next step, which is as long as the scheduler reads the logits (the runner contract).
	var flat []float32
	err = outs[0].ConstFlatData(func(f any) { flat = f.([]float32) })
	r.held = append(r.held, outs[0])
	if err != nil {
		return err
	}
	V := r.spec.VocabSize
	for k, i := range which {
		b := line(k)
		logits[i] = flat[b*V : (b+1)*V : (b+1)*V]
	}
	return nil
}

// ensureRows sets the cache batch size to rows, keeping the content of the rows that stay.
func (r *modelRunner) ensureRows(rows int) error {
	if rows == r.rows {
		return nil
	}
	if r.cache == nil {
		spec := r.spec
		r.cache = make([]*tensors.Tensor, 2*spec.Layers)
		for i := range r.cache {
			r.cache[i] = tensors.FromShape(shapes.Make(dtypes.Float32, rows, spec.KVHeads, r.S, spec.HeadDim))
		}
		r.rows = rows
		return nil
	}
	return r.remap(rows, nil)
}

// move relocates the cache rows of slots (from -> to), so the scheduler can pack running
// requests into low slots and the cache can shrink.
func (r *modelRunner) move(moves map[int]int) error {
	if r.cache == nil || len(moves) == 0 {
		return nil
	}
	return r.remap(r.rows, moves)
}

// remap rebuilds the cache with rows rows: new row i is old row i, or old row from for a move
// from -> i; rows beyond the old size copy row 0 (stale content that the mask hides until the
// row's next request overwrites it).
func (r *modelRunner) remap(rows int, moves map[int]int) error {
	if r.resize == nil {
		e, err := graph.NewExec(r.backend, func(in []*graph.Node) []*graph.Node {
			idx := in[0] // [rows, 1]: the old row each new row comes from
			out := make([]*graph.Node, len(in)-1)
			for i, c := range in[1:] {
				out[i] = graph.Gather(c, idx)
			}
			return out
		})
		if err != nil {
			return err
		}
		e.SetMaxCache(maxPrograms)
		r.resize = e
	}
	idx := make([]int32, rows)
	for i := range idx {
		if i < r.rows {
			idx[i] = int32(i)
		}
	}
	for from, to := range moves {
		if from < 0 || from >= r.rows || to < 0 || to >= rows {
			return fmt.Errorf("move cache row %d to %d: out of range (rows %d)", from, to, r.rows)
		}
		idx[to] = int32(from)
	}
	args := []any{tensors.FromFlatDataAndDimensions(idx, rows, 1)}
	for _, c := range r.cache {
		args = append(args, c)
	}
	t0 := time.Now()
	outs, err := r.resize.Exec(args...)
	took := time.Since(t0)
	_ = args[0].(*tensors.Tensor).FinalizeAll()
	if err != nil {
		return err
	}
	r.firstRun(fmt.Sprintf("resize %d->%d", r.rows, rows), took)
	for i, c := range r.cache {
		_ = c.FinalizeAll()
		r.cache[i] = outs[i]
	}
	r.rows = rows
	return nil
}

// forward builds one program. in: ids, pos, slots, mask, sel, [row indices [B, 1] and row
// one-hots [B, rows] when gathered], [adapter rows when keys != nil], weights..., K caches...,
// V caches..., [LoRA stacks...]. out: logits [B, V], K caches..., V caches... (all cache rows).
func (r *modelRunner) forward(in []*graph.Node, keys []loraKey, gathered bool) []*graph.Node {
	spec := r.spec
	ids, pos, slots, mask, sel := in[0], in[1], in[2], in[3], in[4]
	rest := in[5:]
	var rowIdx, rowHot, adapterSel *graph.Node
	if gathered {
		rowIdx, rowHot, rest = rest[0], rest[1], rest[2:]
	}
	if keys != nil {
		adapterSel, rest = rest[0], rest[1:]
	}
	nw := len(r.m.WeightNames())
	w := spec.WeightsFromNodes(rest[:nw])
	rest = rest[nw:]
	caches := rest[:2*spec.Layers]
	rest = rest[2*spec.Layers:]
	sub := caches
	if gathered {
		sub = make([]*graph.Node, len(caches))
		for i, c := range caches {
			sub[i] = graph.Gather(c, rowIdx) // [B, KVHeads, S, HeadDim]
		}
	}
	var lora model.LoRAFunc
	if keys != nil {
		stacks := map[loraKey]loraStackNodes{}
		for i, k := range keys {
			stacks[k] = loraStackNodes{a: rest[2*i], bt: rest[2*i+1]}
		}
		lora = maskedLoRA(stacks, adapterSel, ids.Shape().Dimensions[1])
	}
	out := spec.Forward(w, model.Inputs{
		IDs: ids, Positions: pos, Mask: mask,
		Cache: &model.Cache{K: sub[:spec.Layers], V: sub[spec.Layers:], Slots: slots},
		LoRA:  lora,
	})
	last := graph.DotGeneral(sel, []int{1}, []int{0}, out.Hidden, []int{1}, []int{0}) // [B, hidden]
	logits := spec.LMHead(w, last)
	updated := append(out.K, out.V...)
	if gathered {
		// Scatter the sub-batch back: rows it holds are replaced, the others kept.
		hit := graph.ReduceSum(rowHot, 0) // [rows]
		for i, c := range caches {
			d := c.Shape().Dimensions
			back := graph.DotGeneral(rowHot, []int{0}, nil, updated[i], []int{0}, nil) // [rows, KVHeads, S, HeadDim]
			keep := graph.OneMinus(graph.Reshape(hit, d[0], 1, 1, 1))
			updated[i] = graph.Add(graph.Mul(c, keep), back)
		}
	}
	return append([]*graph.Node{logits}, updated...)
}

// exec returns the program for a step kind, compiling it on first use.
func (r *modelRunner) exec(useLoRA, gathered bool) (*graph.Exec, error) {
	var keys []loraKey
	key := fmt.Sprintf("base/%v", gathered)
	if useLoRA {
		keys = slices.Clone(r.loraKeys)
		key = fmt.Sprintf("%s/%v", r.loraSig, gathered)
	}
	if e, ok := r.execs[key]; ok {
		return e, nil
	}
	e, err := graph.NewExec(r.backend, func(in []*graph.Node) []*graph.Node { return r.forward(in, keys, gathered) })
	if err != nil {
		return nil, err
	}
	e.SetMaxCache(maxPrograms)
	r.execs[key] = e
	return e, nil
}

// refreshLoRA rebuilds the adapter stacks after the device slots changed: the adapted modules
// are the union over the resident adapters, ranks are zero-padded to a power of two.
func (r *modelRunner) refreshLoRA() error {
	if !r.loraDirty && r.loraStack != nil {
		return nil
	}
	spec := r.spec
	rank := 1
	used := map[loraKey]bool{}
	for _, a := range r.adapters {
		if a == nil {
			continue
		}
		for _, m := range a.modules {
			used[loraKey{m.layer, m.target}] = true
			rank = max(rank, m.rank)
		}
	}
	rank = pow2(rank, 1<<20)
	var keys []loraKey
	for l := range spec.Layers {
		for _, mod := range model.Modules {
			if used[loraKey{l, mod}] {
				keys = append(keys, loraKey{l, mod})
			}
		}
	}
	if len(keys) == 0 {
		return errors.New("a request names an adapter but no adapter is resident")
	}
	N := len(r.adapters) - 1
	stacks := make([]*tensors.Tensor, 0, 2*len(keys))
	for _, k := range keys {
		in, out, err := spec.ModuleDims(k.module)
		if err != nil {
			return err
		}
		A := make([]float32, N*rank*in)   // [N*R, in]
		Bt := make([]float32, out*N*rank) // [out, N*R], times the module's scale
		for slot, a := range r.adapters {
			if a == nil || slot == 0 {
				continue
			}
			n := slot - 1
			for _, m := range a.modules {
				if m.layer != k.layer || m.target != k.module {
					continue
				}
				// A [r, in] into rows n*R.. of A; scale * B [out, r] into columns n*R.. of B^T;
				// the ranks past r stay zero.
				copy(A[n*rank*in:], m.a)
				for o := range out {
					dst := Bt[o*N*rank+n*rank : o*N*rank+n*rank+m.rank]
					for k, v := range m.b[o*m.rank : (o+1)*m.rank] {
						dst[k] = v * m.scale
					}
				}
			}
		}
		stacks = append(stacks,
			tensors.FromFlatDataAndDimensions(A, N*rank, in),
			tensors.FromFlatDataAndDimensions(Bt, out, N*rank))
	}
	for _, t := range r.loraStack {
		_ = t.FinalizeAll()
	}
	r.loraStack, r.loraKeys, r.loraRank, r.loraDirty = stacks, keys, rank, false
	var sig strings.Builder
	fmt.Fprintf(&sig, "r%d", rank)
	for _, k := range keys {
		fmt.Fprintf(&sig, ";%d/%s", k.layer, k.module)
	}
	r.loraSig = sig.String()
	return nil
}

// weightsFromModelAdapter converts a validated model adapter.
func weightsFromModelAdapter(a *model.Adapter) *adapterWeights {
	w := &adapterWeights{}
	for _, m := range a.Modules {
		w.modules = append(w.modules, loraModule{layer: m.Layer, target: m.Module, rank: m.Rank, a: m.A, b: m.B, scale: m.Scale})
		w.rank = max(w.rank, m.Rank)
	}
	return w
}
