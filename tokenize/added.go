package tokenize

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token of tokenizer.json's "added_tokens": matched in the text before the
// model runs, never split.
type AddedToken struct {
	ID         int
	Content    string
	Special    bool
	SingleWord bool
	LStrip     bool
	RStrip     bool
	Normalized bool
}

// addedMatcher finds added tokens in text with leftmost-longest matching, as the Rust crate's
// Aho-Corasick automaton does.
type addedMatcher struct {
	pats    []string
	toks    []*AddedToken
	byFirst [256][]int // pattern indexes by first byte, longest first (stable)
}

func newAddedMatcher(toks []*AddedToken, content func(*AddedToken) string) *addedMatcher {
	m := &addedMatcher{}
	for _, t := range toks {
		c := content(t)
		if c == "" {
			continue
		}
		m.pats = append(m.pats, c)
		m.toks = append(m.toks, t)
	}
	for i, p := range m.pats {
		m.byFirst[p[0]] = append(m.byFirst[p[0]], i)
	}
	for b := range m.byFirst {
		l := m.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(m.pats[l[i]]) > len(m.pats[l[j]]) })
	}
	return m
}

// next returns the leftmost-longest match at or after i.
func (m *addedMatcher) next(s string, i int) (start, end, pat int) {
	for ; i < len(s); i++ {
		l := m.byFirst[s[i]]
		if l == nil {
			continue
		}
		for _, p := range l {
			if strings.HasPrefix(s[i:], m.pats[p]) {
				return i, i + len(m.pats[p]), p
			}
		}
	}
	return -1, -1, -1
}

type addedSplit struct {
	a, b int
	tok  *AddedToken // nil for plain text
}

func isWordRune(c rune) bool {
	return c == '_' || unicode.In(c, unicode.L, unicode.M, unicode.Nd, unicode.Pc)
}

// find splits s into plain text and added tokens, applying single_word, lstrip and rstrip.
func (m *addedMatcher) find(s string, dst []addedSplit) []addedSplit {
	if m == nil || len(m.pats) == 0 {
		return append(dst, addedSplit{0, len(s), nil})
	}
	startOff := 0
	for i := 0; i < len(s); {
		a, b, p := m.next(s, i)
		if p < 0 {
			break
		}
		i = b
		t := m.toks[p]
		start, stop := a, b
		if t.SingleWord {
			startSpace := start == 0
			if !startSpace {
				c, _ := utf8.DecodeLastRuneInString(s[:start])
				startSpace = !isWordRune(c)
			}
			stopSpace := stop == len(s)
			if !stopSpace {
				c, _ := utf8.DecodeRuneInString(s[stop:])
				stopSpace = !isWordRune(c)
			}
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.LStrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, startOff)
		}
		if t.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		start = max(start, startOff)
		if startOff < start {
			dst = append(dst, addedSplit{startOff, start, nil})
		}
		dst = append(dst, addedSplit{start, stop, t})
		startOff = stop
	}
	if startOff != len(s) {
		dst = append(dst, addedSplit{startOff, len(s), nil})
	}
	return dst
}
