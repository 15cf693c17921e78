package jinja

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonEncoder writes values the way Python's json.dumps does (the tojson filter of
// transformers: ensure_ascii=False by default, indent and separators as json.dumps takes them).
type jsonEncoder struct {
	b           strings.Builder
	ensureASCII bool
	sortKeys    bool
	hasIndent   bool
	indent      string
	itemSep     string
	keySep      string
	limit       int
}

func (e *jsonEncoder) newline(level int) {
	if !e.hasIndent {
		return
	}
	e.b.WriteByte('\n')
	for i := 0; i < level; i++ {
		e.b.WriteString(e.indent)
	}
}

func (e *jsonEncoder) encode(v any, level int) error {
	if level > 200 {
		return fmt.Errorf("tojson: value nested deeper than 200 levels")
	}
	if e.b.Len() > e.limit {
		return fmt.Errorf("output larger than %d bytes", e.limit)
	}
	switch x := v.(type) {
	case nil:
		e.b.WriteString("null")
	case bool:
		if x {
			e.b.WriteString("true")
		} else {
			e.b.WriteString("false")
		}
	case int64:
		e.b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		e.b.WriteString(jsonFloat(x))
	case string:
		e.writeString(x)
	case []any:
		return e.encodeList(x, level)
	case Tuple:
		return e.encodeList(x, level)
	case *Dict:
		if x.Len() == 0 {
			e.b.WriteString("{}")
			return nil
		}
		idx := make([]int, x.Len())
		for i := range idx {
			idx[i] = i
		}
		if e.sortKeys {
			var err error
			sort.SliceStable(idx, func(i, j int) bool {
				c, cerr := compare(x.keys[idx[i]], x.keys[idx[j]], "<")
				if cerr != nil && err == nil {
					err = cerr
				}
				return c < 0
			})
			if err != nil {
				return err
			}
		}
		e.b.WriteByte('{')
		for n, i := range idx {
			if n > 0 {
				e.b.WriteString(e.itemSep)
			}
			e.newline(level + 1)
			switch k := x.keys[i].(type) {
			case string:
				e.writeString(k)
			case nil:
				e.b.WriteString(`"null"`)
			case bool:
				if k {
					e.b.WriteString(`"true"`)
				} else {
					e.b.WriteString(`"false"`)
				}
			case int64:
				e.b.WriteString(`"` + strconv.FormatInt(k, 10) + `"`)
			case float64:
				e.b.WriteString(`"` + jsonFloat(k) + `"`)
			default:
				return fmt.Errorf("keys must be str, int, float, bool or None, not %s", typeName(k))
			}
			e.b.WriteString(e.keySep)
			if err := e.encode(x.vals[i], level+1); err != nil {
				return err
			}
		}
		e.newline(level)
		e.b.WriteByte('}')
	default:
		return pyErrorf("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func (e *jsonEncoder) encodeList(items []any, level int) error {
	if len(items) == 0 {
		e.b.WriteString("[]")
		return nil
	}
	e.b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			e.b.WriteString(e.itemSep)
		}
		e.newline(level + 1)
		if err := e.encode(it, level+1); err != nil {
			return err
		}
	}
	e.newline(level)
	e.b.WriteByte(']')
	return nil
}

func jsonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return formatFloat(f)
}

func (e *jsonEncoder) writeString(s string) {
	b := &e.b
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				fmt.Fprintf(b, `\u%04x`, r)
			case e.ensureASCII && r > 0x7e:
				if r > 0xffff {
					r -= 0x10000
					fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
