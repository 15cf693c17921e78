package tokenize

import (
	"unicode"
	"unicode/utf8"
)

// The split regexes of GPT-2, Llama 3, Qwen 2/3 and their relatives use a negative lookahead
// (\s+(?!\S)) that Go's regexp cannot express, and they sit on the hottest path of encoding.
// scanPattern is a hand-compiled matcher for that family: a fixed sequence of alternatives whose
// variants are named by scanParams. It reproduces the leftmost-first backtracking semantics of
// Oniguruma (the engine the Rust crate uses) for exactly these patterns; a pattern is routed here
// only when its source text equals the canonical text generated from its parameters, so any other
// regex goes to the general engine.

// scanParams describes one member of the GPT-2 pattern family.
type scanParams struct {
	// foldContractions: (?i:'s|'t|'re|'ve|'m|'ll|'d) instead of the case-sensitive list.
	foldContractions bool
	// letterPrefixAny: [^\r\n\p{L}\p{N}]?\p{L}+ instead of " ?\p{L}+".
	letterPrefixAny bool
	// maxDigits bounds \p{N}{1,maxDigits}; 0 means " ?\p{N}+".
	maxDigits int
	// punctNewlines: " ?[^\s\p{L}\p{N}]+[\r\n]*" and the alternative \s*[\r\n]+.
	punctNewlines bool
}

// source returns the regex text of the pattern p describes.
func (p scanParams) source() string {
	s := `'s|'t|'re|'ve|'m|'ll|'d`
	if p.foldContractions {
		s = `(?i:'s|'t|'re|'ve|'m|'ll|'d)`
	}
	if p.letterPrefixAny {
		s += `|[^\r\n\p{L}\p{N}]?\p{L}+`
	} else {
		s += `| ?\p{L}+`
	}
	switch {
	case p.maxDigits == 0:
		s += `| ?\p{N}+`
	case p.maxDigits == 1:
		s += `|\p{N}`
	default:
		s += `|\p{N}{1,` + string(rune('0'+p.maxDigits)) + `}`
	}
	if p.punctNewlines {
		s += `| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+`
	} else {
		s += `| ?[^\s\p{L}\p{N}]+`
	}
	return s + `|\s+(?!\S)|\s+`
}

// knownScanPatterns maps the source text of each supported family member to its parameters.
var knownScanPatterns = func() map[string]scanParams {
	m := map[string]scanParams{}
	for _, fold := range []bool{false, true} {
		for _, any := range []bool{false, true} {
			for d := 0; d <= 9; d++ {
				for _, pn := range []bool{false, true} {
					p := scanParams{foldContractions: fold, letterPrefixAny: any, maxDigits: d, punctNewlines: pn}
					m[p.source()] = p
				}
			}
		}
	}
	return m
}()

// gpt2Pattern is the regex the ByteLevel pre-tokenizer uses when use_regex is true.
var gpt2Pattern = scanParams{}

// character classes of the scanner.
const (
	clsOther = iota // [^\s\p{L}\p{N}]
	clsLetter
	clsNumber
	clsSpace
)

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case unicode.IsLetter(r):
			t[c] = clsLetter
		case unicode.IsNumber(r):
			t[c] = clsNumber
		case unicode.IsSpace(r):
			t[c] = clsSpace
		default:
			t[c] = clsOther
		}
	}
	return t
}()

// classAt returns the class and byte size of the character at s[i]. Invalid UTF-8 bytes count
// as single "other" characters.
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return clsOther, 1
	}
	switch {
	case unicode.IsLetter(r):
		return clsLetter, size
	case unicode.IsNumber(r):
		return clsNumber, size
	case unicode.IsSpace(r):
		return clsSpace, size
	}
	return clsOther, size
}

// runOf returns the end of the run of characters of class cls starting at i.
func runOf(s string, i int, cls uint8) int {
	for i < len(s) {
		c, size := classAt(s, i)
		if c != cls {
			break
		}
		i += size
	}
	return i
}

func (p scanParams) each(s string, f func(a, b int)) {
	for i := 0; i < len(s); {
		e := p.matchAt(s, i)
		f(i, e)
		i = e
	}
}

// contractionLen returns the length of the contraction ('s, 're, ...) at s[i], or 0.
func contractionLen(s string, i int, fold bool) int {
	if i+1 >= len(s) {
		return 0
	}
	c := s[i+1]
	if fold {
		// Oniguruma folds ASCII letters only here: "'ſ" (U+017F) is no contraction.
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
	}
	switch c {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v', 'l':
		if i+2 >= len(s) {
			return 0
		}
		d := s[i+2]
		if fold && d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if (c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l') {
			return 3
		}
	}
	return 0
}

// matchAt returns the end of the match that starts at i; every position starts a match because
// the last alternatives cover every class.
func (p scanParams) matchAt(s string, i int) int {
	if s[i] == '\'' {
		if n := contractionLen(s, i, p.foldContractions); n > 0 {
			return i + n
		}
	}
	cls, size := classAt(s, i)
	next := i + size
	var nextCls uint8 = 255
	if next < len(s) {
		nextCls, _ = classAt(s, next)
	}
	// Letters.
	if cls == clsLetter {
		return runOf(s, next, clsLetter)
	}
	if nextCls == clsLetter {
		if p.letterPrefixAny {
			if cls != clsNumber && s[i] != '\r' && s[i] != '\n' {
				return runOf(s, next, clsLetter)
			}
		} else if s[i] == ' ' {
			return runOf(s, next, clsLetter)
		}
	}
	// Numbers.
	if p.maxDigits == 0 {
		if cls == clsNumber {
			return runOf(s, next, clsNumber)
		}
		if s[i] == ' ' && nextCls == clsNumber {
			return runOf(s, next, clsNumber)
		}
	} else if cls == clsNumber {
		e := next
		for k := 1; k < p.maxDigits && e < len(s); k++ {
			c, sz := classAt(s, e)
			if c != clsNumber {
				break
			}
			e += sz
		}
		return e
	}
	// Punctuation and symbols.
	start := -1
	if cls == clsOther {
		start = next
	} else if s[i] == ' ' && nextCls == clsOther {
		_, sz := classAt(s, next)
		start = next + sz
	}
	if start >= 0 {
		e := runOf(s, start, clsOther)
		if p.punctNewlines {
			for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
				e++
			}
		}
		return e
	}
	// Whitespace (cls == clsSpace here).
	end := runOf(s, next, clsSpace)
	if p.punctNewlines {
		// \s*[\r\n]+ : up to and including the last newline of the run.
		for k := end - 1; k >= i; k-- {
			if s[k] == '\r' || s[k] == '\n' {
				return k + 1
			}
		}
	}
	if end == len(s) {
		return end
	}
	// \s+(?!\S): give back the last whitespace character when more than one.
	_, lastSize := utf8.DecodeLastRuneInString(s[:end])
	if end-lastSize > i {
		return end - lastSize
	}
	return end
}
