package tokenize

import "unicode/utf8"

// ntext is a piece of normalized text that remembers where each of its bytes came from in the
// original input, the way the Rust crate's NormalizedString does. When align is nil the piece is
// an unchanged slice of the input starting at base; otherwise align[i] is the original byte range
// of the character that produced byte i.
type ntext struct {
	s     string
	align [][2]int
	base  int
	first bool // the piece starts at original offset 0 (Metaspace prepend_scheme "first")
	// track is set when offsets are wanted; without it transformations skip the alignment
	// bookkeeping and origRange is meaningless.
	track bool
}

func (n ntext) slice(a, b int) ntext {
	if n.align == nil {
		return ntext{s: n.s[a:b], base: n.base + a, first: n.first && a == 0, track: n.track}
	}
	return ntext{s: n.s[a:b], align: n.align[a:b], first: n.first && a == 0, track: n.track}
}

// origRange maps the normalized byte range [a, b) to original byte offsets.
func (n *ntext) origRange(a, b int) (int, int) {
	if n.align == nil {
		return n.base + a, n.base + b
	}
	if len(n.align) == 0 {
		return n.base, n.base
	}
	if a >= len(n.align) {
		e := n.align[len(n.align)-1][1]
		return e, e
	}
	if b <= a {
		s := n.align[a][0]
		return s, s
	}
	return n.align[a][0], n.align[b-1][1]
}

// charRange returns the original range of the character starting at byte i.
func (n *ntext) charRange(i, size int) [2]int {
	if n.align == nil {
		return [2]int{n.base + i, n.base + i + size}
	}
	return [2]int{n.align[i][0], n.align[i+size-1][1]}
}

// builder assembles a transformed ntext.
type builder struct {
	buf   []byte
	align [][2]int
	track bool
}

func (b *builder) add(s string, r [2]int) {
	b.buf = append(b.buf, s...)
	if b.track {
		for range len(s) {
			b.align = append(b.align, r)
		}
	}
}

func (b *builder) text(first bool) ntext {
	if !b.track {
		return ntext{s: string(b.buf), first: first}
	}
	return ntext{s: string(b.buf), align: b.align, first: first, track: true}
}

// mapRunes rewrites n character by character; f returns the replacement of one character (the
// character itself to keep it, "" to drop it). Every output byte keeps the original range of the
// character it came from.
func mapRunes(n ntext, f func(c rune, dst []byte) []byte) ntext {
	b := builder{track: n.track}
	b.buf = make([]byte, 0, len(n.s))
	if b.track {
		b.align = make([][2]int, 0, len(n.s))
	}
	for i := 0; i < len(n.s); {
		c, size := utf8.DecodeRuneInString(n.s[i:])
		k := len(b.buf)
		b.buf = f(c, b.buf)
		if b.track {
			r := n.charRange(i, size)
			for range len(b.buf) - k {
				b.align = append(b.align, r)
			}
		}
		i += size
	}
	return b.text(n.first)
}

// prependText inserts s before n; the inserted bytes take the range of n's first character.
func prependText(n ntext, s string) ntext {
	if len(n.s) == 0 {
		return n
	}
	if !n.track {
		return ntext{s: s + n.s, first: n.first}
	}
	_, size := utf8.DecodeRuneInString(n.s)
	r := n.charRange(0, size)
	b := builder{track: n.track}
	b.add(s, r)
	for i := 0; i < len(n.s); {
		_, size := utf8.DecodeRuneInString(n.s[i:])
		b.add(n.s[i:i+size], n.charRange(i, size))
		i += size
	}
	return b.text(n.first)
}
