package graphx

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// GoMLXDotGeneralVJP is GoMLX's own gradient rule for DotGeneral, saved before [Install] replaces
// it. Tests compare [DotGeneralVJP] against it; nothing else should need it.
var GoMLXDotGeneralVJP = graph.VJPRegistration[graph.NodeTypeDotGeneral]

func init() { Install() }

// Install registers [DotGeneralVJP] as the gradient of every DotGeneral node. It runs in the
// package's init; calling it again is harmless. It must not run concurrently with graph
// building, since the registry is a plain map.
func Install() {
	graph.VJPRegistration[graph.NodeTypeDotGeneral] = DotGeneralVJP
}

// dotGeneralAxes are the axes of one DotGeneral node.
type dotGeneralAxes struct {
	lhsContracting, lhsBatch, rhsContracting, rhsBatch []int
}

// dotGeneralParamsRE matches the parameters GoMLX v0.26.0 prints for a DotGeneral node; GoMLX does
// not export them otherwise. A node whose description does not match falls back to GoMLX's rule.
var dotGeneralParamsRE = regexp.MustCompile(
	`DotGeneral\(lhs=\[#\d+\], lhsContractingAxes=\[([\d ]*)\], lhsBatchAxes=\[([\d ]*)\], ` +
		`rhs=\[#\d+\], rhsContractingAxes=\[([\d ]*)\], rhsBatchAxes=\[([\d ]*)\]\)`)

func parseAxes(s string) ([]int, error) {
	fields := strings.Fields(s)
	out := make([]int, len(fields))
	for i, f := range fields {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("axis %q: %w", f, err)
		}
		out[i] = v
	}
	return out, nil
}

func nodeDotGeneralAxes(node *graph.Node) (dotGeneralAxes, error) {
	m := dotGeneralParamsRE.FindStringSubmatch(node.String())
	if m == nil {
		return dotGeneralAxes{}, fmt.Errorf("DotGeneral node description %q does not have the expected layout", node.String())
	}
	var ax dotGeneralAxes
	var err error
	for i, dst := range []*[]int{&ax.lhsContracting, &ax.lhsBatch, &ax.rhsContracting, &ax.rhsBatch} {
		if *dst, err = parseAxes(m[i+1]); err != nil {
			return dotGeneralAxes{}, err
		}
	}
	return ax, nil
}

// crossAxes lists the axes of an operand of the given rank that are neither contracted nor batch,
// in increasing order: the order in which DotGeneral places them in its output.
func crossAxes(rank int, contracting, batch []int) []int {
	used := make([]bool, rank)
	for _, a := range contracting {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	var out []int
	for a := range rank {
		if !used[a] {
			out = append(out, a)
		}
	}
	return out
}

// DotGeneralVJP is the gradient of DotGeneral written as two DotGenerals (one per operand) plus a
// transpose each, the way XLA and PyTorch do it. Its signature is GoMLX's graph.VJP.
//
// For out = DotGeneral(lhs, rhs) with output axes [batch..., lhsCross..., rhsCross...] and adjoint
// v of out's shape:
//
//	dLhs = DotGeneral(v, rhs) contracting v's rhsCross axes with rhs's cross axes, batch with batch:
//	       [batch..., lhsCross..., rhsContracting...], then transposed to lhs's axis order;
//	dRhs = DotGeneral(v, lhs) contracting v's lhsCross axes with lhs's cross axes:
//	       [batch..., rhsCross..., lhsContracting...], then transposed to rhs's axis order.
//
// Nodes whose axes cannot be read fall back to [GoMLXDotGeneralVJP].
func DotGeneralVJP(node *graph.Node, vjpOutputs []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	ax, err := nodeDotGeneralAxes(node)
	if err != nil || len(node.Inputs()) != 2 || len(vjpOutputs) != 1 {
		return GoMLXDotGeneralVJP(node, vjpOutputs, outputShape)
	}
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	v := vjpOutputs[0]
	lhsCross := crossAxes(lhs.Rank(), ax.lhsContracting, ax.lhsBatch)
	rhsCross := crossAxes(rhs.Rank(), ax.rhsContracting, ax.rhsBatch)
	nBatch := len(ax.lhsBatch)
	vBatch := iotaFrom(0, nBatch)
	vLhsCross := iotaFrom(nBatch, len(lhsCross))
	vRhsCross := iotaFrom(nBatch+len(lhsCross), len(rhsCross))

	// grad wrt lhs: DotGeneral(v, rhs) gives [batch..., lhsCross..., rhs's contracting axes in
	// increasing rhs order], each the partner of an lhs contracting axis.
	dLhs := graph.DotGeneral(v, vRhsCross, vBatch, rhs, rhsCross, ax.rhsBatch)
	dLhs = transposeBack(dLhs, lhs.Rank(), ax.lhsBatch, lhsCross, partnersInOrder(ax.rhsContracting, ax.lhsContracting))

	// grad wrt rhs: DotGeneral(v, lhs) gives [batch..., rhsCross..., lhs's contracting axes in
	// increasing lhs order].
	dRhs := graph.DotGeneral(v, vLhsCross, vBatch, lhs, lhsCross, ax.lhsBatch)
	dRhs = transposeBack(dRhs, rhs.Rank(), ax.rhsBatch, rhsCross, partnersInOrder(ax.lhsContracting, ax.rhsContracting))
	return []*graph.Node{dLhs, dRhs}
}

// partnersInOrder returns, for the axes of `by` sorted increasingly, their partners in `of`
// (by[i] pairs with of[i]): the order in which DotGeneral emits the other operand's leftover axes.
func partnersInOrder(by, of []int) []int {
	idx := make([]int, len(by))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return by[idx[a]] < by[idx[b]] })
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = of[j]
	}
	return out
}

func iotaFrom(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// transposeBack moves the axes of x, laid out as [batch..., cross..., contracting...], to the
// operand's own order, where batch[i], cross[i] and contracting[i] name the operand's axes.
func transposeBack(x *graph.Node, rank int, batch, cross, contracting []int) *graph.Node {
	perm := make([]int, rank)
	i := 0
	for _, group := range [][]int{batch, cross, contracting} {
		for _, axis := range group {
			perm[axis] = i
			i++
		}
	}
	identity := true
	for a, p := range perm {
		if a != p {
			identity = false
		}
	}
	if identity {
		return x
	}
	return graph.TransposeAllAxes(x, perm...)
}
