package tokenize

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzJSONFast checks the fast tokenizer.json readers against encoding/json: whenever they
// accept an input, encoding/json must accept it too and decode the same values (skimObject,
// which does not validate nested values, only on valid documents).
func FuzzJSONFast(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b\u0120c": 2, "\ud83d\ude00": 3, "x\"y": -4}`,
		`{"model": {"vocab": {}}, "added_tokens": [], "n": null, "s": "x\\y"}`,
		`["a b", "\u0120 t", "c  d"]`, `[["a", "b"], ["\\", "\/"]]`, `[]`, `{}`,
		`{"a": 1.5}`, `{"a": "\ud800"}`, `["nospace"]`, `{"a":1,}`, "{\"\xff\": 1}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := []byte(s)
		// skimObject is only used on documents json.Valid accepted.
		if m, ok := skimObject(d); ok && json.Valid(d) {
			var want map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(d, &want), "skimObject accepted %q", s)
			require.Equal(t, len(want), len(m))
			for k, v := range want {
				var a, b any
				require.NoError(t, json.Unmarshal(v, &a))
				require.NoError(t, json.Unmarshal(m[k], &b), "member %q: %q", k, m[k])
				require.Equal(t, a, b)
			}
		}
		if v, ok := parseVocabFast(d); ok {
			var want map[string]int
			require.NoError(t, json.Unmarshal(d, &want), "parseVocabFast accepted %q", s)
			require.Equal(t, want, v)
		}
		if pairs, ok := parseMergesFast(d); ok {
			var strs []string
			var lists [][]string
			if json.Unmarshal(d, &strs) == nil {
				require.Len(t, pairs, len(strs))
				for i, x := range strs {
					require.Equal(t, x, pairs[i][0]+" "+pairs[i][1])
				}
			} else {
				require.NoError(t, json.Unmarshal(d, &lists), "parseMergesFast accepted %q", s)
				require.Len(t, pairs, len(lists))
				for i, l := range lists {
					require.Equal(t, []string{pairs[i][0], pairs[i][1]}, l)
				}
			}
		}
	})
}
