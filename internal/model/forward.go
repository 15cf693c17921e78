package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	_ "github.com/sectorflow/sdk/internal/graphx" // the two-DotGeneral gradient, for tuning
)

// LoRAFunc returns the delta to add to the output of one projection: layer is the decoder layer,
// module one of [Modules] ("q_proj", ...), and x the projection's input [B, T, in]. It returns
// [B, T, out] already scaled, or nil for no delta. Tuning plugs trainable A/B variables here,
// inference a per-row gather over a stack of adapters.
type LoRAFunc func(layer int, module string, x *graph.Node) *graph.Node

// Cache is the optional key/value cache of a forward pass. K[i] and V[i] are layer i's cache, of
// fixed shape [B, KVHeads, S, HeadDim] (post-RoPE keys, as transformers caches them). The T new
// tokens' keys and values are written at Slots [B, T] int32 (each in [0, S)); two tokens of one
// row must not share a slot. The attention then runs over all S slots, so Inputs.Mask is
// [B, T, S] and must hide slots that hold nothing yet.
type Cache struct {
	K, V  []*graph.Node
	Slots *graph.Node
	// KeyPositions [B, S] int32 are the RoPE positions of the tokens in the slots, used only by
	// sliding-window layers. Nil means slot s holds position s.
	KeyPositions *graph.Node
}

// Inputs are the graph inputs of a forward pass.
type Inputs struct {
	// IDs are the token ids [B, T] int32.
	IDs *graph.Node
	// Positions are the RoPE positions [B, T] int32 of the tokens (per row: padding and packed
	// sequences restart or skip positions as the caller wants).
	Positions *graph.Node
	// Mask [B, T, S] bool says that query t may attend key s; S = T without a cache. The caller
	// expresses causality, padding and block-diagonal packing here; sliding-window layers also
	// hide keys at positions <= query position - window.
	Mask *graph.Node
	// Cache is nil for a plain forward pass.
	Cache *Cache
	// LoRA is nil for the base model.
	LoRA LoRAFunc
}

// Outputs are the results of a forward pass.
type Outputs struct {
	// Hidden [B, T, Hidden] is the last hidden state after the final RMSNorm; [Spec.LMHead]
	// turns (a gather of) it into logits.
	Hidden *graph.Node
	// K and V are the updated caches (nil without a cache).
	K, V []*graph.Node
}

