package tuning

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/sectorflow/sdk/internal/model"
)

// stepper computes, for one micro-batch, every position's cross-entropy loss and (optionally)
// the gradient of their sum with respect to each LoRA tensor. The base weights are graph
// parameters that are never differentiated.
type stepper struct {
	m       *model.Model
	set     *loraSet
	dropout float64
	train   *graph.Exec // outputs: token losses [B, T], then dSum/dA, dSum/dB per module
	eval    *graph.Exec // outputs: token losses [B, T]
}

// maxPrograms bounds the compiled shapes of each program (rows x length buckets).
const maxPrograms = 64

func newStepper(m *model.Model, set *loraSet, dropout float64) (*stepper, error) {
	st := &stepper{m: m, set: set, dropout: dropout}
	var err error
	if st.train, err = graph.NewExec(m.Backend(), func(in []*graph.Node) []*graph.Node { return st.build(in, true) }); err != nil {
		return nil, fmt.Errorf("training program: %w", err)
	}
	if st.eval, err = graph.NewExec(m.Backend(), func(in []*graph.Node) []*graph.Node { return st.build(in, false) }); err != nil {
		return nil, fmt.Errorf("evaluation program: %w", err)
	}
	st.train.SetMaxCache(maxPrograms)
	st.eval.SetMaxCache(maxPrograms)
	return st, nil
}

// close releases the compiled programs.
func (st *stepper) close() {
	st.train.Finalize()
	st.eval.Finalize()
}

// Program inputs: ids, positions, segments, labels [B, T] int32, rng state, then A and B of each
// LoRA module, then the base weights in the model's order.
const fixedInputs = 5

func (st *stepper) build(in []*graph.Node, withGrad bool) []*graph.Node {
	spec := st.m.Spec
	ids, pos, seg, labels, rng := in[0], in[1], in[2], in[3], in[4]
	nl := 2 * len(st.set.Modules)
	lora := in[fixedInputs : fixedInputs+nl]
	w := spec.WeightsFromNodes(in[fixedInputs+nl:])
	g := ids.Graph()
	B, T := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]

	// Attention mask from the segments: same sample and causal; padding sees only itself.
	segQ := graph.Reshape(seg, B, T, 1)
	segK := graph.Reshape(seg, B, 1, T)
	q := graph.Iota(g, shapes.Make(dtypes.Int32, B, T, T), 1)
	k := graph.Iota(g, shapes.Make(dtypes.Int32, B, T, T), 2)
	zero := graph.Scalar(g, dtypes.Int32, 0)
	sameSample := graph.LogicalAnd(graph.Equal(segQ, segK), graph.LessOrEqual(k, q))
	pad := graph.BroadcastToDims(graph.Equal(segQ, zero), B, T, T)
	mask := graph.Where(pad, graph.Equal(q, k), sameSample)

	byKey := map[string]int{}
	for i, m := range st.set.Modules {
		byKey[fmt.Sprintf("%d/%s", m.Layer, m.Target)] = i
	}
	scale := float32(st.set.Scale())
	p := st.dropout
	hook := func(layer int, module string, x *graph.Node) *graph.Node {
		i, ok := byKey[fmt.Sprintf("%d/%s", layer, module)]
		if !ok {
			return nil
		}
		if withGrad && p > 0 {
			var u *graph.Node
			rng, u = graph.RandomUniform(rng, x.Shape())
			keep := graph.GreaterOrEqual(u, graph.Scalar(g, dtypes.Float32, p))
			x = graph.Where(keep, graph.MulScalar(x, 1/(1-p)), graph.ZerosLike(x))
		}
		return model.LoRADelta(x, lora[2*i], lora[2*i+1], scale)
	}
	out := spec.Forward(w, model.Inputs{IDs: ids, Positions: pos, Mask: mask, LoRA: hook})
	logits := spec.LMHead(w, out.Hidden) // [B, T, V]
	logp := graph.LogSoftmax(logits, -1)
	valid := graph.GreaterOrEqual(labels, zero)
	safe := graph.Where(valid, labels, graph.ZerosLike(labels))
	// logp[b, t, label[b, t]] by a gather (its gradient is a scatter-sum): no one-hot [B, T, V].
	idx := graph.Stack([]*graph.Node{
		graph.Iota(g, shapes.Make(dtypes.Int32, B, T), 0),
		graph.Iota(g, shapes.Make(dtypes.Int32, B, T), 1),
		safe,
	}, -1)
	picked := graph.Gather(logp, idx)                                         // [B, T]
	tokLoss := graph.Where(valid, graph.Neg(picked), graph.ZerosLike(picked)) // [B, T]
	if !withGrad {
		return []*graph.Node{tokLoss}
	}
	grads := graph.Gradient(graph.ReduceAllSum(tokLoss), lora...)
	return append([]*graph.Node{tokLoss}, grads...)
}

// run executes one micro-batch; it returns per-position losses [Rows*Len] and, with withGrad,
// the gradients of their sum in the order of loraSet.params(). rngSeed seeds dropout.
func (st *stepper) run(ctx context.Context, b *batch, withGrad bool, rngSeed int64) (losses []float32, grads [][]float32, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("training step: graph failure: %v", r)
		}
	}()
	rngState, err := graph.RNGStateFromSeed(rngSeed)
	if err != nil {
		return nil, nil, err
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(b.IDs, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Positions, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Segments, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Labels, b.Rows, b.Len),
		rngState,
	}
	for _, m := range st.set.Modules {
		args = append(args,
			tensors.FromFlatDataAndDimensions(m.A, st.set.Rank, m.In),
			tensors.FromFlatDataAndDimensions(m.B, m.Out, st.set.Rank))
	}
	for _, w := range st.m.Weights() {
		args = append(args, w)
	}
	exec := st.eval
	if withGrad {
		exec = st.train
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		return nil, nil, fmt.Errorf("training step: %w", err)
	}
	losses = tensors.MustCopyFlatData[float32](outs[0])
	for _, o := range outs[1:] {
		grads = append(grads, tensors.MustCopyFlatData[float32](o))
	}
	for _, o := range outs {
		_ = o.FinalizeAll()
	}
	for _, a := range args[:fixedInputs+2*len(st.set.Modules)] {
		_ = a.(*tensors.Tensor).FinalizeAll()
	}
	for _, l := range losses {
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return nil, nil, fmt.Errorf("training step: loss is %v; lower the learning rate or check the data", l)
		}
	}
	return losses, grads, nil
}
