package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenType int

const (
	tokEOF tokenType = iota
	tokText
	tokVarBegin
	tokVarEnd
	tokBlockBegin
	tokBlockEnd
	tokName
	tokString
	tokInt
	tokFloat
	tokOp
)

type token struct {
	typ  tokenType
	val  string // text, name, decoded string literal, operator or number literal
	line int
}

func (t token) String() string {
	switch t.typ {
	case tokEOF:
		return "end of template"
	case tokText:
		return "template data"
	case tokVarBegin:
		return "'{{'"
	case tokVarEnd:
		return "'}}'"
	case tokBlockBegin:
		return "'{%'"
	case tokBlockEnd:
		return "'%}'"
	case tokString:
		return "string " + pyStringRepr(t.val)
	case tokOp:
		return "'" + t.val + "'"
	}
	return "'" + t.val + "'"
}

// lexer splits a template into tokens the way Jinja2's lexer does, applying whitespace control.
type lexer struct {
	src          string
	pos          int
	line         int
	opts         *Options
	tokens       []token
	lineStarting bool
}

// normalizeSource converts \r\n and \r to \n and drops one trailing newline unless kept, as
// Jinja2 does before lexing.
func normalizeSource(src string, keepTrailingNewline bool) string {
	if strings.ContainsRune(src, '\r') {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	if !keepTrailingNewline && strings.HasSuffix(src, "\n") {
		src = src[:len(src)-1]
	}
	return src
}

func lex(src string, opts *Options) ([]token, error) {
	l := &lexer{src: normalizeSource(src, opts.KeepTrailingNewline), line: 1, opts: opts, lineStarting: true}
	if err := l.run(); err != nil {
		return nil, err
	}
	l.tokens = append(l.tokens, token{typ: tokEOF, line: l.line})
	return l.tokens, nil
}

func (l *lexer) errorf(line int, format string, args ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// advance moves pos to p, counting newlines.
func (l *lexer) advance(p int) {
	l.line += strings.Count(l.src[l.pos:p], "\n")
	l.pos = p
}

// rstripPy removes trailing Python whitespace.
func rstripPy(s string) string { return strings.TrimRightFunc(s, isPySpace) }

// skipPySpace returns the index after the Python whitespace starting at i.
func skipPySpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPySpace(r) {
			break
		}
		i += n
	}
	return i
}

// emitText adds the text before a tag, applying the tag's strip sign ('-' strips all whitespace
// before it) or lstrip_blocks (spaces before a block or comment tag that starts its line).
func (l *lexer) emitText(text string, sign byte, lstripAllowed bool) {
	line := l.line
	if sign == '-' {
		text = rstripPy(text)
	} else if sign != '+' && lstripAllowed && l.opts.LstripBlocks {
		lpos := strings.LastIndexByte(text, '\n') + 1
		if lpos > 0 || l.lineStarting {
			rest := text[lpos:]
			if rest != "" && strings.TrimLeftFunc(rest, func(r rune) bool { return r != '\n' && isPySpace(r) }) == "" {
				text = text[:lpos]
			}
		}
	}
	if text != "" {
		l.tokens = append(l.tokens, token{typ: tokText, val: text, line: line})
	}
}

// tagEnd reports the length of the block or comment end at s[i:] ("-%}" plus following
// whitespace, "+%}", or "%}" plus one newline with trim_blocks), or 0.
func (l *lexer) tagEnd(s string, i int, closer byte) int {
	rest := s[i:]
	switch {
	case strings.HasPrefix(rest, "-"+string(closer)+"}"):
		return skipPySpace(s, i+3) - i
	case strings.HasPrefix(rest, "+"+string(closer)+"}"):
		return 3
	case strings.HasPrefix(rest, string(closer)+"}"):
		if l.opts.TrimBlocks && strings.HasPrefix(rest[2:], "\n") {
			return 3
		}
		return 2
	}
	return 0
}