// Forward builds the decoder graph: embedding, the layers, and the final norm. Like all GoMLX
// graph building it panics on a shape error; engines recover at their boundary (see
// [Model.Logits]). Every computation runs in float32 (weights of another dtype are converted at
// use), except, with [Spec].BF16, the matrix products of the projections, the attention and the
// LM head, whose operands are then bfloat16 and whose results are converted back to float32.
// Nothing on the differentiable path uses Slice, Pad or DynamicSlice (RoPE's rotate_half is a
// constant signed permutation matmul), so gradients work on the pure-Go backend.
func (s *Spec) Forward(w *WeightNodes, in Inputs) Outputs {
	if in.IDs == nil || in.IDs.Rank() != 2 {
		panic(fmt.Errorf("ids: want int32[B T], have %v", in.IDs))
	}
	g := in.IDs.Graph()
	B, T := in.IDs.Shape().Dimensions[0], in.IDs.Shape().Dimensions[1]
	checkDims("ids", in.IDs, dtypes.Int32, B, T)
	checkDims("positions", in.Positions, dtypes.Int32, B, T)
	S := T
	if in.Cache != nil {
		if len(in.Cache.K) != s.Layers || len(in.Cache.V) != s.Layers {
			panic(fmt.Errorf("kv cache: have %d K and %d V tensors, want one per layer (%d)", len(in.Cache.K), len(in.Cache.V), s.Layers))
		}
		if in.Cache.K[0] == nil || in.Cache.K[0].Rank() != 4 {
			panic(fmt.Errorf("kv cache: layer 0 K is %v, want float32[B KVHeads S HeadDim]", in.Cache.K[0]))
		}
		S = in.Cache.K[0].Shape().Dimensions[2]
		for i := range s.Layers {
			checkDims(fmt.Sprintf("layer %d cache K", i), in.Cache.K[i], in.Cache.K[0].DType(), B, s.KVHeads, S, s.HeadDim)
			checkDims(fmt.Sprintf("layer %d cache V", i), in.Cache.V[i], in.Cache.K[0].DType(), B, s.KVHeads, S, s.HeadDim)
		}
		checkDims("cache slots", in.Cache.Slots, dtypes.Int32, B, T)
	}
	checkDims("mask", in.Mask, dtypes.Bool, B, T, S)

	x := f32(graph.Gather(w.Embed, graph.ExpandAxes(in.IDs, -1))) // [B, T, hidden]: convert the rows, not the table
	cos, sin := s.ropeTables(in.Positions)
	rot := rotateHalfMatrix(g, s.HeadDim)

	// Sliding layers hide keys at positions <= query position - window, on top of the mask.
	var keyPos *graph.Node
	masks := map[int]*graph.Node{0: in.Mask}
	layerMask := func(window int) *graph.Node {
		if m, ok := masks[window]; ok {
			return m
		}
		if keyPos == nil {
			switch {
			case in.Cache == nil:
				keyPos = in.Positions
			case in.Cache.KeyPositions != nil:
				keyPos = in.Cache.KeyPositions
				checkDims("cache key positions", keyPos, dtypes.Int32, B, S)
			default:
				keyPos = graph.Iota(g, shapes.Make(dtypes.Int32, B, S), 1)
			}
		}
		lim := graph.Sub(in.Positions, graph.Scalar(g, dtypes.Int32, window))
		m := graph.LogicalAnd(in.Mask, graph.GreaterThan(graph.ExpandAxes(keyPos, 1), graph.ExpandAxes(lim, -1)))
		masks[window] = m
		return m
	}

	var write cacheWriter
	if in.Cache != nil {
		write = newCacheWriter(in.Cache.Slots, s.KVHeads, S, s.HeadDim)
	}
	var out Outputs
	for i := range s.Layers {
		mask := layerMask(s.window(i))
		var ck, cv *graph.Node
		if in.Cache != nil {
			ck, cv = in.Cache.K[i], in.Cache.V[i]
		}
		var nk, nv *graph.Node
		x, nk, nv = s.layer(i, &w.Layers[i], x, cos, sin, rot, mask, ck, cv, write, in.LoRA)
		if in.Cache != nil {
			out.K = append(out.K, nk)
			out.V = append(out.V, nv)
		}
	}
	out.Hidden = rmsNorm(x, f32(w.Norm), s.RMSNormEps)
	return out
}

// operands returns the operands of a matrix product in the spec's product dtype: bfloat16 with
// [Spec].BF16, else float32.
func (s *Spec) operands(x, y *graph.Node) (*graph.Node, *graph.Node) {
	if s.BF16 {
		return toDType(x, dtypes.BFloat16), toDType(y, dtypes.BFloat16)
	}
	return f32(x), f32(y)
}

func toDType(x *graph.Node, dt dtypes.DType) *graph.Node {
	if x.DType() == dt {
		return x
	}
	return graph.ConvertDType(x, dt)
}

// LMHead returns the logits [..., vocab] of hidden states [..., Hidden] (typically
// [Outputs.Hidden] or a gather of its last positions).
func (s *Spec) LMHead(w *WeightNodes, hidden *graph.Node) *graph.Node {
	return project(s.operands(hidden, w.LMHead))
}

// project splits products of at most fewRows rows (decode steps of up to 32 sequences) and at least minSplit outputs into chunks
// of at most smallProduct/rows outputs: GoMLX v0.26.0's pure-Go backend runs a product whose
// rows x outputs (per batch example) exceed smallProduct by re-blocking both operands, and
// parallelises smaller ones across the batch axis only.
const fewRows, minSplit, smallProduct = 32, 1024, 16384

