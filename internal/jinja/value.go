package jinja

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tuple is a Python tuple: like a list, but printed with parentheses and never equal to a list.
type Tuple []any

// Undefined is the value of a missing variable, attribute or item. Printing it gives "", it is
// false and iterates as empty; most other operations on it are errors, as in Jinja2's default
// Undefined.
type Undefined struct {
	name   string // the missing name or key, printed in errors
	obj    any    // the object that lacked it, when hasObj
	hasObj bool
	isItem bool // a missing item (obj[key]) rather than attribute
}

// message is the UndefinedError text Jinja2 gives for this undefined value.
func (u Undefined) message() string {
	if !u.hasObj {
		return fmt.Sprintf("'%s' is undefined", u.name)
	}
	if u.isItem {
		return fmt.Sprintf("%s has no element %s", objectTypeRepr(u.obj), u.name)
	}
	return fmt.Sprintf("%s has no attribute '%s'", objectTypeRepr(u.obj), u.name)
}

// generator is a single-use iterator, what Jinja2's map, select, unique, batch, items, reverse
// and friends return in Python: always true, no length, and a second loop over it is empty.
type generator struct {
	kind  string // Python's type name: "generator", "list_reverseiterator", ...
	items []any
	pos   int
	err   error // raised when consumed: Python runs the filter lazily
}

// next consumes all remaining items.
func (g *generator) drain() []any {
	rest := g.items[g.pos:]
	g.pos = len(g.items)
	return rest
}

// Namespace is the mutable object that namespace() creates; {% set ns.x = ... %} assigns to it.
type Namespace struct {
	attrs *Dict
}

// Function is a Go function callable from templates, such as a global like raise_exception. An
// error it returns stops rendering and is returned by Render unchanged.
type Function struct {
	Name string
	Fn   func(args []any, kwargs *Dict) (any, error)
}

// Dict is an ordered dictionary with Python semantics: keys keep insertion order, and 1, 1.0
// and True are the same key. Keys are strings, numbers, booleans, None or tuples of those.
type Dict struct {
	keys  []any
	vals  []any
	index map[string]int
}

// NewDict returns an empty Dict.
func NewDict() *Dict { return &Dict{index: map[string]int{}} }

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Keys returns the keys in insertion order. The slice must not be modified.
func (d *Dict) Keys() []any {
	if d == nil {
		return nil
	}
	return d.keys
}

// Set stores v under the string key k, keeping k's position if it is already present.
func (d *Dict) Set(k string, v any) { _ = d.SetKey(k, v) }

// SetKey stores v under any hashable key; it fails for unhashable keys (lists, dicts).
func (d *Dict) SetKey(k, v any) error {
	h, err := hashKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// Get returns the value stored under k.
func (d *Dict) Get(k any) (any, bool) {
	if d == nil {
		return nil, false
	}
	h, err := hashKey(k)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// Value returns the value of the i-th entry in insertion order.
func (d *Dict) Value(i int) any { return d.vals[i] }

func (d *Dict) copy() *Dict {
	n := &Dict{keys: append([]any(nil), d.keys...), vals: append([]any(nil), d.vals...), index: make(map[string]int, len(d.index))}
	for k, v := range d.index {
		n.index[k] = v
	}
	return n
}

// hashKey maps a key to a string such that Python-equal keys map to the same string.
func hashKey(k any) (string, error) {
	switch v := k.(type) {
	case string:
		return "s" + v, nil
	case nil:
		return "N", nil
	case bool:
		if v {
			return "i1", nil
		}
		return "i0", nil
	case int64:
		return "i" + strconv.FormatInt(v, 10), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e18 {
			return "i" + strconv.FormatInt(int64(v), 10), nil
		}
		return "f" + strconv.FormatUint(math.Float64bits(v), 16), nil
	case Tuple:
		var b strings.Builder
		b.WriteString("t(")
		for _, e := range v {
			h, err := hashKey(e)
			if err != nil {
				return "", err
			}
			b.WriteString(strconv.Itoa(len(h)))
			b.WriteByte(':')
			b.WriteString(h)
		}
		b.WriteByte(')')
		return b.String(), nil
	}
	return "", fmt.Errorf("unhashable type: '%s'", typeName(k))
}

// typeName is Python's type(x).__name__ for a template value.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *Namespace:
		return "Namespace"
	case Undefined:
		return "Undefined"
	case *macro:
		return "Macro"
	case *loopContext:
		return "LoopContext"
	case *Function, *boundMethod:
		return "builtin_function_or_method"
	case *generator:
		return v.kind
	}
	return fmt.Sprintf("%T", v)
}

