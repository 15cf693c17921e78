package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites text before pre-tokenization, keeping the alignment to the original.
type normalizer interface {
	normalize(n ntext) ntext
}

// unicodeNorm is one of NFC, NFD, NFKC, NFKD.
type unicodeNorm struct{ form norm.Form }

func (u unicodeNorm) normalize(n ntext) ntext {
	if u.form.IsNormalString(n.s) {
		return n
	}
	b := builder{track: n.track}
	var it norm.Iter
	it.InitString(u.form, n.s)
	var in [][2]int
	var pending []byte
	for !it.Done() {
		start := it.Pos()
		seg := it.Next()
		end := it.Pos()
		if end == start {
			// The iterator hands out a long decomposition in several segments; the first
			// ones consume no input and belong with the segment that does.
			pending = append(pending, seg...)
			continue
		}
		out := seg
		if len(pending) > 0 {
			out = append(pending, seg...)
			pending = nil
		}
		// Align output characters to input characters the way the Rust crate's transform does:
		// a composed character takes the range of the first character it replaces, the
		// characters it swallowed vanish, and expansions repeat the last input character.
		in = in[:0]
		for i := start; i < end; {
			_, size := utf8.DecodeRuneInString(n.s[i:])
			in = append(in, n.charRange(i, size))
			i += size
		}
		m := utf8.RuneCount(out)
		k := len(in)
		for i, j := 0, 0; i < len(out); j++ {
			_, size := utf8.DecodeRune(out[i:])
			src := 0
			switch {
			case m <= k:
				if j > 0 {
					src = j + k - m
				}
			default:
				src = min(j, k-1)
			}
			b.add(string(out[i:i+size]), in[src])
			i += size
		}
	}
	if len(pending) > 0 {
		a, _ := n.origRange(len(n.s), len(n.s))
		b.add(string(pending), [2]int{a, a})
	}
	return b.text(n.first)
}

// lowercase maps every character to its lowercase form as Rust's char::to_lowercase does.
type lowercase struct{}

func (lowercase) normalize(n ntext) ntext {
	changed := false
	for _, c := range n.s {
		if unicode.ToLower(c) != c || c == 'İ' {
			changed = true
			break
		}
	}
	if !changed {
		return n
	}
	return mapRunes(n, func(c rune, dst []byte) []byte {
		if c == 'İ' {
			return append(dst, "i\u0307"...)
		}
		return utf8.AppendRune(dst, unicode.ToLower(c))
	})
}

// strip removes leading and/or trailing whitespace.
type strip struct{ left, right bool }

func (s strip) normalize(n ntext) ntext {
	a, b := 0, len(n.s)
	if s.left {
		t := strings.TrimLeftFunc(n.s, unicode.IsSpace)
		a = len(n.s) - len(t)
	}
	if s.right {
		t := strings.TrimRightFunc(n.s[a:], unicode.IsSpace)
		b = a + len(t)
	}
	return n.slice(a, b)
}

// stripAccents removes combining marks.
type stripAccents struct{}

func (stripAccents) normalize(n ntext) ntext {
	has := false
	for _, c := range n.s {
		if unicode.Is(unicode.M, c) {
			has = true
			break
		}
	}
	if !has {
		return n
	}
	return mapRunes(n, func(c rune, dst []byte) []byte {
		if unicode.Is(unicode.M, c) {
			return dst
		}
		return utf8.AppendRune(dst, c)
	})
}

// replace substitutes every match of a pattern with content.
type replace struct {
	m       matcher
	content string
}

func (r replace) normalize(n ntext) ntext {
	return replaceMatches(n, findAll(r.m, n.s), r.content)
}