// minChunk is the smallest chunk worth a separate product; outputs without such a divisor are
// not split.
const minChunk = 64

// project computes x W^T for x [..., in] and W [out, in] (of one dtype), as float32. For a
// decoding step (few rows) and a large output it splits W's rows into at least two equal chunks
// along a batch axis: the pure-Go backend then runs small independent products in parallel (it
// parallelises small products only across the batch) instead of one product on one core, or of
// re-blocking the whole LM head on every call; on XLA it is the same product.
func project(x, w *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	rows := x.Shape().Size() / dims[len(dims)-1]
	out, in := w.Shape().Dimensions[0], w.Shape().Dimensions[1]
	p := 0
	if rows <= fewRows && out >= minSplit {
		maxChunk := smallProduct / rows
		for c := 2; c <= 4096; c++ {
			if out%c == 0 && out/c <= maxChunk && out/c >= minChunk {
				p = c
				break
			}
		}
	}
	if p == 0 {
		return f32(graph.DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil))
	}
	size := out / p
	xr := graph.BroadcastToDims(graph.Reshape(x, 1, rows, in), p, rows, in)
	y := graph.DotGeneral(xr, []int{2}, []int{0}, graph.Reshape(w, p, size, in), []int{2}, []int{0}) // [p, rows, size]
	y = graph.TransposeAllAxes(f32(y), 1, 0, 2)
	return graph.Reshape(y, append(append([]int{}, dims[:len(dims)-1]...), out)...)
}

func checkDims(what string, n *graph.Node, dt dtypes.DType, dims ...int) {
	if n == nil {
		panic(fmt.Errorf("%s: missing input, want %s%v", what, dt, dims))
	}
	if n.DType() != dt || !equalInts(n.Shape().Dimensions, dims) {
		panic(fmt.Errorf("%s has shape %s, want %s%v", what, n.Shape(), dt, dims))
	}
}

// f32 converts a weight to float32 where it is stored in another dtype (bf16 on the CPU).
func f32(x *graph.Node) *graph.Node {
	if x == nil || x.DType() == dtypes.Float32 {
		return x
	}
	return graph.ConvertDType(x, dtypes.Float32)
}

// rmsNorm computes w * x / sqrt(mean(x^2) + eps) over the last axis (1/Sqrt, not Rsqrt, which
// has no gradient in GoMLX).
func rmsNorm(x, w *graph.Node, eps float64) *graph.Node {
	g := x.Graph()
	variance := graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1)
	inv := graph.Reciprocal(graph.Sqrt(graph.Add(variance, graph.Scalar(g, x.DType(), eps))))
	y := graph.Mul(x, inv)
	shape := make([]int, x.Rank())
	for i := range shape {
		shape[i] = 1
	}
	shape[len(shape)-1] = w.Shape().Dimensions[0]
	return graph.Mul(graph.Reshape(w, shape...), y)
}

// linear computes x W^T (+ b) for x [B, T, in] and W [out, in], plus the LoRA delta (always
// from the float32 x).
func (s *Spec) linear(layer int, module string, x, w, b *graph.Node, lora LoRAFunc) *graph.Node {
	y := project(s.operands(x, w))
	if b != nil {
		y = graph.Add(y, graph.Reshape(f32(b), 1, 1, b.Shape().Dimensions[0]))
	}
	if lora != nil {
		if d := lora(layer, module, x); d != nil {
			if !d.Shape().Equal(y.Shape()) {
				panic(fmt.Errorf("layer %d: LoRA delta of %s has shape %s, want %s", layer, module, d.Shape(), y.Shape()))
			}
			y = graph.Add(y, d)
		}
	}
	return y
}

