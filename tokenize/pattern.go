package tokenize

import (
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// matcher finds the non-overlapping matches of a pattern, in order, as byte ranges.
type matcher interface {
	each(s string, f func(a, b int))
}

// findAll collects the matches of m in s.
func findAll(m matcher, s string) [][2]int {
	var out [][2]int
	m.each(s, func(a, b int) { out = append(out, [2]int{a, b}) })
	return out
}

// literalMatcher matches a fixed string.
type literalMatcher struct{ lit string }

func (m literalMatcher) each(s string, f func(a, b int)) {
	if m.lit == "" {
		return
	}
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], m.lit)
		if k < 0 {
			break
		}
		f(off+k, off+k+len(m.lit))
		off += k + len(m.lit)
	}
}

// charMatcher matches every single character for which f is true, each as its own match.
type charMatcher func(rune) bool

func (m charMatcher) each(s string, f func(a, b int)) {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if m(c) {
			f(i, i+size)
		}
		i += size
	}
}

// regexMatcher runs a general backtracking regex (lookaround, atomic groups) for the patterns
// that the hand-compiled scanner does not cover.
type regexMatcher struct{ re *regexp2.Regexp }

func (m regexMatcher) each(s string, f func(a, b int)) {
	if !utf8.ValidString(s) {
		// Invalid UTF-8 cannot reach the Rust crate at all; treat such text as unmatched
		// rather than let offsets drift.
		return
	}
	idx, err := m.re.FindAllStringIndex(s, -1)
	if err != nil {
		return
	}
	for _, p := range idx {
		f(p[0], p[1])
	}
}

// compileRegex returns the matcher for a regex from tokenizer.json.
func compileRegex(src string) (matcher, error) {
	if p, ok := knownScanPatterns[src]; ok {
		return p, nil
	}
	re, err := regexp2.Compile(src, regexp2.Unicode)
	if err != nil {
		return nil, err
	}
	return regexMatcher{re: re}, nil
}