func replaceMatches(n ntext, ms [][2]int, content string) ntext {
	if len(ms) == 0 {
		return n
	}
	if !n.track {
		buf := make([]byte, 0, len(n.s)+len(ms)*(len(content)+1))
		prev := 0
		for _, m := range ms {
			buf = append(buf, n.s[prev:m[0]]...)
			buf = append(buf, content...)
			prev = m[1]
		}
		buf = append(buf, n.s[prev:]...)
		return ntext{s: string(buf), first: n.first}
	}
	b := builder{track: n.track}
	prev := 0
	copyRange := func(from, to int) {
		for i := from; i < to; {
			_, size := utf8.DecodeRuneInString(n.s[i:])
			if i+size > to {
				size = to - i
			}
			b.add(n.s[i:i+size], n.charRange(i, size))
			i += size
		}
	}
	for _, m := range ms {
		copyRange(prev, m[0])
		// As in the Rust crate, the replacement is an insertion after the removed characters:
		// it takes the range of the last character it replaces.
		var r [2]int
		if m[1] > m[0] {
			_, size := utf8.DecodeLastRuneInString(n.s[m[0]:m[1]])
			r = n.charRange(m[1]-size, size)
		} else if m[0] > 0 {
			_, size := utf8.DecodeLastRuneInString(n.s[:m[0]])
			r = n.charRange(m[0]-size, size)
		} else {
			a, _ := n.origRange(0, 0)
			r = [2]int{a, a}
		}
		b.add(content, r)
		prev = m[1]
	}
	copyRange(prev, len(n.s))
	return b.text(n.first)
}

// prepend inserts a fixed string before non-empty text.
type prepend struct{ s string }

func (p prepend) normalize(n ntext) ntext {
	if n.s == "" || p.s == "" {
		return n
	}
	return prependText(n, p.s)
}

// bertNormalizer is BERT's cleaning, CJK spacing, accent stripping and lowercasing.
type bertNormalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func isBertControl(c rune) bool {
	if c == '\t' || c == '\n' || c == '\r' {
		return false
	}
	return unicode.In(c, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) || !unicode.In(c, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

func isBertWhitespace(c rune) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || unicode.Is(unicode.Zs, c)
}

func isChineseChar(c rune) bool {
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
		(c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
		(c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F)
}

func (bn bertNormalizer) normalize(n ntext) ntext {
	if bn.cleanText {
		n = mapRunes(n, func(c rune, dst []byte) []byte {
			if c == 0 || c == 0xFFFD || isBertControl(c) {
				return dst
			}
			if isBertWhitespace(c) {
				return append(dst, ' ')
			}
			return utf8.AppendRune(dst, c)
		})
	}
	if bn.chineseChars {
		n = mapRunes(n, func(c rune, dst []byte) []byte {
			if isChineseChar(c) {
				dst = append(dst, ' ')
				dst = utf8.AppendRune(dst, c)
				return append(dst, ' ')
			}
			return utf8.AppendRune(dst, c)
		})
	}
	if bn.stripAccents {
		// BERT strips nonspacing marks only (Mn), unlike the StripAccents normalizer.
		n = unicodeNorm{norm.NFD}.normalize(n)
		n = mapRunes(n, func(c rune, dst []byte) []byte {
			if unicode.Is(unicode.Mn, c) {
				return dst
			}
			return utf8.AppendRune(dst, c)
		})
	}
	if bn.lowercase {
		n = lowercase{}.normalize(n)
	}
	return n
}

// normSequence applies normalizers in order.
type normSequence []normalizer

func (s normSequence) normalize(n ntext) ntext {
	for _, x := range s {
		n = x.normalize(n)
	}
	return n
}

// nmt is SentencePiece's NMT normalization: some control characters removed, some spaces and
// format characters mapped to ' '.
type nmt struct{}

func nmtRemoved(c rune) bool {
	return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F
}

func nmtSpace(c rune) bool {
	switch {
	case c == 0x9, c == 0xA, c == 0xC, c == 0xD, c == 0x1680, c >= 0x200B && c <= 0x200F,
		c == 0x2028, c == 0x2029, c == 0x2581, c == 0xFEFF, c == 0xFFFD:
		return true
	}
	return false
}

func (nmt) normalize(n ntext) ntext {
	changed := false
	for _, c := range n.s {
		if nmtRemoved(c) || nmtSpace(c) {
			changed = true
			break
		}
	}
	if !changed {
		return n
	}
	return mapRunes(n, func(c rune, dst []byte) []byte {
		switch {
		case nmtRemoved(c):
			return dst
		case nmtSpace(c):
			return append(dst, ' ')
		}
		return utf8.AppendRune(dst, c)
	})
}

// byteLevelNorm maps every byte to its byte-level character.
type byteLevelNorm struct{}

func (byteLevelNorm) normalize(n ntext) ntext { return byteLevelMap(n) }
