package model

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// CausalMask returns the [B, T, S] bool mask "key position <= query position, and key valid"
// for query positions [B, T] and key positions [B, S] (int32). keyValid [B, S] bool may be nil
// (all keys valid); use it for padding and for cache slots that hold nothing yet. Packed
// sequences need a block-diagonal mask on top (LogicalAnd with a same-segment mask).
func CausalMask(queryPos, keyPos, keyValid *graph.Node) *graph.Node {
	m := graph.LessOrEqual(graph.ExpandAxes(keyPos, 1), graph.ExpandAxes(queryPos, -1))
	if keyValid != nil {
		m = graph.LogicalAnd(m, graph.ExpandAxes(keyValid, 1))
	}
	return m
}

// SameSegmentMask returns the [B, T, S] bool mask "query and key belong to the same segment" for
// segment ids [B, T] and [B, S] (int32), the block-diagonal part of a packed batch's mask.
func SameSegmentMask(querySeg, keySeg *graph.Node) *graph.Node {
	if querySeg.DType() != keySeg.DType() {
		keySeg = graph.ConvertDType(keySeg, querySeg.DType())
	}
	return graph.Equal(graph.ExpandAxes(querySeg, -1), graph.ExpandAxes(keySeg, 1))
}
