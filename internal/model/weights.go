package model

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/sectorflow/sdk/internal/safetensors"
)

// ErrMissingTensor is wrapped by errors about a tensor the architecture needs and the checkpoint
// lacks.
var ErrMissingTensor = errors.New("missing")

// ErrShape is wrapped by errors about a tensor whose shape disagrees with the config.
var ErrShape = errors.New("wrong tensor shape")

// maxReported caps how many weight problems one error lists.
const maxReported = 8

// tensorLabel names a table row the way errors report it: "layer 7: self_attn.q_proj.weight".
func tensorLabel(t TensorSpec) string {
	if t.Layer < 0 {
		return t.Name
	}
	return fmt.Sprintf("layer %d: %s", t.Layer, t.Local)
}

// TensorReader is the part of a safetensors checkpoint that loading needs
// (*safetensors.Checkpoint and *safetensors.File implement it).
type TensorReader interface {
	Info(name string) (safetensors.TensorInfo, bool)
	Float32Into(name string, dst []float32) error
	ReadInto(name string, dst []byte) error
}

// CheckTensors verifies that r holds every tensor of the spec's weight table with the right
// shape. The error lists up to 8 problems, each like
// "layer 7: self_attn.q_proj.weight has shape [64 32], want [64 64]" or
// "layer 1: missing input_layernorm.weight"; tensors the table does not name are ignored.
func (s *Spec) CheckTensors(r TensorReader) error {
	var errs []error
	n := 0
	for _, t := range s.Tensors() {
		info, ok := r.Info(t.Name)
		var err error
		switch {
		case !ok && t.Layer >= 0:
			err = fmt.Errorf("layer %d: %w %s", t.Layer, ErrMissingTensor, t.Local)
		case !ok:
			err = fmt.Errorf("%w %s", ErrMissingTensor, t.Name)
		case !equalInts(info.Shape, t.Shape):
			err = fmt.Errorf("%s has shape %v, want %v: %w", tensorLabel(t), info.Shape, t.Shape, ErrShape)
		case !info.DType.IsFloat():
			err = fmt.Errorf("%s has dtype %s, want a float dtype (F32, F16 or BF16)", tensorLabel(t), info.DType)
		}
		if err != nil {
			n++
			if len(errs) < maxReported {
				errs = append(errs, err)
			}
		}
	}
	if n > maxReported {
		errs = append(errs, fmt.Errorf("and %d more problems", n-maxReported))
	}
	return errors.Join(errs...)
}

// readWeights reads the weight table from r as float32 tensors (F16 and BF16 are converted on
// load), or, with keepBF16, BF16 tensors as stored. Each tensor is read straight into its final
// buffer, so loading needs the model's in-memory size once.
func (s *Spec) readWeights(r TensorReader, keepBF16 bool) ([]*tensors.Tensor, error) {
	if err := s.CheckTensors(r); err != nil {
		return nil, err
	}
	table := s.Tensors()
	out := make([]*tensors.Tensor, len(table))
	for i, t := range table {
		if info, _ := r.Info(t.Name); keepBF16 && info.DType == safetensors.BF16 {
			tt := tensors.FromShape(shapes.Make(dtypes.BFloat16, t.Shape...))
			var readErr error
			if err := tt.MutableBytes(func(data []byte) { readErr = r.ReadInto(t.Name, data) }); err != nil {
				return nil, fmt.Errorf("%s: %w", tensorLabel(t), err)
			}
			if readErr != nil {
				return nil, fmt.Errorf("read %s: %w", tensorLabel(t), readErr)
			}
			out[i] = tt
			continue
		}
		tt := tensors.FromShape(shapes.Make(dtypes.Float32, t.Shape...))
		var readErr error
		if err := tt.MutableFlatData(func(flat any) {
			readErr = r.Float32Into(t.Name, flat.([]float32))
		}); err != nil {
			return nil, fmt.Errorf("%s: %w", tensorLabel(t), err)
		}
		if readErr != nil {
			return nil, fmt.Errorf("read %s: %w", tensorLabel(t), readErr)
		}
		out[i] = tt
	}
	return out, nil
}

// randomWeights returns weights drawn from a normal distribution with standard deviation std
// (norm weights are 1), for benchmarks and tests that need no checkpoint.
func (s *Spec) randomWeights(seed uint64, std float64) []*tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0x5ec7))
	table := s.Tensors()
	out := make([]*tensors.Tensor, len(table))
	for i, t := range table {
		tt := tensors.FromShape(shapes.Make(dtypes.Float32, t.Shape...))
		isNorm := len(t.Shape) == 1 && (t.Name == NormName || hasSuffix(t.Local, "norm.weight"))
		_ = tt.MutableFlatData(func(flat any) {
			data := flat.([]float32)
			for j := range data {
				if isNorm {
					data[j] = 1
				} else {
					data[j] = float32(rng.NormFloat64() * std)
				}
			}
		})
		out[i] = tt
	}
	return out
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
