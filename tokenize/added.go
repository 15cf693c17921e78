package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token of tokenizer.json's "added_tokens": matched in the text before the
// model runs, never split.
type AddedToken struct {
	ID      int
	Content string
	// Special tokens are left out by Decode with skipSpecialTokens.
	Special bool
	// SingleWord: only matched when not inside a word (no word character on either side).
	SingleWord bool
	// LStrip and RStrip: the match swallows the whitespace on its left or right.
	LStrip, RStrip bool
	// Normalized: matched on the normalized text instead of the input.
	Normalized bool
}

// addedMatcher finds added tokens in text with leftmost-longest matching, as the Rust crate's
// Aho-Corasick automaton does: a byte trie walked from each position whose first byte starts
// some token.
type addedMatcher struct {
	pats  []string
	toks  []*AddedToken
	first [256]bool
	nodes []trieNode
}

type trieNode struct {
	next map[byte]int32
	pat  int32 // pattern ending here, -1 if none (the first one listed wins ties)
}

func newAddedMatcher(toks []*AddedToken, content func(*AddedToken) string) *addedMatcher {
	m := &addedMatcher{nodes: []trieNode{{pat: -1}}}
	for _, t := range toks {
		c := content(t)
		if c == "" {
			continue
		}
		p := int32(len(m.pats))
		m.pats = append(m.pats, c)
		m.toks = append(m.toks, t)
		m.first[c[0]] = true
		n := int32(0)
		for i := 0; i < len(c); i++ {
			nx, ok := m.nodes[n].next[c[i]]
			if !ok {
				if m.nodes[n].next == nil {
					m.nodes[n].next = map[byte]int32{}
				}
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, trieNode{pat: -1})
				m.nodes[n].next[c[i]] = nx
			}
			n = nx
		}
		if m.nodes[n].pat < 0 {
			m.nodes[n].pat = p
		}
	}
	return m
}

// next returns the leftmost-longest match at or after i.
func (m *addedMatcher) next(s string, i int) (start, end, pat int) {
	for ; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		n, best, bestEnd := int32(0), int32(-1), -1
		for j := i; j < len(s); j++ {
			nx, ok := m.nodes[n].next[s[j]]
			if !ok {
				break
			}
			n = nx
			if p := m.nodes[n].pat; p >= 0 {
				best, bestEnd = p, j+1
			}
		}
		if best >= 0 {
			return i, bestEnd, int(best)
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
		// As in the Rust crate the search resumes at the end of the match before stripping,
		// so a token can overlap the whitespace the previous one swallowed (and is kept).
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
