package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer cuts a normalized piece into the words the model sees.
type preTokenizer interface {
	split(n ntext, dst []ntext) []ntext
}

// splitBehavior says what happens to the matches of a split pattern.
type splitBehavior int

const (
	behaviorRemoved splitBehavior = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

type span struct {
	a, b  int
	match bool
}

// splitOn applies matches to n the way the Rust crate's NormalizedString::split does.
func splitOn(n ntext, ms [][2]int, invert bool, behavior splitBehavior, dst []ntext) []ntext {
	if len(n.s) == 0 {
		return dst
	}
	if len(ms) == 0 && !invert {
		// The whole piece is one non-match: every behavior keeps it as it is.
		return append(dst, n)
	}
	var spans []span
	prev := 0
	for _, m := range ms {
		if prev != m[0] {
			spans = append(spans, span{prev, m[0], invert})
		}
		spans = append(spans, span{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev != len(n.s) {
		spans = append(spans, span{prev, len(n.s), invert})
	}
	var out []span
	switch behavior {
	case behaviorIsolated:
		out = spans
		for i := range out {
			out[i].match = false
		}
	case behaviorRemoved:
		out = spans
	case behaviorContiguous:
		prevMatch := false
		for _, s := range spans {
			if s.match == prevMatch && len(out) > 0 {
				out[len(out)-1].b = s.b
			} else {
				out = append(out, span{s.a, s.b, false})
			}
			prevMatch = s.match
		}
	case behaviorMergedWithPrevious:
		prevMatch := false
		for _, s := range spans {
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].b = s.b
			} else {
				out = append(out, span{s.a, s.b, false})
			}
			prevMatch = s.match
		}
	case behaviorMergedWithNext:
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].a = s.a
			} else {
				out = append(out, span{s.a, s.b, false})
			}
			prevMatch = s.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	for _, s := range out {
		if s.match || s.a == s.b {
			continue
		}
		dst = append(dst, n.slice(s.a, s.b))
	}
	return dst
}

// splitPre is the Split pre-tokenizer.
type splitPre struct {
	m        matcher
	behavior splitBehavior
	invert   bool
}

func (p splitPre) split(n ntext, dst []ntext) []ntext {
	var buf [64][2]int
	return splitOn(n, p.m.findAll(n.s, buf[:0]), p.invert, p.behavior, dst)
}

// byteLevelPre is the ByteLevel pre-tokenizer. In raw mode the model works on raw bytes, so
// the byte-to-character mapping is skipped here (the vocabulary was mapped instead).
type byteLevelPre struct {
	addPrefixSpace, useRegex, raw bool
}

func (p byteLevelPre) split(n ntext, dst []ntext) []ntext {
	if len(n.s) == 0 {
		return dst
	}
	if p.addPrefixSpace && !strings.HasPrefix(n.s, " ") {
		n = prependText(n, " ")
	}
	start := len(dst)
	if p.useRegex {
		var buf [64][2]int
		dst = splitOn(n, gpt2Pattern.findAll(n.s, buf[:0]), false, behaviorIsolated, dst)
	} else {
		dst = append(dst, n)
	}
	if !p.raw {
		for i := start; i < len(dst); i++ {
			dst[i] = byteLevelMap(dst[i])
		}
	}
	return dst
}

// byteLevelMap replaces every byte by its byte-level character; each new character keeps the
// range of the original character the byte belonged to.
func byteLevelMap(n ntext) ntext {
	var b builder
	for i := 0; i < len(n.s); {
		_, size := utf8.DecodeRuneInString(n.s[i:])
		r := n.charRange(i, size)
		for k := 0; k < size; k++ {
			b.add(byteToCharStr[n.s[i+k]], r)
		}
		i += size
	}
	return b.text(n.first)
}

// prependScheme of the Metaspace pre-tokenizer.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspacePre replaces spaces with a marker (usually "▁") and splits before each marker.
type metaspacePre struct {
	replacement rune
	scheme      prependScheme
	split_      bool
}

func (p metaspacePre) split(n ntext, dst []ntext) []ntext {
	rep := string(p.replacement)
	n = replaceMatches(n, literalMatcher{" "}.findAll(n.s, nil), rep)
	switch p.scheme {
	case prependAlways:
		if !strings.HasPrefix(n.s, rep) {
			n = prependText(n, rep)
		}
	case prependFirst:
		if !strings.HasPrefix(n.s, rep) && n.first {
			n = prependText(n, rep)
		}
	}
	if !p.split_ {
		if len(n.s) == 0 {
			return dst
		}
		return append(dst, n)
	}
	return splitOn(n, literalMatcher{rep}.findAll(n.s, nil), false, behaviorMergedWithNext, dst)
}

// isWordChar is \w of the Rust regex crate.
func isWordChar(c rune) bool {
	return c == '_' || unicode.In(c, unicode.L, unicode.M, unicode.Nd, unicode.Pc) || unicode.Is(unicode.Nl, c)
}

// whitespacePre splits on \w+|[^\w\s]+ keeping the matches.
type whitespacePre struct{}

func (whitespacePre) split(n ntext, dst []ntext) []ntext {
	var ms [][2]int
	for i := 0; i < len(n.s); {
		c, size := utf8.DecodeRuneInString(n.s[i:])
		if unicode.IsSpace(c) {
			i += size
			continue
		}
		word := isWordChar(c)
		j := i + size
		for j < len(n.s) {
			d, sz := utf8.DecodeRuneInString(n.s[j:])
			if unicode.IsSpace(d) || isWordChar(d) != word {
				break
			}
			j += sz
		}
		ms = append(ms, [2]int{i, j})
		i = j
	}
	return splitOn(n, ms, true, behaviorRemoved, dst)
}

// whitespaceSplitPre splits on whitespace, dropping it.
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) split(n ntext, dst []ntext) []ntext {
	return splitOn(n, charMatcher(unicode.IsSpace).findAll(n.s, nil), false, behaviorRemoved, dst)
}

