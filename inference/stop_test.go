package inference

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStopMatcher(t *testing.T) {
	tests := []struct {
		name      string
		stops     []string
		deltas    []string
		wantOut   []string // emitted after each delta
		wantMatch int      // index of the delta that matches, -1 for none
		wantFlush string
	}{
		{"no stops passes through", nil, []string{"ab", "c"}, []string{"ab", "c"}, -1, ""},
		{"whole stop in one delta", []string{"END"}, []string{"hello END world"}, []string{"hello "}, 0, ""},
		{"split across deltas", []string{"END"}, []string{"hi E", "N", "D!"}, []string{"hi ", "", ""}, 2, ""},
		{"false start released", []string{"END"}, []string{"hi E", "NX"}, []string{"hi ", "ENX"}, -1, ""},
		{"held text flushed at the end", []string{"END"}, []string{"abc EN"}, []string{"abc "}, -1, "EN"},
		{"earliest of several", []string{"world", "lo w"}, []string{"hello", " world"}, []string{"hel", ""}, 1, ""},
		{"stop at start", []string{"\n\n"}, []string{"\n", "\nmore"}, []string{"", ""}, 1, ""},
		{"multibyte", []string{"é!"}, []string{"caf", "é", "!"}, []string{"caf", "", ""}, 2, ""},
		{"overlapping prefix kept", []string{"aab"}, []string{"aa", "a", "b"}, []string{"", "a", ""}, 2, ""},
		{"empty stop ignored", []string{""}, []string{"x"}, []string{"x"}, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newStopMatcher(tt.stops)
			matchedAt := -1
			var outs []string
			for i, d := range tt.deltas {
				out, matched := m.add(d)
				outs = append(outs, out)
				if matched {
					matchedAt = i
					break
				}
			}
			require.Equal(t, tt.wantOut, outs)
			require.Equal(t, tt.wantMatch, matchedAt)
			require.Equal(t, tt.wantFlush, m.flush())
		})
	}
}
