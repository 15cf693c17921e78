package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer cuts a normalized piece into the words the model sees.
type preTokenizer interface {
	split(n ntext, emit func(ntext))
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

// splitter applies a split behavior to a stream of spans the way the Rust crate's
// NormalizedString::split does, emitting pieces as soon as they are complete.
type splitter struct {
	n        ntext
	behavior splitBehavior
	emit     func(ntext)
	pending  span
	has      bool
	prevM    bool
}

func (s *splitter) out(sp span) {
	if sp.a < sp.b {
		s.emit(s.n.slice(sp.a, sp.b))
	}
}

func (s *splitter) push(sp span) {
	switch s.behavior {
	case behaviorIsolated:
		s.out(sp)
	case behaviorRemoved:
		if !sp.match {
			s.out(sp)
		}
	case behaviorContiguous:
		if s.has && sp.match == s.prevM {
			s.pending.b = sp.b
		} else {
			if s.has {
				s.out(s.pending)
			}
			s.pending, s.has = sp, true
		}
		s.prevM = sp.match
	case behaviorMergedWithPrevious:
		if s.has && sp.match && !s.prevM {
			s.pending.b = sp.b
		} else {
			if s.has {
				s.out(s.pending)
			}
			s.pending, s.has = sp, true
		}
		s.prevM = sp.match
	case behaviorMergedWithNext:
		// A match joins the span after it when that span is not a match.
		if s.has {
			if sp.match {
				s.out(s.pending)
				s.pending = sp
			} else {
				s.out(span{s.pending.a, sp.b, false})
				s.has = false
			}
		} else if sp.match {
			s.pending, s.has = sp, true
		} else {
			s.out(sp)
		}
	}
}

func (s *splitter) flush() {
	if s.has && s.behavior != behaviorIsolated && s.behavior != behaviorRemoved {
		s.out(s.pending)
	}
	s.has = false
}

// splitOn cuts n at the matches of m and emits the pieces the behavior keeps.
func splitOn(n ntext, m matcher, invert bool, behavior splitBehavior, emit func(ntext)) {
	if len(n.s) == 0 {
		return
	}
	sp := splitter{n: n, behavior: behavior, emit: emit}
	prev := 0
	m.each(n.s, func(a, b int) {
		if prev != a {
			sp.push(span{prev, a, invert})
		}
		sp.push(span{a, b, !invert})
		prev = b
	})
	if prev != len(n.s) {
		sp.push(span{prev, len(n.s), invert})
	}
	sp.flush()
}

// splitPre is the Split pre-tokenizer.
type splitPre struct {
	m        matcher
	behavior splitBehavior
	invert   bool
}

func (p splitPre) split(n ntext, emit func(ntext)) {
	splitOn(n, p.m, p.invert, p.behavior, emit)
}

// byteLevelPre is the ByteLevel pre-tokenizer. In raw mode the model works on raw bytes, so
// the byte-to-character mapping is skipped here (the vocabulary was mapped instead).
type byteLevelPre struct {
	addPrefixSpace, useRegex, raw bool
}

func (p byteLevelPre) split(n ntext, emit func(ntext)) {
	if len(n.s) == 0 {
		return
	}
	if p.addPrefixSpace && !strings.HasPrefix(n.s, " ") {
		n = prependText(n, " ")
	}
	out := emit
	if !p.raw {
		out = func(w ntext) { emit(byteLevelMap(w)) }
	}
	if p.useRegex {
		splitOn(n, gpt2Pattern, false, behaviorIsolated, out)
	} else {
		out(n)
	}
}

// byteLevelMap replaces every byte by its byte-level character; each new character keeps the
// range of the original character the byte belonged to.
func byteLevelMap(n ntext) ntext {
	b := builder{track: n.track}
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
	doSplit     bool
}

func (p metaspacePre) split(n ntext, emit func(ntext)) {
	rep := string(p.replacement)
	n = replaceMatches(n, findAll(literalMatcher{" "}, n.s), rep)
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
	if !p.doSplit {
		if len(n.s) > 0 {
			emit(n)
		}
		return
	}
	splitOn(n, literalMatcher{rep}, false, behaviorMergedWithNext, emit)
}

// isWordChar is \w of the Rust regex crate: Alphabetic, marks, decimal digits, connector
// punctuation and the joiners.
func isWordChar(c rune) bool {
	if c < utf8.RuneSelf {
		return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
	}
	return c == 0x200C || c == 0x200D || unicode.In(c, unicode.L, unicode.M, unicode.Nd, unicode.Pc, unicode.Nl, unicode.Other_Alphabetic)
}

// whitespacePre splits on \w+|[^\w\s]+ keeping the matches.
type whitespacePre struct{}

// wordRuns matches \w+|[^\w\s]+.
type wordRuns struct{}

func (wordRuns) each(s string, f func(a, b int)) {
	n := ntext{s: s}
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
		f(i, j)
		i = j
	}
}

