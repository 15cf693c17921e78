package tokenize

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A tokenizer.json is mostly one large vocabulary and one large merge list. encoding/json
// scans every nested value twice per Unmarshal, and the pipeline below nests three deep, so
// loading spent most of its time re-scanning the same megabytes. These helpers read the top
// levels without copying and parse the two big shapes directly. Anything they do not
// recognize (or any malformed input) makes them report !ok, and the caller falls back to
// encoding/json, whose errors are then the ones reported.

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(d []byte, i int) int {
	for i < len(d) && isJSONSpace(d[i]) {
		i++
	}
	return i
}

// readString decodes the JSON string starting at d[i] == '"'.
func readString(d []byte, i int) (string, int, bool) {
	if i >= len(d) || d[i] != '"' {
		return "", i, false
	}
	i++
	start := i
	for i < len(d) {
		c := d[i]
		if c == '"' {
			if !utf8.Valid(d[start:i]) {
				return "", i, false
			}
			return string(d[start:i]), i + 1, true
		}
		if c == '\\' {
			return readEscapedString(d, start)
		}
		if c < 0x20 {
			return "", i, false
		}
		i++
	}
	return "", i, false
}

func readEscapedString(d []byte, i int) (string, int, bool) {
	var b []byte
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			if !utf8.Valid(b) {
				return "", i, false
			}
			return string(b), i + 1, true
		case c < 0x20:
			return "", i, false
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			return "", i, false
		}
		e := d[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(d, i)
			if !ok {
				return "", i, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+6 <= len(d) && d[i] == '\\' && d[i+1] == 'u' {
					r2, ok2 = hex4(d, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", i, false
		}
	}
	return "", i, false
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d[i:i+4]), 16, 32)
	return rune(v), err == nil
}

// skipValue returns the end of the JSON value at d[i] (after leading space). It checks only
// the nesting and strings; the value itself is validated by whoever decodes it.
func skipValue(d []byte, i int) (int, bool) {
	i = skipSpace(d, i)
	if i >= len(d) {
		return i, false
	}
	switch d[i] {
	case '"':
		for i++; i < len(d); i++ {
			switch d[i] {
			case '\\':
				i++
			case '"':
				return i + 1, true
			}
		}
		return i, false
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			case '"':
				for i++; i < len(d) && d[i] != '"'; i++ {
					if d[i] == '\\' {
						i++
					}
				}
			}
		}
		return i, false
	}
	start := i
	for i < len(d) && !isJSONSpace(d[i]) && d[i] != ',' && d[i] != '}' && d[i] != ']' {
		i++
	}
	return i, i > start
}

// skimObject splits a JSON object into its members without copying them. It does not
// validate the members: it is used on documents that json.Valid accepted.
func skimObject(d []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return m, skipSpace(d, i+1) == len(d)
	}
	for {
		k, j, ok := readString(d, skipSpace(d, i))
		if !ok {
			return nil, false
		}
		j = skipSpace(d, j)
		if j >= len(d) || d[j] != ':' {
			return nil, false
		}
		vs := skipSpace(d, j+1)
		ve, ok := skipValue(d, vs)
		if !ok {
			return nil, false
		}
		m[k] = d[vs:ve:ve]
		i = skipSpace(d, ve)
		if i >= len(d) {
			return nil, false
		}
		if d[i] == '}' {
			return m, skipSpace(d, i+1) == len(d)
		}
		if d[i] != ',' {
			return nil, false
		}
		i++
	}
}

// parseVocabFast reads {"token": id, ...} with integer ids.
func parseVocabFast(d []byte) (map[string]int, bool) {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return nil, false
	}
	m := make(map[string]int, len(d)/16)
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return m, skipSpace(d, i+1) == len(d)
	}
	for {
		k, j, ok := readString(d, skipSpace(d, i))
		if !ok {
			return nil, false
		}
		j = skipSpace(d, j)
		if j >= len(d) || d[j] != ':' {
			return nil, false
		}
		j = skipSpace(d, j+1)
		neg := false
		if j < len(d) && d[j] == '-' {
			neg = true
			j++
		}
		start, v := j, 0
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			v = v*10 + int(d[j]-'0')
			if v > 1<<40 {
				return nil, false
			}
			j++
		}
		if j == start || (j < len(d) && (d[j] == '.' || d[j] == 'e' || d[j] == 'E')) || (d[start] == '0' && j > start+1) {
			return nil, false
		}
		if neg {
			v = -v
		}
		m[k] = v
		i = skipSpace(d, j)
		if i >= len(d) {
			return nil, false
		}
		if d[i] == '}' {
			return m, skipSpace(d, i+1) == len(d)
		}
		if d[i] != ',' {
			return nil, false
		}
		i++
	}
}

// parseMergesFast reads ["a b", ...] or [["a", "b"], ...]; a string without a space makes
// it report !ok so that the caller reports the error.
func parseMergesFast(d []byte) ([][2]string, bool) {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return nil, false
	}
	var out [][2]string
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		return out, skipSpace(d, i+1) == len(d)
	}
	for {
		i = skipSpace(d, i)
		if i >= len(d) {
			return nil, false
		}
		switch d[i] {
		case '"':
			s, j, ok := readString(d, i)
			if !ok {
				return nil, false
			}
			k := -1
			for x := 0; x < len(s); x++ {
				if s[x] == ' ' {
					k = x
					break
				}
			}
			if k < 0 {
				return nil, false
			}
			out = append(out, [2]string{s[:k], s[k+1:]})
			i = j
		case '[':
			a, j, ok := readString(d, skipSpace(d, i+1))
			if !ok {
				return nil, false
			}
			j = skipSpace(d, j)
			if j >= len(d) || d[j] != ',' {
				return nil, false
			}
			b, j2, ok := readString(d, skipSpace(d, j+1))
			if !ok {
				return nil, false
			}
			j2 = skipSpace(d, j2)
			if j2 >= len(d) || d[j2] != ']' {
				return nil, false
			}
			out = append(out, [2]string{a, b})
			i = j2 + 1
		default:
			return nil, false
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return nil, false
		}
		if d[i] == ']' {
			return out, skipSpace(d, i+1) == len(d)
		}
		if d[i] != ',' {
			return nil, false
		}
		i++
	}
}
