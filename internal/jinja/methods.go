package jinja

import (
	"fmt"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// boundMethod is a Python method looked up on a value (s.strip, d.items, loop.cycle).
type boundMethod struct {
	recv any
	name string
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

var (
	stringMethods = set("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
		"upper", "lower", "title", "capitalize", "swapcase", "casefold", "replace", "find", "rfind", "index",
		"rindex", "count", "join", "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace",
		"isupper", "islower", "istitle", "zfill", "center", "ljust", "rjust", "partition", "rpartition",
		"format", "removeprefix", "removesuffix")
	listMethods       = set("index", "count", "copy")
	unsafeListMethods = set("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse")
	dictMethods       = set("items", "keys", "values", "get", "copy")
	unsafeDictMethods = set("clear", "pop", "popitem", "setdefault", "update")
)

func (r *renderer) callMethod(m *boundMethod, args []any, kw *Dict) (any, error) {
	switch recv := m.recv.(type) {
	case string:
		out, err := r.stringMethod(recv, m.name, args, kw)
		if err != nil {
			return nil, err
		}
		if s, ok := out.(string); ok {
			if err := r.checkLen(len(s)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *Dict:
		switch m.name {
		case "items":
			out := make([]any, recv.Len())
			for i, k := range recv.keys {
				out[i] = Tuple{k, recv.vals[i]}
			}
			return out, nil
		case "keys":
			return append([]any{}, recv.keys...), nil
		case "values":
			return append([]any{}, recv.vals...), nil
		case "get":
			if len(args) == 0 {
				return nil, fmt.Errorf("get expected at least 1 argument, got 0")
			}
			if _, err := hashKey(args[0]); err != nil {
				return nil, err
			}
			if v, ok := recv.Get(args[0]); ok {
				return v, nil
			}
			if len(args) > 1 {
				return args[1], nil
			}
			return nil, nil
		case "copy":
			return recv.copy(), nil
		}
	case []any, Tuple:
		var items []any
		if l, ok := recv.([]any); ok {
			items = l
		} else {
			items = recv.(Tuple)
		}
		switch m.name {
		case "index":
			if len(args) == 0 {
				return nil, fmt.Errorf("index expected at least 1 argument, got 0")
			}
			for i, x := range items {
				if equal(x, args[0]) {
					return int64(i), nil
				}
			}
			return nil, fmt.Errorf("%s is not in list", repr(args[0]))
		case "count":
			if len(args) == 0 {
				return nil, fmt.Errorf("count() takes exactly one argument (0 given)")
			}
			n := int64(0)
			for _, x := range items {
				if equal(x, args[0]) {
					n++
				}
			}
			return n, nil
		case "copy":
			return append([]any{}, items...), nil
		}
	case *loopContext:
		switch m.name {
		case "cycle":
			if len(args) == 0 {
				return nil, fmt.Errorf("no items for cycling given")
			}
			return args[recv.index0%len(args)], nil
		case "changed":
			v := Tuple(args)
			if recv.hasSeen && equal(recv.lastSeen, v) {
				return false, nil
			}
			recv.lastSeen, recv.hasSeen = v, true
			return true, nil
		}
	}
	return nil, fmt.Errorf("'%s' object has no method '%s'", typeName(m.recv), m.name)
}

func strArg(args []any, kw *Dict, i int, name string) (string, bool, error) {
	v := arg(args, kw, i, name, nil)
	if v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("%s must be str, not %s", name, typeName(v))
	}
	return s, true, nil
}

func (r *renderer) stringMethod(s, name string, args []any, kw *Dict) (any, error) {
	switch name {
	case "strip", "lstrip", "rstrip":
		return pyStrip(s, arg(args, kw, 0, "chars", nil), name != "rstrip", name != "lstrip")
	case "split", "rsplit":
		sep, hasSep, err := strArg(args, kw, 0, "sep")
		if err != nil {
			return nil, err
		}
		maxsplit, ok := asInt(arg(args, kw, 1, "maxsplit", int64(-1)))
		if !ok {
			return nil, fmt.Errorf("maxsplit must be an integer")
		}
		var parts []string
		if hasSep {
			if sep == "" {
				return nil, fmt.Errorf("empty separator")
			}
			parts = splitSep(s, sep, int(maxsplit), name == "rsplit")
		} else {
			parts = splitSpace(s, int(maxsplit), name == "rsplit")
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "splitlines":
		lines := pySplitlines(s, truthy(arg(args, kw, 0, "keepends", false)))
		out := make([]any, len(lines))
		for i, l := range lines {
			out[i] = l
		}
		return out, nil
	case "startswith", "endswith":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s takes at least 1 argument (0 given)", name)
		}
		sub, err := runeRange(s, args[1:])
		if err != nil {
			return nil, err
		}
		var cands []any
		switch p := args[0].(type) {
		case string:
			cands = []any{p}
		case Tuple:
			cands = p
		default:
			return nil, fmt.Errorf("%s first arg must be str or a tuple of str, not %s", name, typeName(args[0]))
		}
		for _, c := range cands {
			cs, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("tuple for %s must only contain str, not %s", name, typeName(c))
			}
			if name == "startswith" && strings.HasPrefix(sub, cs) || name == "endswith" && strings.HasSuffix(sub, cs) {
				return true, nil
			}
		}
		return false, nil
	case "upper":
		return pyUpper(s), nil
	case "lower":
		return pyLower(s), nil
	case "casefold":
		return cases.Fold().String(s), nil
	case "title":
		return pyTitle(s), nil
	case "capitalize":
		return pyCapitalize(s), nil
	case "swapcase":
		return strings.Map(func(r rune) rune {
			if unicode.IsUpper(r) {
				return unicode.ToLower(r)
			}
			return unicode.ToUpper(r)
		}, s), nil
	case "replace":
		if len(args) < 2 {
			return nil, fmt.Errorf("replace expected at least 2 arguments, got %d", len(args))
		}
		old, ok1 := args[0].(string)
		nw, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("replace arguments must be str")
		}
		count := int64(-1)
		if c := arg(args, kw, 2, "count", nil); c != nil {
			count, _ = asInt(c)
		}
		return pyReplace(r, s, old, nw, count)
	case "find", "rfind", "index", "rindex", "count":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s takes at least 1 argument (0 given)", name)
		}
		sub, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("must be str, not %s", typeName(args[0]))
		}
		offset := 0
		if len(args) > 1 {
			rs := []rune(s)
			idx, err := sliceIndices(len(rs), sliceBounds(args[1:]))
			if err != nil {
				return nil, err
			}
			if len(idx) > 0 {
				offset = idx[0]
				s = string(rs[idx[0] : idx[len(idx)-1]+1])
			} else {
				s = ""
			}
		}
		if name == "count" {
			if sub == "" {
				return int64(utf8.RuneCountInString(s) + 1), nil
			}
			return int64(strings.Count(s, sub)), nil
		}
		var i int
		if name == "find" || name == "index" {
			i = strings.Index(s, sub)
		} else {
			i = strings.LastIndex(s, sub)
		}
		if i < 0 {
			if name == "index" || name == "rindex" {
				return nil, fmt.Errorf("substring not found")
			}
			return int64(-1), nil
		}
		return int64(offset + utf8.RuneCountInString(s[:i])), nil
	case "join":
		if len(args) == 0 {
			return nil, fmt.Errorf("join() takes exactly one argument (0 given)")
		}
		items, err := r.iterate(args[0])
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(items))
		total := 0
		for i, it := range items {
			p, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("sequence item %d: expected str instance, %s found", i, typeName(it))
			}
			parts[i] = p
			total += len(p) + len(s)
		}
		if err := r.checkLen(total); err != nil {
			return nil, err
		}
		return strings.Join(parts, s), nil
	case "isdigit", "isdecimal", "isnumeric":
		return s != "" && all(s, unicode.IsDigit), nil
	case "isalpha":
		return s != "" && all(s, unicode.IsLetter), nil
	case "isalnum":
		return s != "" && all(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }), nil
	case "isspace":
		return s != "" && all(s, isPySpace), nil
	case "isupper":
		return hasCased(s) && all(s, func(r rune) bool { return !unicode.IsLower(r) }), nil
	case "islower":
		return hasCased(s) && all(s, func(r rune) bool { return !unicode.IsUpper(r) }), nil
	case "istitle":
		return hasCased(s) && pyTitle(s) == s, nil
	case "zfill", "center", "ljust", "rjust":
		w, ok := asInt(arg(args, kw, 0, "width", nil))
		if !ok {
			return nil, fmt.Errorf("%s: want an integer width", name)
		}
		if err := r.checkLen(int(min(w, int64(r.opts.MaxOutputBytes)+1))); err != nil {
			return nil, err
		}
		fill := " "
		if f, has, _ := strArg(args, kw, 1, "fillchar"); has {
			if utf8.RuneCountInString(f) != 1 {
				return nil, pyErrorf("The fill character must be exactly one character long")
			}
			fill = f
		}
		n := utf8.RuneCountInString(s)
		pad := int(w) - n
		if pad <= 0 {
			return s, nil
		}
		switch name {
		case "zfill":
			sign := ""
			if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
				sign, s = s[:1], s[1:]
			}
			return sign + strings.Repeat("0", pad) + s, nil
		case "ljust":
			return s + strings.Repeat(fill, pad), nil
		case "rjust":
			return strings.Repeat(fill, pad) + s, nil
		}
		left := pad/2 + (pad & int(w) & 1)
		return strings.Repeat(fill, left) + s + strings.Repeat(fill, pad-left), nil
	case "partition", "rpartition":
		sep, has, err := strArg(args, kw, 0, "sep")
		if err != nil || !has || sep == "" {
			return nil, fmt.Errorf("%s: want a non-empty separator", name)
		}
		var i int
		if name == "partition" {
			i = strings.Index(s, sep)
		} else {
			i = strings.LastIndex(s, sep)
		}
		if i < 0 {
			if name == "partition" {
				return Tuple{s, "", ""}, nil
			}
			return Tuple{"", "", s}, nil
		}
		return Tuple{s[:i], sep, s[i+len(sep):]}, nil
	case "removeprefix":
		p, _, err := strArg(args, kw, 0, "prefix")
		if err != nil {
			return nil, err
		}
		return strings.TrimPrefix(s, p), nil
	case "removesuffix":
		p, _, err := strArg(args, kw, 0, "suffix")
		if err != nil {
			return nil, err
		}
		return strings.TrimSuffix(s, p), nil
	case "format":
		return strFormat(s, args, kw)
	}
	return nil, fmt.Errorf("'str' object has no method '%s'", name)
}