// objectTypeRepr is Jinja2's object_type_repr, used in undefined-value messages.
func objectTypeRepr(v any) string {
	if v == nil {
		return "None"
	}
	return fmt.Sprintf("'%s object'", typeName(v))
}

// FromGo converts a Go value into a template value: maps become Dicts (map keys sorted, since Go
// maps have no order), slices become lists, integers int64, floats float64; json.RawMessage and
// json.Number are decoded as JSON (objects keep their key order). Values already in template
// form pass through.
func FromGo(v any) (any, error) { return fromGo(v, 0) }

func fromGo(v any, depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("value nested deeper than 100 levels")
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, *Dict, *Namespace, Undefined, *Function:
		return v, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		return numberFromJSON(string(x))
	case json.RawMessage:
		return DecodeJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromGo(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case Tuple:
		out := make(Tuple, len(x))
		for i, e := range x {
			c, err := fromGo(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := NewDict()
		for _, k := range keys {
			c, err := fromGo(x[k], depth+1)
			if err != nil {
				return nil, err
			}
			d.Set(k, c)
		}
		return d, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d does not fit in int64", u)
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return fromGo(rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			c, err := fromGo(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map with %s keys: want string keys", rv.Type().Key())
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		d := NewDict()
		for _, k := range keys {
			c, err := fromGo(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			d.Set(k, c)
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported Go type %T for a template value", v)
}

// truthy is Python's bool(x).
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case Tuple:
		return len(x) > 0
	case *Dict:
		return x.Len() > 0
	case Undefined:
		return false
	}
	return true
}

// IsSpace reports whether r is whitespace for Python's str.isspace and str.strip (Go's
// unicode.IsSpace plus U+001C..U+001F).
func IsSpace(r rune) bool { return isPySpace(r) }

// isPySpace reports whether r is whitespace for Python's str.isspace / str.strip.
func isPySpace(r rune) bool {
	if r >= 0x1c && r <= 0x1f {
		return true
	}
	return unicode.IsSpace(r)
}

// toString is Python's str(x) as Jinja prints it.
func toString(v any) string { return toStringLimit(v, reprCap) }

// toStringLimit is toString that stops building after about limit bytes.
func toStringLimit(v any, limit int) string {
	switch x := v.(type) {
	case string:
		return x
	case Undefined:
		return ""
	}
	var b strings.Builder
	writeRepr(&b, v, false, 0, limit)
	return b.String()
}

// repr is Python's repr(x).
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, true, 0, reprCap)
	return b.String()
}

// reprCap bounds what str() and repr() build: one byte more than the largest output limit, so
// that the caller's size check fails instead of memory running out.
const reprCap = maxOutputLimit + 1

func writeRepr(b *strings.Builder, v any, quoteStrings bool, depth, limit int) {
	if b.Len() > limit {
		return
	}
	if depth > 100 {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(formatFloat(x))
	case string:
		if quoteStrings {
			b.WriteString(pyStringRepr(x))
		} else {
			b.WriteString(x)
		}
	case Undefined:
		if quoteStrings {
			b.WriteString("Undefined")
		}
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, true, depth+1, limit)
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, true, depth+1, limit)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *Dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k, true, depth+1, limit)
			b.WriteString(": ")
			writeRepr(b, x.vals[i], true, depth+1, limit)
		}
		b.WriteByte('}')
	case *Namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.attrs, true, depth+1, limit)
		b.WriteByte('>')
	case *macro:
		b.WriteString("<Macro '" + x.node.name + "'>")
	case *loopContext:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index0+1, len(x.items))
	case *generator:
		b.WriteString("<" + x.kind + " object>")
	case *Function:
		b.WriteString("<built-in function " + x.Name + ">")
	case *boundMethod:
		b.WriteString("<built-in method " + x.name + " of " + typeName(x.recv) + " object>")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// formatFloat is Python's repr(float).
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, shortest round-trip digits
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp >= -4 && exp < 16 {
		if exp >= 0 {
			if len(digits) <= exp+1 {
				out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
			} else {
				out = digits[:exp+1] + "." + digits[exp+1:]
			}
		} else {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		}
	} else {
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		out += fmt.Sprintf("e%s%02d", sign, exp)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// pyStringRepr is Python's repr(str).
func pyStringRepr(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case !pyPrintable(r):
			switch {
			case r < 0x100:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyPrintable approximates Python's str.isprintable for one character.
func pyPrintable(r rune) bool {
	if r == ' ' {
		return true
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Cs, unicode.Co, unicode.Zl, unicode.Zp, unicode.Zs) {
		return false
	}
	return unicode.IsPrint(r) || unicode.IsGraphic(r)
}

// asInt returns v as an integer when it is an int or a bool.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// asNumber returns v as a float and whether it is a number (int, bool or float).
func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case float64:
		return x, true
	}
	return 0, false
}

// equal is Python's ==.
func equal(a, b any) bool {
	return equalDepth(a, b, 0)
}

func equalDepth(a, b any, depth int) bool {
	if depth > 100 {
		return false
	}
	if ai, ok := asInt(a); ok {
		if bi, ok := asInt(b); ok {
			return ai == bi
		}
	}
	if af, ok := asNumber(a); ok {
		if bf, ok := asNumber(b); ok {
			return af == bf
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case Undefined:
		_, ok := b.(Undefined)
		return ok
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalDepth(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case Tuple:
		y, ok := b.(Tuple)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalDepth(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			v, ok := y.Get(k)
			if !ok || !equalDepth(x.vals[i], v, depth+1) {
				return false
			}
		}
		return true
	}
	return a == b
}

// compare is Python's ordering for <, <=, >, >=: -1, 0 or 1, or an error for unorderable types.
func compare(a, b any, op string) (int, error) {
	if af, ok := asNumber(a); ok {
		if bf, ok := asNumber(b); ok {
			ai, aok := asInt(a)
			bi, bok := asInt(b)
			if aok && bok {
				return cmpOrdered(ai, bi), nil
			}
			if math.IsNaN(af) || math.IsNaN(bf) {
				return 2, nil // every ordering comparison with NaN is false
			}
			return cmpOrdered(af, bf), nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			return compareSeq(x, y, op)
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return compareSeq(x, y, op)
		}
	case Undefined:
		return 0, undefinedError(x)
	}
	if u, ok := b.(Undefined); ok {
		return 0, undefinedError(u)
	}
	return 0, fmt.Errorf("'%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))
}

func compareSeq(x, y []any, op string) (int, error) {
	for i := 0; i < len(x) && i < len(y); i++ {
		if equal(x[i], y[i]) {
			continue
		}
		return compare(x[i], y[i], op)
	}
	return cmpOrdered(len(x), len(y)), nil
}

func cmpOrdered[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numberFromJSON parses a JSON number the way Python's json module does: int unless it has a
// fraction or exponent.
func numberFromJSON(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("JSON number %q: %w", s, err)
	}
	return f, nil
}

// DecodeJSON decodes one JSON value into template values, keeping the key order of objects (as
// Python's json.loads does) so that tojson writes them back in the same order.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	v, err := decodeJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("decode JSON: want one value, found more after it")
	}
	return v, nil
}

func decodeJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > 200 {
		return nil, fmt.Errorf("decode JSON: nested deeper than 200 levels")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("decode JSON: %w", err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("decode JSON: want an object key, found %v", kt)
				}
				v, err := decodeJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				d.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("decode JSON: %w", err)
			}
			return d, nil
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("decode JSON: %w", err)
			}
			return l, nil
		}
		return nil, fmt.Errorf("decode JSON: unexpected %v", t)
	case json.Number:
		return numberFromJSON(string(t))
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("decode JSON: unexpected token %v", tok)
}

// Str is Python's str(v) as a template prints it (Undefined prints as "").
func Str(v any) string { return toString(v) }
