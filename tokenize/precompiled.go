package tokenize

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is SentencePiece's normalizer as stored in tokenizer.json: a darts-clone
// double-array trie from UTF-8 sequences to offsets of NUL-terminated replacements. It is
// applied per grapheme cluster (when shorter than 6 bytes), else per character, with the
// same quirks as the Rust crate: the first (shortest) trie prefix of a chunk decides.
type precompiled struct {
	trie []uint32
	norm []byte
}

func parsePrecompiled(o jobj) (normalizer, error) {
	s, err := o.str("precompiled_charsmap", "")
	if err != nil {
		return nil, err
	}
	path := o.sub("precompiled_charsmap")
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmtErr(path, "expected base64 data", err)
	}
	if len(raw) == 0 {
		return precompiled{}, nil
	}
	if len(raw) < 4 {
		return nil, fmtErr(path, fmt.Sprintf("expected a 4-byte trie size, found %d bytes", len(raw)), nil)
	}
	size := int(binary.LittleEndian.Uint32(raw))
	if size%4 != 0 || size > len(raw)-4 || size == 0 {
		return nil, fmtErr(path, fmt.Sprintf("expected a trie size that is a non-zero multiple of 4 within the %d bytes that follow, found %d", len(raw)-4, size), nil)
	}
	p := precompiled{trie: make([]uint32, size/4), norm: raw[4+size:]}
	for i := range p.trie {
		p.trie[i] = binary.LittleEndian.Uint32(raw[4+4*i:])
	}
	return p, nil
}

func dartsOffset(u uint32) int { return int((u >> 10) << ((u & (1 << 9)) >> 6)) }

// transform returns the replacement of chunk: the one stored for the shortest key that is a
// prefix of chunk.
func (p precompiled) transform(chunk string) (string, bool) {
	if len(p.trie) == 0 {
		return "", false
	}
	pos := dartsOffset(p.trie[0])
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if c == 0 {
			return "", false
		}
		pos ^= int(c)
		if pos < 0 || pos >= len(p.trie) {
			return "", false
		}
		u := p.trie[pos]
		if u&((1<<31)|0xFF) != uint32(c) {
			return "", false
		}
		pos ^= dartsOffset(u)
		if (u>>8)&1 == 1 {
			if pos < 0 || pos >= len(p.trie) {
				return "", false
			}
			start := int(p.trie[pos] & (1<<31 - 1))
			if start > len(p.norm) {
				return "", false
			}
			end := start
			for end < len(p.norm) && p.norm[end] != 0 {
				end++
			}
			return string(p.norm[start:end]), true
		}
	}
	return "", false
}

// change is one output character of a transformation and how it consumes the input, in the
// Rust crate's convention: > 0 inserts it (no input consumed), <= 0 consumes one input
// character plus -change more.
type change struct {
	s string
	n int
}

func (p precompiled) normalize(n ntext) ntext {
	if len(p.trie) == 0 || len(n.s) == 0 {
		return n
	}
	var changes []change
	// push replaces oldPart by norm: unchanged characters, except that when norm is longer
	// its last extra characters are insertions, and when it is shorter the last change so far
	// swallows the missing characters.
	push := func(norm string, oldPart string) {
		diff := utf8.RuneCountInString(norm) - utf8.RuneCountInString(oldPart)
		first := len(changes)
		for _, c := range norm {
			changes = append(changes, change{string(c), 0})
		}
		switch {
		case diff > 0:
			for k := len(changes) - 1; k >= first && k >= len(changes)-diff; k-- {
				changes[k].n = 1
			}
		case diff < 0 && len(changes) > 0:
			changes[len(changes)-1].n += diff
		}
	}
	state := -1
	for rest := n.s; len(rest) > 0; {
		g, r, _, st := uniseg.FirstGraphemeClusterInString(rest, state)
		state = st
		rest = r
		if len(g) < 6 {
			if s, ok := p.transform(g); ok {
				push(s, g)
				continue
			}
		}
		for i := 0; i < len(g); {
			_, size := utf8.DecodeRuneInString(g[i:])
			ch := g[i : i+size]
			if s, ok := p.transform(ch); ok {
				push(s, ch)
			} else {
				changes = append(changes, change{ch, 0})
			}
			i += size
		}
	}
	// Replay the changes over the input characters to align the output like the Rust crate's
	// NormalizedString::transform (quirks included: the offsets drift when a replacement does
	// not consume exactly the characters it replaces).
	b := builder{track: n.track}
	b.buf = make([]byte, 0, len(n.s))
	cur := 0 // byte position of the next input character
	var prev [2]int
	for _, c := range changes {
		var r [2]int
		if c.n > 0 {
			r = prev
		} else {
			if cur < len(n.s) {
				_, size := utf8.DecodeRuneInString(n.s[cur:])
				r = n.charRange(cur, size)
				cur += size
			} else {
				r = prev
			}
			for k := 0; k < -c.n && cur < len(n.s); k++ {
				_, size := utf8.DecodeRuneInString(n.s[cur:])
				cur += size
			}
			prev = r
		}
		b.add(c.s, r)
	}
	return b.text(n.first)
}