// pyUpper and pyLower are Python's str.upper and str.lower: full Unicode case mappings
// ("ß" upper-cases to "SS").
func pyUpper(s string) string { return cases.Upper(language.Und).String(s) }

func pyLower(s string) string { return cases.Lower(language.Und).String(s) }

func all(s string, f func(rune) bool) bool {
	for _, r := range s {
		if !f(r) {
			return false
		}
	}
	return true
}

func hasCased(s string) bool {
	for _, r := range s {
		if unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) {
			return true
		}
	}
	return false
}

// pyTitle is Python's str.title.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToTitle(r))
		}
		prevCased = unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
	}
	return b.String()
}

func sliceBounds(args []any) [3]*int64 {
	var b [3]*int64
	for i := 0; i < 2 && i < len(args); i++ {
		if n, ok := asInt(args[i]); ok {
			b[i] = &n
		}
	}
	return b
}

// runeRange applies optional start/end code point arguments, as startswith(prefix, start, end).
func runeRange(s string, args []any) (string, error) {
	if len(args) == 0 {
		return s, nil
	}
	rs := []rune(s)
	idx, err := sliceIndices(len(rs), sliceBounds(args))
	if err != nil {
		return "", err
	}
	if len(idx) == 0 {
		return "", nil
	}
	return string(rs[idx[0] : idx[len(idx)-1]+1]), nil
}

