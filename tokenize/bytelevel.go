package tokenize

import "unicode/utf8"

// byteToChar is GPT-2's reversible byte-to-character table: printable Latin-1 bytes map to
// themselves, the other 68 bytes to U+0100 upwards, so every byte string becomes printable text.
var byteToChar [256]rune

// charToByte inverts byteToChar; it is indexed by rune for runes below len(charToByte).
var charToByte [324]int16

// byteToCharStr holds byteToChar as UTF-8 strings.
var byteToCharStr [256]string

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToChar[b] = rune(b)
		} else {
			byteToChar[b] = rune(256 + n)
			n++
		}
	}
	for i := range charToByte {
		charToByte[i] = -1
	}
	for b, r := range byteToChar {
		charToByte[r] = int16(b)
		byteToCharStr[b] = string(r)
	}
}

// byteLevelDecode maps a byte-level string back to raw bytes. ok is false when s holds a
// character outside the byte-level alphabet.
func byteLevelDecode(s string, dst []byte) ([]byte, bool) {
	for _, r := range s {
		if r < 0 || int(r) >= len(charToByte) || charToByte[r] < 0 {
			return dst, false
		}
		dst = append(dst, byte(charToByte[r]))
	}
	return dst, true
}

// appendLossy appends b to dst as Rust's String::from_utf8_lossy does: each maximal prefix of an
// ill-formed sequence becomes one U+FFFD.
func appendLossy(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, b[i:i+size]...)
			i += size
			continue
		}
		// Invalid: skip the maximal subpart of a valid sequence starting at i.
		i += maximalSubpart(b[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return dst
}

// maximalSubpart returns how many bytes at the start of b (which does not start with a valid
// sequence) form the longest prefix of some well-formed UTF-8 sequence, at least 1.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xBF {
			return n
		}
		n++
	}
	return n
}