// isRustNumeric is char::is_numeric.
func isRustNumeric(c rune) bool { return unicode.IsNumber(c) }

// digitsPre separates digits from the rest.
type digitsPre struct{ individual bool }

func (d digitsPre) split(n ntext, dst []ntext) []ntext {
	b := behaviorContiguous
	if d.individual {
		b = behaviorIsolated
	}
	return splitOn(n, charMatcher(isRustNumeric).findAll(n.s, nil), false, b, dst)
}

func isPunctuation(c rune) bool {
	return (c < 128 && unicode.IsPunct(c)) || (c < 128 && strings.ContainsRune("$+<=>^`|~", c)) || unicode.IsPunct(c)
}

// punctuationPre separates punctuation characters.
type punctuationPre struct{ behavior splitBehavior }

func (p punctuationPre) split(n ntext, dst []ntext) []ntext {
	return splitOn(n, charMatcher(isPunctuation).findAll(n.s, nil), false, p.behavior, dst)
}

// bertPre splits on whitespace, then isolates punctuation.
type bertPre struct{}

func (bertPre) split(n ntext, dst []ntext) []ntext {
	words := whitespaceSplitPre{}.split(n, nil)
	for _, w := range words {
		dst = splitOn(w, charMatcher(isPunctuation).findAll(w.s, nil), false, behaviorIsolated, dst)
	}
	return dst
}

// charDelimiterPre splits on one delimiter character, dropping it.
type charDelimiterPre struct{ delim rune }

func (p charDelimiterPre) split(n ntext, dst []ntext) []ntext {
	return splitOn(n, charMatcher(func(c rune) bool { return c == p.delim }).findAll(n.s, nil), false, behaviorRemoved, dst)
}

// preSequence applies pre-tokenizers in order, each to every piece the previous one produced.
type preSequence []preTokenizer

func (s preSequence) split(n ntext, dst []ntext) []ntext {
	cur := []ntext{n}
	for _, p := range s {
		var next []ntext
		for _, c := range cur {
			next = p.split(c, next)
		}
		cur = next
	}
	return append(dst, cur...)
}