func (l *lexer) run() error {
	src := l.src
	for l.pos < len(src) {
		i := l.findTagStart(l.pos)
		if i < 0 {
			l.emitText(src[l.pos:], 0, false)
			l.advance(len(src))
			return nil
		}
		kind := src[i+1]
		j := i + 2
		var sign byte
		if j < len(src) && (src[j] == '-' || src[j] == '+') {
			sign = src[j]
			j++
		}
		text := src[l.pos:i]
		switch kind {
		case '#':
			l.emitText(text, sign, true)
			l.advance(i)
			end := -1
			for k := j; k+1 < len(src); k++ {
				if src[k] == '#' && src[k+1] == '}' {
					end = k
					break
				}
			}
			if end < 0 {
				return l.errorf(l.line, "missing end of comment tag")
			}
			var n int
			if end > j && (src[end-1] == '-' || src[end-1] == '+') {
				n = l.tagEnd(src, end-1, '#')
				end--
			} else {
				n = l.tagEnd(src, end, '#')
			}
			l.finishTag(end + n)
		case '%':
			if n, ok := l.rawBegin(j); ok {
				l.emitText(text, sign, true)
				l.advance(i)
				if err := l.lexRaw(n); err != nil {
					return err
				}
				continue
			}
			l.emitText(text, sign, true)
			l.advance(i)
			l.tokens = append(l.tokens, token{typ: tokBlockBegin, line: l.line})
			l.advance(j)
			if err := l.lexInside('%'); err != nil {
				return err
			}
		case '{':
			l.emitText(text, sign, false)
			l.advance(i)
			l.tokens = append(l.tokens, token{typ: tokVarBegin, line: l.line})
			l.advance(j)
			if err := l.lexInside('}'); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishTag moves past a tag end at p and records whether the next text starts a line.
func (l *lexer) finishTag(p int) {
	l.lineStarting = p > 0 && l.src[p-1] == '\n'
	l.advance(p)
}

// findTagStart finds the next "{{", "{%" or "{#" at or after p.
func (l *lexer) findTagStart(p int) int {
	for {
		k := strings.IndexByte(l.src[p:], '{')
		if k < 0 {
			return -1
		}
		i := p + k
		if i+1 < len(l.src) && (l.src[i+1] == '{' || l.src[i+1] == '%' || l.src[i+1] == '#') {
			return i
		}
		p = i + 1
	}
}

// rawBegin checks for "raw" after "{%[-+]" at j and returns the end of the raw tag.
func (l *lexer) rawBegin(j int) (int, bool) {
	src := l.src
	k := skipPySpace(src, j)
	if !strings.HasPrefix(src[k:], "raw") {
		return 0, false
	}
	k = skipPySpace(src, k+3)
	switch {
	case strings.HasPrefix(src[k:], "-%}"):
		return skipPySpace(src, k+3), true
	case strings.HasPrefix(src[k:], "%}"):
		return k + 2, true
	}
	return 0, false
}

// lexRaw emits the verbatim text of a raw block whose opening tag ends at start.
func (l *lexer) lexRaw(start int) error {
	src := l.src
	l.finishTag(start)
	for p := start; ; {
		k := strings.Index(src[p:], "{%")
		if k < 0 {
			return l.errorf(l.line, "missing end of raw directive")
		}
		i := p + k
		j := i + 2
		var sign byte
		if j < len(src) && (src[j] == '-' || src[j] == '+') {
			sign = src[j]
			j++
		}
		m := skipPySpace(src, j)
		if strings.HasPrefix(src[m:], "endraw") {
			m = skipPySpace(src, m+6)
			if n := l.tagEnd(src, m, '%'); n > 0 {
				l.emitText(src[start:i], sign, true)
				l.advance(i)
				l.finishTag(m + n)
				return nil
			}
		}
		p = i + 2
	}
}

var operators = []string{"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"}

// lexInside tokenizes an expression up to the closing "}}" or "%}" (closer '}' or '%').
func (l *lexer) lexInside(closer byte) error {
	src := l.src
	startLine := l.line
	var balance []byte
	for {
		l.advance(skipPySpace(src, l.pos))
		if l.pos >= len(src) {
			what := "block"
			if closer == '}' {
				what = "variable"
			}
			return l.errorf(startLine, "unexpected end of template: missing end of %s tag", what)
		}
		if len(balance) == 0 {
			if closer == '%' {
				if n := l.tagEnd(src, l.pos, '%'); n > 0 {
					l.tokens = append(l.tokens, token{typ: tokBlockEnd, line: l.line})
					l.finishTag(l.pos + n)
					return nil
				}
			} else {
				rest := src[l.pos:]
				if strings.HasPrefix(rest, "-}}") {
					l.tokens = append(l.tokens, token{typ: tokVarEnd, line: l.line})
					l.finishTag(skipPySpace(src, l.pos+3))
					return nil
				}
				if strings.HasPrefix(rest, "}}") {
					l.tokens = append(l.tokens, token{typ: tokVarEnd, line: l.line})
					l.finishTag(l.pos + 2)
					return nil
				}
			}
		}
		c := src[l.pos]
		r, _ := utf8.DecodeRuneInString(src[l.pos:])
		switch {
		case c == '\'' || c == '"':
			end, val, err := l.lexString(l.pos)
			if err != nil {
				return err
			}
			l.tokens = append(l.tokens, token{typ: tokString, val: val, line: l.line})
			l.advance(end)
		case c >= '0' && c <= '9':
			end, typ := lexNumber(src, l.pos)
			lit := strings.ReplaceAll(src[l.pos:end], "_", "")
			l.tokens = append(l.tokens, token{typ: typ, val: lit, line: l.line})
			l.advance(end)
		case c == '_' || unicode.IsLetter(r):
			end := l.pos
			for end < len(src) {
				r, n := utf8.DecodeRuneInString(src[end:])
				if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				end += n
			}
			l.tokens = append(l.tokens, token{typ: tokName, val: src[l.pos:end], line: l.line})
			l.advance(end)
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(src[l.pos:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return l.errorf(l.line, "unexpected char %s", pyStringRepr(string(r)))
			}
			switch op {
			case "(", "[", "{":
				balance = append(balance, op[0])
			case ")", "]", "}":
				want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
				if len(balance) == 0 {
					return l.errorf(l.line, "unexpected '%s'", op)
				}
				if balance[len(balance)-1] != want {
					return l.errorf(l.line, "unexpected '%s', expected a closing bracket for '%c'", op, balance[len(balance)-1])
				}
				balance = balance[:len(balance)-1]
			}
			l.tokens = append(l.tokens, token{typ: tokOp, val: op, line: l.line})
			l.advance(l.pos + len(op))
		}
	}
}

// lexNumber scans an integer or float literal (Jinja2's rules: 0x/0o/0b, underscores, a float
// needs digits after the point or an exponent).
func lexNumber(s string, i int) (int, tokenType) {
	start := i
	if s[i] == '0' && i+1 < len(s) && strings.ContainsRune("xXoObB", rune(s[i+1])) {
		j := i + 2
		for j < len(s) && (isHexDigit(s[j]) || s[j] == '_') {
			j++
		}
		if j > i+2 {
			return j, tokInt
		}
	}
	digits := func(j int) int {
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '_' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
			j++
		}
		return j
	}
	i = digits(i)
	typ := tokInt
	if start > 0 && s[start-1] == '.' {
		return i, typ // "x.0.1": attribute indices, not a float
	}
	if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i = digits(i + 1)
		typ = tokFloat
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			i = digits(j)
			typ = tokFloat
		}
	}
	return i, typ
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lexString scans a quoted string at i and decodes its escapes as Python's unicode-escape codec
// does (Jinja2's behaviour).
func (l *lexer) lexString(i int) (int, string, error) {
	src := l.src
	q := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == q:
			return j + 1, b.String(), nil
		case c == '\\' && j+1 < len(src):
			n, s := decodeEscape(src, j)
			b.WriteString(s)
			j += n
		default:
			b.WriteByte(c)
			j++
		}
	}
	return 0, "", l.errorf(l.line, "unexpected end of string: missing closing %c", q)
}

// decodeEscape decodes the backslash escape at s[i] and returns its length and value.
func decodeEscape(s string, i int) (int, string) {
	c := s[i+1]
	simple := map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v", '\n': ""}
	if v, ok := simple[c]; ok {
		return 2, v
	}
	hex := func(n int) (int, string) {
		if i+2+n > len(s) {
			return 0, ""
		}
		v, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
		if err != nil || v > unicode.MaxRune {
			return 0, ""
		}
		return 2 + n, string(rune(v))
	}
	switch c {
	case 'x':
		if n, v := hex(2); n > 0 {
			return n, v
		}
	case 'u':
		if n, v := hex(4); n > 0 {
			return n, v
		}
	case 'U':
		if n, v := hex(8); n > 0 {
			return n, v
		}
	}
	if c >= '0' && c <= '7' {
		j := i + 1
		v := 0
		for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7' {
			v = v*8 + int(s[j]-'0')
			j++
		}
		return j - i, string(rune(v))
	}
	return 1, "\\" // unknown escape: the backslash stays, the next char is read normally
}
