package tokenize

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAddedMatcher(t *testing.T) {
	a := &AddedToken{ID: 1, Content: "<a>"}
	ab := &AddedToken{ID: 2, Content: "<a><b>"}
	word := &AddedToken{ID: 3, Content: "cat", SingleWord: true}
	strip := &AddedToken{ID: 4, Content: "<m>", LStrip: true, RStrip: true}
	dup := &AddedToken{ID: 5, Content: "<a>"} // same content as a: the first one listed wins
	m := newAddedMatcher([]*AddedToken{a, ab, word, strip, dup}, func(t *AddedToken) string { return t.Content })
	type piece struct {
		a, b int
		id   int // 0 for text
	}
	tests := []struct {
		text string
		want []piece
	}{
		{"", nil},
		{"plain", []piece{{0, 5, 0}}},
		{"<a><b><a>x", []piece{{0, 6, 2}, {6, 9, 1}, {9, 10, 0}}},
		{"x<a><", []piece{{0, 1, 0}, {1, 4, 1}, {4, 5, 0}}},
		{"a cat sat", []piece{{0, 2, 0}, {2, 5, 3}, {5, 9, 0}}},
		{"concatenate cat_ cat.", []piece{{0, 17, 0}, {17, 20, 3}, {20, 21, 0}}},
		{"x  <m>  y", []piece{{0, 1, 0}, {1, 8, 4}, {8, 9, 0}}},
		{"<m><m>", []piece{{0, 3, 4}, {3, 6, 4}}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			var got []piece
			for _, s := range m.find(tc.text, nil) {
				if s.a == s.b && s.tok == nil {
					continue
				}
				p := piece{s.a, s.b, 0}
				if s.tok != nil {
					p.id = s.tok.ID
				}
				got = append(got, p)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
