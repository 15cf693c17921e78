package tokenize

import (
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// matcher finds the non-overlapping matches of a pattern, in order, as byte ranges.
type matcher interface {
	findAll(s string, dst [][2]int) [][2]int
}

// literalMatcher matches a fixed string.
type literalMatcher struct{ lit string }

func (m literalMatcher) findAll(s string, dst [][2]int) [][2]int {
	if m.lit == "" {
		return dst
	}
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], m.lit)
		if k < 0 {
			break
		}
		dst = append(dst, [2]int{off + k, off + k + len(m.lit)})
		off += k + len(m.lit)
	}
	return dst
}

// charMatcher matches every single character for which f is true, each as its own match.
type charMatcher func(rune) bool

func (f charMatcher) findAll(s string, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if f(c) {
			dst = append(dst, [2]int{i, i + size})
		}
		i += size
	}
	return dst
}

// regexMatcher runs a general backtracking regex (lookaround, atomic groups) for the patterns
// that the hand-compiled scanner does not cover.
type regexMatcher struct{ re *regexp2.Regexp }

func (m regexMatcher) findAll(s string, dst [][2]int) [][2]int {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		// Offsets would no longer line up with the input; fall back to one match per
		// invalid-free run is not worth it: treat the whole text as unmatched.
		return dst
	}
	idx, err := m.re.FindAllStringIndex(s, -1)
	if err != nil {
		return dst
	}
	for _, p := range idx {
		dst = append(dst, [2]int{p[0], p[1]})
	}
	return dst
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
