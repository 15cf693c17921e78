package tuning

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTargetMask(t *testing.T) {
	// Rendered: "<s>U:hi<e>A:yo<e>\n" with hand-made tokens; <e> is id 9 (the end-of-turn id).
	// bytes:     0  3 5 7  10 12 14 17
	text := "<s>U:hi<e>A:yo<e>\n"
	_ = text
	ids := []int{1, 2, 3, 9, 4, 5, 6, 9, 7}
	offs := [][2]int{{0, 3}, {3, 5}, {5, 7}, {7, 10}, {10, 12}, {12, 13}, {13, 14}, {14, 17}, {17, 18}}
	tests := []struct {
		name  string
		ids   []int
		offs  [][2]int
		spans []ByteSpan
		stop  []int
		want  []bool
	}{
		{"assistant content and its end marker", ids, offs, []ByteSpan{{12, 14}}, []int{9},
			[]bool{false, false, false, false, false, true, true, true, false}},
		{"no stop id: content only", ids, offs, []ByteSpan{{12, 14}}, nil,
			[]bool{false, false, false, false, false, true, true, false, false}},
		{"span already covers the marker", ids, offs, []ByteSpan{{12, 17}}, []int{9},
			[]bool{false, false, false, false, false, true, true, true, false}},
		{"span holding the marker and a separator stops at the marker", ids, offs, []ByteSpan{{12, 18}}, []int{9},
			[]bool{false, false, false, false, false, true, true, true, false}},
		{"partial overlap of a token counts", ids, offs, []ByteSpan{{6, 7}}, []int{9},
			[]bool{false, false, true, true, false, false, false, false, false}},
		{"two spans", ids, offs, []ByteSpan{{5, 7}, {12, 14}}, []int{9},
			[]bool{false, false, true, true, false, true, true, true, false}},
		{"no spans", ids, offs, nil, []int{9}, make([]bool, 9)},
		{"marker stops at the next span", []int{1, 2, 3, 9}, [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}}, []ByteSpan{{0, 1}, {2, 3}}, []int{9},
			[]bool{true, false, true, true}},
		{"stop token with empty range", []int{1, 2, 9}, [][2]int{{0, 1}, {1, 2}, {2, 2}}, []ByteSpan{{1, 2}}, []int{9},
			[]bool{false, true, true}},
		{"stop too far away is not marked", []int{1, 2, 3, 4, 5, 6, 9}, [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}}, []ByteSpan{{0, 1}}, []int{9},
			[]bool{true, false, false, false, false, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, TargetMask(tc.ids, tc.offs, tc.spans, tc.stop))
		})
	}
}