// splitSep is Python's str.split(sep, maxsplit) / rsplit.
func splitSep(s, sep string, maxsplit int, fromRight bool) []string {
	if maxsplit < 0 {
		return strings.Split(s, sep)
	}
	if !fromRight {
		return strings.SplitN(s, sep, maxsplit+1)
	}
	var out []string
	for maxsplit > 0 {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		out = append(out, s[i+len(sep):])
		s = s[:i]
		maxsplit--
	}
	out = append(out, s)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// splitSpace is Python's str.split() without a separator: runs of whitespace, no empty strings.
func splitSpace(s string, maxsplit int, fromRight bool) []string {
	if maxsplit < 0 {
		return strings.FieldsFunc(s, isPySpace)
	}
	var out []string
	if !fromRight {
		for len(out) < maxsplit {
			s = strings.TrimLeftFunc(s, isPySpace)
			if s == "" {
				return out
			}
			i := strings.IndexFunc(s, isPySpace)
			if i < 0 {
				break
			}
			out = append(out, s[:i])
			s = s[i:]
		}
		s = strings.TrimLeftFunc(s, isPySpace)
		if s != "" {
			out = append(out, s)
		}
		return out
	}
	var rev []string
	for len(rev) < maxsplit {
		s = strings.TrimRightFunc(s, isPySpace)
		if s == "" {
			break
		}
		i := strings.LastIndexFunc(s, isPySpace)
		if i < 0 {
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		rev = append(rev, s[i+n:])
		s = s[:i]
	}
	s = strings.TrimRightFunc(s, isPySpace)
	if s != "" {
		out = append(out, s)
	}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out
}

// strFormat is a subset of Python's str.format: {} {0} {name} with optional !r/!s and a
// format spec of fill, alignment, width and precision.
func strFormat(s string, args []any, kw *Dict) (string, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '}' {
			if i+1 < len(s) && s[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("single '{' encountered in format string")
		}
		field := s[i+1 : i+end]
		i += end
		spec := ""
		if k := strings.IndexByte(field, ':'); k >= 0 {
			field, spec = field[:k], field[k+1:]
		}
		conv := ""
		if k := strings.IndexByte(field, '!'); k >= 0 {
			field, conv = field[:k], field[k+1:]
		}
		var v any
		switch {
		case field == "":
			if auto >= len(args) {
				return "", pyErrorf("Replacement index %d out of range for positional args tuple", auto)
			}
			v = args[auto]
			auto++
		default:
			if n, err := strconv.Atoi(field); err == nil {
				if n >= len(args) {
					return "", pyErrorf("Replacement index %d out of range for positional args tuple", n)
				}
				v = args[n]
			} else {
				x, ok := kw.Get(field)
				if !ok {
					return "", fmt.Errorf("KeyError: %s", pyStringRepr(field))
				}
				v = x
			}
		}
		var out string
		if conv == "r" {
			out = repr(v)
		} else if spec == "" {
			out = toString(v)
		} else {
			f, err := formatSpec(v, spec)
			if err != nil {
				return "", err
			}
			out = f
		}
		b.WriteString(out)
		if b.Len() > maxOutputLimit {
			return "", fmt.Errorf("output larger than %d bytes", maxOutputLimit)
		}
	}
	return b.String(), nil
}

func formatSpec(v any, spec string) (string, error) {
	fill, align := " ", byte(0)
	rs := []rune(spec)
	if len(rs) >= 2 && strings.ContainsRune("<>^=", rs[1]) {
		fill, align = string(rs[0]), byte(rs[1])
		spec = string(rs[2:])
	} else if len(spec) >= 1 && strings.IndexByte("<>^=", spec[0]) >= 0 {
		align = spec[0]
		spec = spec[1:]
	}
	fs := fmtSpec{precision: -1}
	if strings.HasPrefix(spec, "0") {
		fs.zero = true
		spec = spec[1:]
	}
	k := 0
	for k < len(spec) && spec[k] >= '0' && spec[k] <= '9' {
		k++
	}
	width, _ := strconv.Atoi(spec[:k])
	if width > 1<<16 {
		return "", fmt.Errorf("width too big")
	}
	spec = spec[k:]
	if strings.HasPrefix(spec, ".") {
		k = 1
		for k < len(spec) && spec[k] >= '0' && spec[k] <= '9' {
			k++
		}
		fs.precision, _ = strconv.Atoi(spec[1:k])
		spec = spec[k:]
	}
	conv := byte('s')
	if spec != "" {
		conv = spec[0]
	} else if _, ok := asNumber(v); ok {
		conv = 'd'
		if _, isF := v.(float64); isF {
			conv = 'g'
			if fs.precision < 0 {
				conv = 'r'
			}
		}
	}
	var body string
	if conv == 'r' {
		body = toString(v)
	} else {
		var err error
		if body, err = formatOne(conv, v, fs); err != nil {
			return "", err
		}
	}
	n := utf8.RuneCountInString(body)
	if n >= width {
		return body, nil
	}
	pad := width - n
	if align == 0 {
		align = '<'
		if _, ok := asNumber(v); ok {
			align = '>'
			if fs.zero {
				fill = "0"
			}
		}
	}
	switch align {
	case '>', '=':
		return strings.Repeat(fill, pad) + body, nil
	case '^':
		return strings.Repeat(fill, pad/2) + body + strings.Repeat(fill, pad-pad/2), nil
	}
	return body + strings.Repeat(fill, pad), nil
}