// ropeTables returns cos and sin [B, T, 1, HeadDim] of positions [B, T]: freqs = pos * inv_freq
// in float32, duplicated as cat(freqs, freqs), as transformers computes them.
func (s *Spec) ropeTables(positions *graph.Node) (cos, sin *graph.Node) {
	g := positions.Graph()
	half := len(s.RopeInvFreq)
	inv := graph.Const(g, s.RopeInvFreq)
	inv = graph.Reshape(inv, 1, 1, half)
	freqs := graph.Mul(graph.ExpandAxes(graph.ConvertDType(positions, dtypes.Float32), -1), inv) // [B, T, half]
	emb := graph.Concatenate([]*graph.Node{freqs, freqs}, -1)
	emb = graph.ExpandAxes(emb, 2) // [B, T, 1, hd]
	return graph.Cos(emb), graph.Sin(emb)
}

// rotateHalfMatrix returns P [hd, hd] with x P = rotate_half(x) = cat(-x[hd/2:], x[:hd/2]).
func rotateHalfMatrix(g *graph.Graph, hd int) *graph.Node {
	h := hd / 2
	p := make([]float32, hd*hd)
	for i := range h {
		p[(i+h)*hd+i] = -1 // out[i] = -x[i+h]
		p[i*hd+i+h] = 1    // out[i+h] = x[i]
	}
	return graph.ConstTensor(g, tensors.FromFlatDataAndDimensions(p, hd, hd))
}

// rope applies q*cos + rotate_half(q)*sin to x [B, T, heads, hd].
func rope(x, cos, sin, rot *graph.Node) *graph.Node {
	rotated := graph.DotGeneral(x, []int{3}, nil, rot, []int{0}, nil)
	return graph.Add(graph.Mul(x, cos), graph.Mul(rotated, sin))
}

// layer builds decoder layer i. x is [B, T, hidden]; ck, cv are the layer's cache or nil.
func (s *Spec) layer(i int, w *LayerNodes, x, cos, sin, rot, mask, ck, cv *graph.Node, write cacheWriter, lora LoRAFunc) (*graph.Node, *graph.Node, *graph.Node) {
	g := x.Graph()
	B, T := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	nH, nKV, hd := s.Heads, s.KVHeads, s.HeadDim
	rep := nH / nKV

	h := rmsNorm(x, f32(w.InputNorm), s.RMSNormEps)
	q := graph.Reshape(s.linear(i, ModuleQ, h, w.Q, w.QBias, lora), B, T, nH, hd)
	k := graph.Reshape(s.linear(i, ModuleK, h, w.K, w.KBias, lora), B, T, nKV, hd)
	v := graph.Reshape(s.linear(i, ModuleV, h, w.V, w.VBias, lora), B, T, nKV, hd)
	if s.QKNorm {
		q = rmsNorm(q, f32(w.QNorm), s.RMSNormEps)
		k = rmsNorm(k, f32(w.KNorm), s.RMSNormEps)
	}
	q = rope(q, cos, sin, rot)
	k = rope(k, cos, sin, rot)
	k = graph.TransposeAllAxes(k, 0, 2, 1, 3) // [B, nKV, T, hd]
	v = graph.TransposeAllAxes(v, 0, 2, 1, 3)
	if ck != nil {
		k = write(ck, k)
		v = write(cv, v)
	}
	S := k.Shape().Dimensions[2]

	// Query head j uses kv head j / rep (transformers' repeat_kv): group the query heads.
	q5 := graph.Reshape(q, B, T, nKV, rep, hd)
	qa, ka := s.operands(q5, k)
	scores := f32(graph.DotGeneral(qa, []int{4}, []int{0, 2}, ka, []int{3}, []int{0, 1})) // [B, nKV, T, rep, S]
	scores = graph.MulScalar(scores, float32(math.Pow(float64(hd), -0.5)))
	m := graph.BroadcastToDims(graph.Reshape(mask, B, 1, T, 1, S), B, nKV, T, rep, S)
	scores = graph.Where(m, scores, graph.Scalar(g, dtypes.Float32, -math.MaxFloat32))
	probs := graph.Softmax(scores, -1)
	pa, va := s.operands(probs, v)
	o := f32(graph.DotGeneral(pa, []int{4}, []int{0, 1}, va, []int{2}, []int{0, 1})) // [B, nKV, T, rep, hd]
	o = graph.Reshape(graph.TransposeAllAxes(o, 0, 2, 1, 3, 4), B, T, nH*hd)
	x = graph.Add(x, s.linear(i, ModuleO, o, w.O, w.OBias, lora))

	h = rmsNorm(x, f32(w.PostAttnNorm), s.RMSNormEps)
	gate := s.linear(i, ModuleGate, h, w.Gate, w.GateBias, lora)
	up := s.linear(i, ModuleUp, h, w.Up, w.UpBias, lora)
	act := graph.Mul(graph.Mul(gate, graph.Sigmoid(gate)), up)
	x = graph.Add(x, s.linear(i, ModuleDown, act, w.Down, w.DownBias, lora))
	return x, k, v
}

