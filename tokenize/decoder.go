package tokenize

import (
	"strings"
	"unicode/utf8"
)

// decoder turns token strings back into text; the result is the concatenation of its output.
type decoder interface {
	decodeChain(toks []string) []string
}

// byteLevelDecoder maps byte-level characters back to bytes and reads them as UTF-8.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(toks []string) []string {
	var raw []byte
	for _, t := range toks {
		n := len(raw)
		var ok bool
		raw, ok = byteLevelDecode(t, raw)
		if !ok {
			raw = append(raw[:n], t...)
		}
	}
	return []string{string(appendLossy(nil, raw))}
}

// parseByteToken reads "<0xXX>" the way the Rust crate does (u8::from_str_radix on the two
// characters, which also accepts a leading '+').
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	h := t[3:5]
	hexVal := func(c byte) (int, bool) {
		switch {
		case c >= '0' && c <= '9':
			return int(c - '0'), true
		case c >= 'a' && c <= 'f':
			return int(c-'a') + 10, true
		case c >= 'A' && c <= 'F':
			return int(c-'A') + 10, true
		}
		return 0, false
	}
	if h[0] == '+' {
		v, ok := hexVal(h[1])
		return byte(v), ok
	}
	a, ok1 := hexVal(h[0])
	b, ok2 := hexVal(h[1])
	return byte(a*16 + b), ok1 && ok2
}

// byteFallbackDecoder turns runs of <0xXX> tokens into text, or one U+FFFD per byte when the
// run is not valid UTF-8.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var run []byte
	flush := func() {
		if len(run) == 0 {
			return
		}
		if utf8.Valid(run) {
			out = append(out, string(run))
		} else {
			for range run {
				out = append(out, "\uFFFD")
			}
		}
		run = run[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			run = append(run, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// metaspaceDecoder turns the marker back into spaces, dropping it in the first token when the
// encoder prepends one.
type metaspaceDecoder struct {
	replacement rune
	prepend     bool
}

func (d metaspaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var b strings.Builder
		for _, c := range t {
			if c == d.replacement {
				if i == 0 && d.prepend {
					continue
				}
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(c)
		}
		out[i] = b.String()
	}
	return out
}

// fuseDecoder joins all tokens into one.
type fuseDecoder struct{}

func (fuseDecoder) decodeChain(toks []string) []string {
	return []string{strings.Join(toks, "")}
}

// stripDecoder removes up to start leading and stop trailing occurrences of one character.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (d stripDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		a := 0
		for k := 0; k < d.start && k < len(rs); k++ {
			if rs[k] != d.content {
				break
			}
			a = k + 1
		}
		b := len(rs)
		for k := 0; k < d.stop && k < len(rs); k++ {
			idx := len(rs) - k - 1
			if rs[idx] != d.content {
				break
			}
			b = idx
		}
		if b < a {
			b = a
		}
		out[i] = string(rs[a:b])
	}
	return out
}

// replaceDecoder replaces pattern matches in every token.
type replaceDecoder struct {
	m       matcher
	content string
}

func (d replaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		ms := findAll(d.m, t)
		if len(ms) == 0 {
			out[i] = t
			continue
		}
		var b strings.Builder
		prev := 0
		for _, m := range ms {
			b.WriteString(t[prev:m[0]])
			b.WriteString(d.content)
			prev = m[1]
		}
		b.WriteString(t[prev:])
		out[i] = b.String()
	}
	return out
}

// wordPieceDecoder glues continuation pieces and puts spaces before words.
type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

func (d wordPieceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = strings.Replace(t, d.prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanupSpaces(t)
		}
		out[i] = t
	}
	return out
}

// bpeDecoder replaces the end-of-word suffix with a space (nothing after the last token).
type bpeDecoder struct{ suffix string }

func (d bpeDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}

// cleanupSpaces is the Rust crate's WordPiece cleanup.
func cleanupSpaces(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// CleanUpTokenizationSpaces applies transformers' clean_up_tokenization to decoded text
// (" ." becomes ".", " 's" becomes "'s", ...), the optional step that tokenizer_config.json's
// clean_up_tokenization_spaces asks for. Decode does not apply it.
func CleanUpTokenizationSpaces(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// decoderSequence chains decoders.
type decoderSequence []decoder

func (s decoderSequence) decodeChain(toks []string) []string {
	for _, d := range s {
		toks = d.decodeChain(toks)
	}
	return toks
}

// ctcDecoder collapses repeated tokens, drops the pad token and turns the word delimiter into
// spaces (speech models).
type ctcDecoder struct {
	pad, delimiter string
	cleanup        bool
}

func (d ctcDecoder) decodeChain(toks []string) []string {
	var out []string
	for i, t := range toks {
		if i > 0 && t == toks[i-1] {
			continue
		}
		r := strings.ReplaceAll(t, d.pad, "")
		if d.cleanup {
			r = strings.ReplaceAll(cleanupSpaces(r), d.delimiter, " ")
		}
		if r != "" {
			out = append(out, r)
		}
	}
	return out
}
