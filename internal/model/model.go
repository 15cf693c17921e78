package model

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // the pure-Go backend
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// Model is an architecture instance with its base weights (float32, or bfloat16 with
// [Options].BF16 or KeepBF16) on its backend's device, ready to build forward graphs or to
// compute logits directly.
type Model struct {
	// Spec describes the architecture instance.
	Spec *Spec
	// Config is the parsed config.json when the model was loaded from a directory, else nil.
	Config *hfconfig.Config

	names   []string
	weights []*tensors.Tensor
	backend backends.Backend

	mu    sync.Mutex
	execs map[string]*graph.Exec // per adapter signature; each compiles one program per shape bucket
	// use is held (read) by each Logits call for its whole run and (write) by Close, so that
	// Close waits for calls in flight instead of freeing buffers a running program reads.
	use sync.RWMutex
}

// Options configure a Model; the zero value means the defaults.
type Options struct {
	// Backend runs the compiled programs; nil means the process default backend.
	Backend backends.Backend
	// KeepBF16 keeps BF16 checkpoint tensors as BF16 in memory (half the memory; converted to
	// float32 where the graph uses them, so results are unchanged). By default every weight is
	// converted to float32 on load; F16 always is (the pure-Go backend has no float16).
	KeepBF16 bool
	// BF16 runs the model's matrix products in bfloat16: every weight is stored as bfloat16
	// (BF16 checkpoints as they are, others rounded on load: half the memory of float32) and
	// the products of the projections, the attention and the LM head take bfloat16 operands
	// (tensor cores on GPUs, float32 accumulation). Embedding lookup, norms, RoPE, softmax, the
	// residual stream, the KV cache and LoRA stay float32, as under torch.autocast. Logits then
	// differ from float32's by bfloat16 rounding (about 1e-2). It implies KeepBF16.
	BF16 bool
}

// New returns a model whose weights are read from r (a safetensors checkpoint) after checking
// every tensor of the spec's weight table is there with the right shape.
func New(spec *Spec, r TensorReader, opts *Options) (*Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("model spec: %w", err)
	}
	bf16 := opts != nil && opts.BF16
	w, err := spec.readWeights(r, bf16 || (opts != nil && opts.KeepBF16))
	if err != nil {
		return nil, err
	}
	return newModel(spec, w, opts)
}

// NewRandom returns a model with random normal weights (standard deviation std, norms 1) from
// seed, for benchmarks and tests that need no checkpoint.
func NewRandom(spec *Spec, seed uint64, std float64, opts *Options) (*Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("model spec: %w", err)
	}
	return newModel(spec, spec.randomWeights(seed, std), opts)
}

func newModel(spec *Spec, w []*tensors.Tensor, opts *Options) (*Model, error) {
	if opts != nil && opts.BF16 {
		sp := *spec
		sp.BF16 = true
		spec = &sp
		for i, t := range w {
			if t.DType() != dtypes.BFloat16 {
				w[i] = toBF16(t)
			}
		}
	}
	m := &Model{Spec: spec, weights: w, execs: map[string]*graph.Exec{}}
	for _, t := range spec.Tensors() {
		m.names = append(m.names, t.Name)
	}
	if opts != nil && opts.Backend != nil {
		m.backend = opts.Backend
	} else {
		b, err := defaultBackend()
		if err != nil {
			return nil, err
		}
		m.backend = b
	}
	// Put the weights on the device now: GoMLX's first transfer of a tensor is not safe against
	// concurrent executions reading it, and it happens once here instead of in the first call.
	if err := placeOnDevice(m.backend, m.weights, m.backend.HasSharedBuffers()); err != nil {
		return nil, err
	}
	return m, nil
}

// Backend returns the backend the model's programs run on.
func (m *Model) Backend() backends.Backend { return m.backend }

// WeightNames returns the checkpoint names of the base weights in the order of [Model.Weights]
// and of the nodes [Spec.WeightsFromNodes] expects.
func (m *Model) WeightNames() []string { return append([]string(nil), m.names...) }

// Weights returns the base weight tensors (shared, not copied: do not modify them) in the order
// of [Model.WeightNames]. Pass them as program parameters or variable values.
func (m *Model) Weights() []*tensors.Tensor { return append([]*tensors.Tensor(nil), m.weights...) }

// Close releases the weights' memory and the compiled programs. It waits for Logits calls in
// flight; later calls fail. Programs of other packages fed the model's weights must have
// finished. Logits is safe for concurrent use.
func (m *Model) Close() error {
	m.use.Lock()
	defer m.use.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.execs {
		e.Finalize()
	}
	m.execs = map[string]*graph.Exec{}
	var errs []error
	for _, t := range m.weights {
		if t != nil {
			errs = append(errs, t.FinalizeAll())
		}
	}
	m.weights = nil
	return errors.Join(errs...)
}

// bucket rounds a sequence length up to the next power of two (at least 16), so that the
// programs compiled for Logits stay few.
func bucket(n int) int {
	b := 16
	for b < n {
		b *= 2
	}
	return b
}

