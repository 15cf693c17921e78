package tuning

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/sectorflow/sdk/internal/peft"
)

// TargetModules lists the projections LoRA can adapt, in the order PEFT users write them.
var TargetModules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// ErrBadOption is matched by errors about invalid training options.
var ErrBadOption = errors.New("invalid option")

// dims are the model sizes that LoRA shapes depend on.
type dims struct {
	Layers, Hidden, Intermediate, Heads, KVHeads, HeadDim int
}

// projShape returns (in, out) of a target projection.
func (d dims) projShape(target string) (in, out int) {
	switch target {
	case "q_proj":
		return d.Hidden, d.Heads * d.HeadDim
	case "k_proj", "v_proj":
		return d.Hidden, d.KVHeads * d.HeadDim
	case "o_proj":
		return d.Heads * d.HeadDim, d.Hidden
	case "gate_proj", "up_proj":
		return d.Hidden, d.Intermediate
	case "down_proj":
		return d.Intermediate, d.Hidden
	}
	return 0, 0
}

// resolveTargets expands and checks target module names: "all-linear" means all seven
// projections; a name the architecture lacks is an error listing the ones it has.
func resolveTargets(targets []string) ([]string, error) {
	if len(targets) == 0 {
		return []string{"q_proj", "v_proj"}, nil
	}
	seen := map[string]bool{}
	for _, t := range targets {
		t = strings.TrimSpace(t)
		if t == peft.AllLinear {
			return slices.Clone(TargetModules), nil
		}
		if !slices.Contains(TargetModules, t) {
			return nil, fmt.Errorf("target module %q: the model has no such projection (expected all-linear or some of %s): %w",
				t, strings.Join(TargetModules, ", "), ErrBadOption)
		}
		seen[t] = true
	}
	var out []string
	for _, t := range TargetModules {
		if seen[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// loraModule holds the trainable A [Rank, In] and B [Out, Rank] of one adapted projection.
type loraModule struct {
	Name    string // e.g. model.layers.3.self_attn.q_proj
	Layer   int
	Target  string
	In, Out int
	A, B    []float32
}

// loraSet is the whole trainable adapter.
type loraSet struct {
	Rank    int
	Alpha   float64
	RSLoRA  bool
	Targets []string
	Modules []*loraModule // ordered by layer, then by TargetModules order
}

// Scale returns alpha/r, or alpha/sqrt(r) with rsLoRA, as PEFT does.
func (s *loraSet) Scale() float64 {
	if s.RSLoRA {
		return s.Alpha / math.Sqrt(float64(s.Rank))
	}
	return s.Alpha / float64(s.Rank)
}

// newLoRASet builds the adapter with PEFT's default initialisation: A from
// kaiming_uniform_(a=sqrt(5)), i.e. uniform in [-1/sqrt(in), 1/sqrt(in)], and B zero, so that the
// adapted model starts equal to the base. The values depend only on seed and the shapes.
func newLoRASet(d dims, targets []string, rank int, alpha float64, rslora bool, seed uint64) (*loraSet, error) {
	if rank <= 0 {
		return nil, fmt.Errorf("rank: expected a positive integer, found %d: %w", rank, ErrBadOption)
	}
	if alpha <= 0 || math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("alpha: expected a positive number, found %v: %w", alpha, ErrBadOption)
	}
	ts, err := resolveTargets(targets)
	if err != nil {
		return nil, err
	}
	set := &loraSet{Rank: rank, Alpha: alpha, RSLoRA: rslora, Targets: ts}
	rng := rand.New(rand.NewPCG(seed, 0x10a4a11ce))
	for l := 0; l < d.Layers; l++ {
		for _, t := range ts {
			in, out := d.projShape(t)
			m := &loraModule{Name: peft.ModuleName(l, t), Layer: l, Target: t, In: in, Out: out,
				A: make([]float32, rank*in), B: make([]float32, out*rank)}
			bound := 1 / math.Sqrt(float64(in))
			for i := range m.A {
				m.A[i] = float32((2*rng.Float64() - 1) * bound)
			}
			set.Modules = append(set.Modules, m)
		}
	}
	return set, nil
}

// params returns the trainable tensors in a fixed order: A then B of each module.
func (s *loraSet) params() [][]float32 {
	out := make([][]float32, 0, 2*len(s.Modules))
	for _, m := range s.Modules {
		out = append(out, m.A, m.B)
	}
	return out
}