// cacheWriter writes fresh [B, nKV, T, hd] into a layer's cache [B, nKV, S, hd] at the
// forward pass's slots and returns the updated cache (in float32).
type cacheWriter func(cache, fresh *graph.Node) *graph.Node

// newCacheWriter returns the cache writer for slots [B, T] (the pure-Go backend has no
// DynamicUpdateSlice; both forms run on every backend). A slot outside [0, S) writes nothing.
//
// With one new token per row (a decode step) it is a Where over the cache with a slot mask built
// once for all layers: one elementwise pass. With T > 1 (prefill) it is a one-hot product. The
// product at T = 1 would contract over an axis of 1 that the pure-Go backend pads to its 32-wide
// blocks: at batch 8 and 256 slots that was 270M multiply-adds per decode step, a quarter of the
// step's useful work, growing with batch x cache length.
func newCacheWriter(slots *graph.Node, nKV, S, hd int) cacheWriter {
	g := slots.Graph()
	B, T := slots.Shape().Dimensions[0], slots.Shape().Dimensions[1]
	if T == 1 {
		hit := graph.Equal(graph.Iota(g, shapes.Make(dtypes.Int32, B, S), 1), graph.BroadcastToDims(slots, B, S)) // [B, S]
		hit = graph.BroadcastToDims(graph.Reshape(hit, B, 1, S, 1), B, nKV, S, hd)
		return func(cache, fresh *graph.Node) *graph.Node {
			return graph.Where(hit, graph.BroadcastToDims(fresh, B, nKV, S, hd), f32(cache))
		}
	}
	oneHot := graph.OneHot(slots, S, dtypes.Float32)                              // [B, T, S]
	keep := graph.OneMinus(graph.Reshape(graph.ReduceMax(oneHot, 1), B, 1, S, 1)) // [B, 1, S, 1]
	return func(cache, fresh *graph.Node) *graph.Node {
		written := graph.DotGeneral(fresh, []int{2}, []int{0}, oneHot, []int{1}, []int{0}) // [B, nKV, hd, S]
		written = graph.TransposeAllAxes(written, 0, 1, 3, 2)                              // [B, nKV, S, hd]
		return graph.Add(graph.Mul(f32(cache), keep), written)
	}
}

// SelectPositions returns hidden[b, index[b]] for hidden [B, T, H] and index [B] int32: the
// rows whose logits a decoder step needs (the last real token of each row), so that [Spec.LMHead]
// runs on [B, H] instead of [B, T, H].
func SelectPositions(hidden, index *graph.Node) *graph.Node {
	dims := hidden.Shape().Dimensions
	B, T, H := dims[0], dims[1], dims[2]
	g := hidden.Graph()
	flat := graph.Add(graph.Mul(graph.Iota(g, shapes.Make(dtypes.Int32, B), 0), graph.Scalar(g, dtypes.Int32, T)),
		graph.ConvertDType(index, dtypes.Int32))
	return graph.Gather(graph.Reshape(hidden, B*T, H), graph.ExpandAxes(flat, -1))
}
