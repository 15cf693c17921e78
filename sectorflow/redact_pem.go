package sectorflow

import (
	"regexp"
	"strings"
)

var (
	pemBeginRE = regexp.MustCompile(`-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY[ A-Z0-9]{0,40}-----`)
	pemEndRE   = regexp.MustCompile(`-----END[ A-Z0-9]{0,40}PRIVATE KEY[ A-Z0-9]{0,40}-----`)
)

// findPEM appends the spans of PEM private keys: a BEGIN line, the body lines that follow it
// (base64, or an RFC 1421 header such as "Proc-Type: 4,ENCRYPTED"), and the END line when it
// comes right after them. Lines may end in newlines or, inside JSON strings, in "\n" escapes. A
// BEGIN line with no body (a key mentioned in an error message) is censored alone; text after
// the body that is not part of a key is kept. It runs in time linear in len(s).
func findPEM(s string, spans []span) []span {
	taken := 0
	for _, m := range pemBeginRE.FindAllStringIndex(s, -1) {
		if m[0] < taken {
			continue
		}
		end := pemBlockEnd(s, m[1])
		spans = append(spans, span{start: m[0], end: end, kind: kindPrivateKey, prio: kindPrio[kindPrivateKey]})
		taken = end
	}
	return spans
}

// pemBlockEnd returns where the key whose BEGIN line ends at p ends.
func pemBlockEnd(s string, p int) int {
	// The whole key on one line: BEGIN...base64...END.
	if q := p + base64Run(s[p:]); q > p || strings.HasPrefix(s[p:], "-----END") {
		if e := pemEndAt(s, q); e > 0 {
			return e
		}
	}
	for {
		q, ok := pemSeparator(s, p)
		if !ok {
			return p
		}
		if e := pemEndAt(s, q); e > 0 {
			return e
		}
		lineEnd, ok := pemBodyLineEnd(s, q)
		if !ok {
			return p
		}
		if e := pemEndAt(s, lineEnd); e > 0 {
			return e
		}
		p = lineEnd
	}
}

// pemSeparator skips the line break at p (a newline, or a "\n" escape inside a JSON string), at
// most one blank line after it, and the next line's indentation.
func pemSeparator(s string, p int) (int, bool) {
	escaped := false
	switch {
	case strings.HasPrefix(s[p:], "\r\n"):
		p += 2
	case strings.HasPrefix(s[p:], "\n"):
		p++
	case strings.HasPrefix(s[p:], `\n`):
		p += 2
		escaped = true
	default:
		return p, false
	}
	if !escaped { // one blank line, as after the headers of an encrypted key
		q := skipBlanks(s, p)
		if strings.HasPrefix(s[q:], "\r\n") {
			p = q + 2
		} else if strings.HasPrefix(s[q:], "\n") {
			p = q + 1
		}
	} else if strings.HasPrefix(s[p:], `\n`) {
		p += 2
	}
	return skipBlanks(s, p), true
}

// pemBodyLineEnd returns the end of the PEM body line starting at q: a header, or a run of
// base64 that fills its line (followed by a line break, the end of the text, a closing quote or
// the END line).
func pemBodyLineEnd(s string, q int) (int, bool) {
	if strings.HasPrefix(s[q:], "Proc-Type: ") || strings.HasPrefix(s[q:], "DEK-Info: ") {
		e := len(s)
		if j := strings.IndexAny(s[q:], "\r\n\\\""); j >= 0 {
			e = q + j
		}
		return e, true
	}
	n := base64Run(s[q:])
	if n == 0 {
		return q, false
	}
	e := q + n
	for e < len(s) && (s[e] == ' ' || s[e] == '\t' || s[e] == '\r') {
		e++
	}
	rest := s[e:]
	if rest == "" || rest[0] == '\n' || rest[0] == '"' || strings.HasPrefix(rest, `\n`) ||
		strings.HasPrefix(rest, "-----END") {
		return e, true
	}
	return q, false
}

// pemEndAt returns the end of an END line starting at q, or 0.
func pemEndAt(s string, q int) int {
	if !strings.HasPrefix(s[q:], "-----END") {
		return 0
	}
	if loc := pemEndRE.FindStringIndex(s[q:min(len(s), q+100)]); loc != nil && loc[0] == 0 {
		return q + loc[1]
	}
	return 0
}

// base64Run returns the length of the run of standard base64 characters at the start of s.
func base64Run(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return i
		}
	}
	return len(s)
}