// maxPrograms caps the per-adapter compiled programs (one per length bucket).
const maxPrograms = 64

// Logits runs one sequence of token ids through the model (positions 0..T-1, causal attention)
// with an optional LoRA adapter, and returns the float32 logits [T][vocab]. Programs are
// compiled once per adapter layout and length bucket and cached.
func (m *Model) Logits(ctx context.Context, ids []int32, adapter *Adapter) (logits [][]float32, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("logits: no token ids, want at least one")
	}
	for i, id := range ids {
		if id < 0 || int(id) >= m.Spec.VocabSize {
			return nil, fmt.Errorf("logits: token %d is id %d, want 0 <= id < vocab size %d", i, id, m.Spec.VocabSize)
		}
	}
	adapter = adapter.sorted()
	if adapter != nil {
		if err := adapter.Check(m.Spec); err != nil {
			return nil, fmt.Errorf("logits: %w", err)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("logits: graph failure: %v", r)
		}
	}()
	m.use.RLock()
	defer m.use.RUnlock()
	exec, err := m.logitsExec(adapter)
	if err != nil {
		return nil, err
	}
	T := len(ids)
	Tb := bucket(T)
	idsB := make([]int32, Tb)
	copy(idsB, ids)
	pos := make([]int32, Tb)
	mask := make([]bool, Tb*Tb)
	for t := range Tb {
		pos[t] = int32(t)
		for s := 0; s <= t; s++ {
			mask[t*Tb+s] = true
		}
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(idsB, 1, Tb),
		tensors.FromFlatDataAndDimensions(pos, 1, Tb),
		tensors.FromFlatDataAndDimensions(mask, 1, Tb, Tb),
	}
	for _, w := range m.weights {
		args = append(args, w)
	}
	for _, t := range adapter.tensors(m.Spec) {
		args = append(args, t)
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("logits: %w", err)
	}
	defer func() { _ = outs[0].FinalizeAll() }()
	flat := tensors.MustCopyFlatData[float32](outs[0])
	V := m.Spec.VocabSize
	logits = make([][]float32, T)
	for t := range T {
		logits[t] = flat[t*V : (t+1)*V : (t+1)*V]
	}
	return logits, nil
}

func (m *Model) logitsExec(adapter *Adapter) (*graph.Exec, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.weights == nil {
		return nil, errors.New("logits: model is closed")
	}
	sig := adapter.signature()
	if e, ok := m.execs[sig]; ok {
		return e, nil
	}
	spec := m.Spec
	nw := len(m.weights)
	e, err := graph.NewExec(m.backend, func(inputs []*graph.Node) *graph.Node {
		w := spec.WeightsFromNodes(inputs[3 : 3+nw])
		out := spec.Forward(w, Inputs{
			IDs: inputs[0], Positions: inputs[1], Mask: inputs[2],
			LoRA: StaticLoRA(adapter, inputs[3+nw:]),
		})
		return spec.LMHead(w, out.Hidden)
	})
	if err != nil {
		return nil, fmt.Errorf("logits: %w", err)
	}
	e.SetMaxCache(maxPrograms)
	m.execs[sig] = e
	return e, nil
}

// placeOnDevice moves the weights to device 0. With shared buffers (the pure-Go backend) the host
// copy becomes the device buffer. Otherwise (XLA) each tensor is replaced by one that lives only
// on the device, so host memory holds at most one tensor's copy at a time, not the whole model.
func placeOnDevice(b backends.Backend, w []*tensors.Tensor, shared bool) error {
	for i, t := range w {
		if shared {
			if _, err := t.Buffer(b, 0); err != nil {
				return fmt.Errorf("model weights: tensor %d to device: %w", i, err)
			}
			continue
		}
		var buf backends.Buffer
		var err error
		if cerr := t.ConstFlatData(func(flat any) { buf, err = b.BufferFromFlatData(0, flat, t.Shape()) }); cerr != nil {
			return fmt.Errorf("model weights: tensor %d: %w", i, cerr)
		}
		if err != nil {
			return fmt.Errorf("model weights: tensor %d to device: %w", i, err)
		}
		onDevice, err := tensors.FromBuffer(b, buf)
		if err != nil {
			return fmt.Errorf("model weights: tensor %d: %w", i, err)
		}
		if err := t.FinalizeAll(); err != nil {
			return fmt.Errorf("model weights: tensor %d: %w", i, err)
		}
		w[i] = onDevice
	}
	return nil
}

// toBF16 returns a bfloat16 copy of a float32 host tensor (rounded to nearest even) and frees
// the original.
func toBF16(t *tensors.Tensor) *tensors.Tensor {
	out := tensors.FromShape(shapes.Make(dtypes.BFloat16, t.Shape().Dimensions...))
	t.MustConstFlatData(func(flat any) {
		src := flat.([]float32)
		out.MustMutableFlatData(func(dst any) {
			d := dst.([]bfloat16.BFloat16)
			for i, v := range src {
				d[i] = bfloat16.BFloat16(safetensors.Float32ToBFloat16(v))
			}
		})
	})
	_ = t.FinalizeAll()
	return out
}