func (whitespacePre) split(n ntext, emit func(ntext)) {
	splitOn(n, wordRuns{}, true, behaviorRemoved, emit)
}

// whitespaceSplitPre splits on whitespace, dropping it.
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) split(n ntext, emit func(ntext)) {
	splitOn(n, charMatcher(unicode.IsSpace), false, behaviorRemoved, emit)
}

// isRustNumeric is char::is_numeric.
func isRustNumeric(c rune) bool { return unicode.IsNumber(c) }

// digitsPre separates digits from the rest.
type digitsPre struct{ individual bool }

func (d digitsPre) split(n ntext, emit func(ntext)) {
	b := behaviorContiguous
	if d.individual {
		b = behaviorIsolated
	}
	splitOn(n, charMatcher(isRustNumeric), false, b, emit)
}

func isPunctuation(c rune) bool {
	return (c < 128 && unicode.IsPunct(c)) || (c < 128 && strings.ContainsRune("$+<=>^`|~", c)) || unicode.IsPunct(c)
}

// punctuationPre separates punctuation characters.
type punctuationPre struct{ behavior splitBehavior }

func (p punctuationPre) split(n ntext, emit func(ntext)) {
	splitOn(n, charMatcher(isPunctuation), false, p.behavior, emit)
}

// bertPre splits on whitespace, then isolates punctuation.
type bertPre struct{}

func (bertPre) split(n ntext, emit func(ntext)) {
	whitespaceSplitPre{}.split(n, func(w ntext) {
		splitOn(w, charMatcher(isPunctuation), false, behaviorIsolated, emit)
	})
}

// charDelimiterPre splits on one delimiter character, dropping it.
type charDelimiterPre struct{ delim rune }

func (p charDelimiterPre) split(n ntext, emit func(ntext)) {
	splitOn(n, charMatcher(func(c rune) bool { return c == p.delim }), false, behaviorRemoved, emit)
}

// preSequence applies pre-tokenizers in order, each to every piece the previous one produced.
type preSequence []preTokenizer

func (s preSequence) split(n ntext, emit func(ntext)) {
	switch len(s) {
	case 0:
		emit(n)
		return
	case 1:
		s[0].split(n, emit)
		return
	}
	rest := s[1:]
	s[0].split(n, func(w ntext) { rest.split(w, emit) })
}

// fixedLengthPre cuts text into pieces of a fixed number of characters.
type fixedLengthPre struct{ length int }

func (p fixedLengthPre) split(n ntext, emit func(ntext)) {
	if p.length <= 0 {
		if len(n.s) > 0 {
			emit(n)
		}
		return
	}
	start, count := 0, 0
	for i := 0; i < len(n.s); {
		_, size := utf8.DecodeRuneInString(n.s[i:])
		i += size
		count++
		if count == p.length {
			emit(n.slice(start, i))
			start, count = i, 0
		}
	}
	if start < len(n.s) {
		emit(n.slice(start, len(n.s)))
	}
}
