package jinja

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type filterFunc func(r *renderer, v any, args []any, kw *Dict) (any, error)

type testFunc func(r *renderer, v any, args []any, kw *Dict) (bool, error)

var (
	filters map[string]filterFunc
	tests   map[string]testFunc
	globals map[string]any
)

func init() {
	filters = map[string]filterFunc{
		"abs":         filterAbs,
		"attr":        filterAttr,
		"batch":       filterBatch,
		"capitalize":  func(r *renderer, v any, a []any, kw *Dict) (any, error) { return pyCapitalize(r.str(v)), nil },
		"center":      filterCenter,
		"count":       filterLength,
		"d":           filterDefault,
		"default":     filterDefault,
		"dictsort":    filterDictsort,
		"e":           filterEscape,
		"escape":      filterEscape,
		"first":       filterFirst,
		"float":       filterFloat,
		"forceescape": filterEscape,
		"format":      filterFormat,
		"groupby":     filterGroupby,
		"indent":      filterIndent,
		"int":         filterInt,
		"items":       filterItems,
		"join":        filterJoin,
		"last":        filterLast,
		"length":      filterLength,
		"list":        filterList,
		"lower":       func(r *renderer, v any, a []any, kw *Dict) (any, error) { return pyLower(r.str(v)), nil },
		"map":         filterMap,
		"max":         func(r *renderer, v any, a []any, kw *Dict) (any, error) { return filterMinMax(r, v, a, kw, 1) },
		"min":         func(r *renderer, v any, a []any, kw *Dict) (any, error) { return filterMinMax(r, v, a, kw, -1) },
		"pprint":      func(r *renderer, v any, a []any, kw *Dict) (any, error) { return repr(v), nil },
		"reject": func(r *renderer, v any, a []any, kw *Dict) (any, error) {
			return filterSelect(r, v, a, kw, false, false)
		},
		"rejectattr": func(r *renderer, v any, a []any, kw *Dict) (any, error) {
			return filterSelect(r, v, a, kw, false, true)
		},
		"replace": filterReplace,
		"reverse": filterReverse,
		"round":   filterRound,
		"safe":    func(r *renderer, v any, a []any, kw *Dict) (any, error) { return r.str(v), nil },
		"select": func(r *renderer, v any, a []any, kw *Dict) (any, error) {
			return filterSelect(r, v, a, kw, true, false)
		},
		"selectattr": func(r *renderer, v any, a []any, kw *Dict) (any, error) { return filterSelect(r, v, a, kw, true, true) },
		"slice":      filterSlice,
		"sort":       filterSort,
		"string":     func(r *renderer, v any, a []any, kw *Dict) (any, error) { return r.str(v), nil },
		"striptags":  filterStriptags,
		"sum":        filterSum,
		"title":      func(r *renderer, v any, a []any, kw *Dict) (any, error) { return jinjaTitle(r.str(v)), nil },
		"tojson":     filterTojson,
		"trim":       filterTrim,
		"truncate":   filterTruncate,
		"unique":     filterUnique,
		"upper":      func(r *renderer, v any, a []any, kw *Dict) (any, error) { return pyUpper(r.str(v)), nil },
		"urlencode":  filterURLEncode,
		"wordcount": func(r *renderer, v any, a []any, kw *Dict) (any, error) {
			return int64(len(wordRe.FindAllString(r.str(v), -1))), nil
		},
	}
	// In Python these return iterators, not lists.
	for name, kind := range map[string]string{"map": "generator", "select": "generator", "reject": "generator",
		"selectattr": "generator", "rejectattr": "generator", "unique": "generator", "batch": "generator",
		"slice": "generator", "items": "generator"} {
		filters[name] = lazy(filters[name], kind)
	}
	reverse := filters["reverse"]
	filters["reverse"] = func(r *renderer, v any, a []any, kw *Dict) (any, error) {
		out, err := reverse(r, v, a, kw)
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case []any, Tuple: // reversed(list) is an iterator; other inputs become a list
			return &generator{kind: "list_reverseiterator", items: out.([]any)}, nil
		case *Dict:
			return &generator{kind: "dict_reversekeyiterator", items: out.([]any)}, nil
		}
		return out, nil
	}
}

// lazy makes a list-returning filter return a single-use iterator, as its Python version does.
func lazy(f filterFunc, kind string) filterFunc {
	return func(r *renderer, v any, a []any, kw *Dict) (any, error) {
		out, err := f(r, v, a, kw)
		if err != nil {
			var je *Error
			if errors.As(err, &je) {
				return nil, err // limits stay immediate
			}
			return &generator{kind: kind, err: err}, nil
		}
		if l, ok := out.([]any); ok {
			return &generator{kind: kind, items: l}, nil
		}
		return out, nil
	}
}

func (r *renderer) applyFilterExpr(f *filterExpr, v any, sc *scope) (any, error) {
	args, kwargs, err := r.evalArgs(&f.callArgs, sc)
	if err != nil {
		return nil, err
	}
	out, err := r.applyFilter(f.name, v, args, kwargs)
	return out, wrap(f.line, err)
}

func (r *renderer) applyFilter(name string, v any, args []any, kw *Dict) (any, error) {
	fn := filters[name]
	if fn == nil {
		return nil, pyErrorf("No filter named '%s' found.", name)
	}
	out, err := fn(r, v, args, kw)
	if err != nil {
		return nil, err
	}
	if s, ok := out.(string); ok {
		if err := r.checkLen(len(s)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *renderer) applyTest(name string, v any, args []any, kw *Dict) (bool, error) {
	fn := tests[name]
	if fn == nil {
		return false, pyErrorf("No test named '%s' found.", name)
	}
	if unaryTests[name] && len(args)+kw.Len() > 0 {
		return false, fmt.Errorf("test_%s() takes 1 positional argument but %d were given", name, 1+len(args)+kw.Len())
	}
	return fn(r, v, args, kw)
}

// arg returns the i-th positional argument or the keyword argument name, or def.
func arg(args []any, kw *Dict, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if kw != nil {
		if v, ok := kw.Get(name); ok {
			return v
		}
	}
	return def
}

func filterAbs(r *renderer, v any, a []any, kw *Dict) (any, error) {
	if i, ok := asInt(v); ok {
		return absInt(i), nil
	}
	if f, ok := v.(float64); ok {
		return math.Abs(f), nil
	}
	if u, ok := v.(Undefined); ok {
		return nil, undefinedError(u)
	}
	return nil, fmt.Errorf("bad operand type for abs(): '%s'", typeName(v))
}

func filterAttr(r *renderer, v any, a []any, kw *Dict) (any, error) {
	name, _ := arg(a, kw, 0, "name", "").(string)
	if d, ok := v.(*Dict); ok && !dictMethods[name] {
		return Undefined{name: name, obj: d, hasObj: true}, nil // attr() never falls back to items
	}
	return getAttr(v, name)
}

func filterBatch(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	n, ok := asInt(arg(a, kw, 0, "linecount", int64(1)))
	if !ok || n <= 0 || n > int64(r.opts.MaxOutputBytes) {
		return nil, fmt.Errorf("batch: want a positive line count no larger than the output limit")
	}
	fills := kwOrArgs(a, kw, 1, "fill_with")
	var out []any
	for i := 0; i < len(items); i += int(n) {
		end := min(i+int(n), len(items))
		chunk := append([]any(nil), items[i:end]...)
		for len(fills) > 0 && len(chunk) < int(n) {
			chunk = append(chunk, fills[0])
		}
		out = append(out, chunk)
	}
	return out, nil
}

func kwOrArgs(a []any, kw *Dict, i int, name string) []any {
	if i < len(a) {
		return a[i : i+1]
	}
	if v, ok := kw.Get(name); ok {
		return []any{v}
	}
	return nil
}

func filterCenter(r *renderer, v any, a []any, kw *Dict) (any, error) {
	w, _ := asInt(arg(a, kw, 0, "width", int64(80)))
	if w > int64(r.opts.MaxOutputBytes) {
		return nil, r.checkLen(int(w))
	}
	return pyCenter(r.str(v), int(w)), nil
}

func pyCenter(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if width <= n {
		return s
	}
	pad := width - n
	left := pad/2 + (pad & width & 1)
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", pad-left)
}

func filterDefault(r *renderer, v any, a []any, kw *Dict) (any, error) {
	def := arg(a, kw, 0, "default_value", "")
	boolean := truthy(arg(a, kw, 1, "boolean", false))
	if _, ok := v.(Undefined); ok || (boolean && !truthy(v)) {
		return def, nil
	}
	return v, nil
}

func filterDictsort(r *renderer, v any, a []any, kw *Dict) (any, error) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("dictsort: want a mapping, found %s", typeName(v))
	}
	caseSensitive := truthy(arg(a, kw, 0, "case_sensitive", false))
	by, _ := arg(a, kw, 1, "by", "key").(string)
	reverse := truthy(arg(a, kw, 2, "reverse", false))
	pos := 0
	if by == "value" {
		pos = 1
	} else if by != "key" {
		return nil, fmt.Errorf("you can only sort by either \"key\" or \"value\"")
	}
	items := make([]any, d.Len())
	for i, k := range d.keys {
		items[i] = Tuple{k, d.vals[i]}
	}
	var sortErr error
	sort.SliceStable(items, func(i, j int) bool {
		x, y := items[i].(Tuple)[pos], items[j].(Tuple)[pos]
		if !caseSensitive {
			x, y = foldCase(x), foldCase(y)
		}
		c, err := compare(x, y, "<")
		if err != nil && sortErr == nil {
			sortErr = err
		}
		if reverse {
			return c > 0 && c != 2
		}
		return c < 0
	})
	return items, sortErr
}

func foldCase(v any) any {
	if s, ok := v.(string); ok {
		return pyLower(s)
	}
	return v
}

func filterEscape(r *renderer, v any, a []any, kw *Dict) (any, error) {
	s := r.str(v)
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&#34;", "'", "&#39;").Replace(s)
	return s, nil
}

func filterFirst(r *renderer, v any, a []any, kw *Dict) (any, error) {
	if g, ok := v.(*generator); ok {
		if g.err != nil {
			return nil, g.err
		}
		if g.pos >= len(g.items) {
			return Undefined{name: "first"}, nil
		}
		g.pos++
		return g.items[g.pos-1], nil
	}
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{name: "first"}, nil
	}
	return items[0], nil
}

func filterLast(r *renderer, v any, a []any, kw *Dict) (any, error) {
	switch v.(type) {
	case *Dict, *generator:
		return nil, fmt.Errorf("'%s' object is not reversible", typeName(v))
	}
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{name: "last"}, nil
	}
	return items[len(items)-1], nil
}

func filterFloat(r *renderer, v any, a []any, kw *Dict) (any, error) {
	def := arg(a, kw, 0, "default", 0.0)
	switch x := v.(type) {
	case Undefined:
		return nil, undefinedError(x) // float(Undefined) raises, it is not a ValueError
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case bool:
		f, _ := asNumber(x)
		return f, nil
	case string:
		if f, ok := parsePyFloat(x); ok {
			return f, nil
		}
	}
	return def, nil
}

func parsePyFloat(s string) (float64, bool) {
	s = strings.TrimFunc(s, isPySpace)
	s = strings.ReplaceAll(s, "_", "")
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "inf", "infinity", "nan":
	default:
		if s == "" || strings.ContainsAny(s, "xXpP") {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

func filterInt(r *renderer, v any, a []any, kw *Dict) (any, error) {
	def := arg(a, kw, 0, "default", int64(0))
	base, _ := asInt(arg(a, kw, 1, "base", int64(10)))
	switch x := v.(type) {
	case Undefined:
		return nil, undefinedError(x)
	case int64:
		return x, nil
	case bool:
		i, _ := asInt(x)
		return i, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 9e18 {
			return def, nil
		}
		return int64(x), nil
	case string:
		s := strings.ReplaceAll(strings.TrimFunc(x, isPySpace), "_", "")
		if i, err := strconv.ParseInt(s, int(base), 64); err == nil {
			return i, nil
		}
		if base == 10 {
			if f, ok := parsePyFloat(s); ok && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 9e18 {
				return int64(f), nil
			}
		} else if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, nil
		}
	}
	return def, nil
}

func filterFormat(r *renderer, v any, a []any, kw *Dict) (any, error) {
	s := r.str(v)
	if kw.Len() > 0 {
		return percentFormat(s, kw)
	}
	if len(a) == 1 {
		if _, isTuple := a[0].(Tuple); !isTuple {
			return percentFormat(s, a[0])
		}
	}
	return percentFormat(s, Tuple(a))
}

func filterGroupby(r *renderer, v any, a []any, kw *Dict) (any, error) {
	attr := arg(a, kw, 0, "attribute", nil)
	def := arg(a, kw, 1, "default", nil)
	caseSensitive := truthy(arg(a, kw, 2, "case_sensitive", false))
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	keyOf := func(x any) (any, error) {
		k, err := attrPath(x, attr, def)
		if err != nil {
			return nil, err
		}
		if !caseSensitive {
			k = foldCase(k)
		}
		return k, nil
	}
	sorted, err := sortValues(items, keyOf, false)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, it := range sorted {
		k, _ := keyOf(it)
		if n := len(out); n > 0 && equal(out[n-1].(Tuple)[0], k) {
			g := out[n-1].(Tuple)
			g[1] = append(g[1].([]any), it)
			continue
		}
		out = append(out, Tuple{k, []any{it}})
	}
	if !caseSensitive { // the grouper is the first item's real value, not the folded key
		for _, g := range out {
			t := g.(Tuple)
			if t[0], err = attrPath(t[1].([]any)[0], attr, def); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func filterIndent(r *renderer, v any, a []any, kw *Dict) (any, error) {
	w := arg(a, kw, 0, "width", int64(4))
	first := truthy(arg(a, kw, 1, "first", false))
	blank := truthy(arg(a, kw, 2, "blank", false))
	var ind string
	if s, ok := w.(string); ok {
		ind = s
	} else {
		n, _ := asInt(w)
		if n > 1<<16 {
			return nil, fmt.Errorf("indent width %d too large", n)
		}
		if n > 0 {
			ind = strings.Repeat(" ", int(n))
		}
	}
	if _, ok := v.(string); !ok {
		if u, isU := v.(Undefined); isU {
			return nil, undefinedError(u)
		}
		if _, isList := v.([]any); isList { // list += "\n" extends the list; splitlines then fails
			return nil, fmt.Errorf("'list' object has no attribute 'splitlines'")
		}
		return nil, fmt.Errorf("unsupported operand type(s) for +=: '%s' and 'str'", typeName(v))
	}
	s := r.str(v) + "\n"
	lines := pySplitlines(s, false)
	if err := r.checkLen(len(s) + len(lines)*len(ind)); err != nil {
		return nil, err
	}
	var rv string
	if blank {
		rv = strings.Join(lines, "\n"+ind)
	} else {
		rv = lines[0]
		if len(lines) > 1 {
			rest := make([]string, len(lines)-1)
			for i, l := range lines[1:] {
				if l != "" {
					l = ind + l
				}
				rest[i] = l
			}
			rv += "\n" + strings.Join(rest, "\n")
		}
	}
	if first {
		rv = ind + rv
	}
	return rv, nil
}

func filterItems(r *renderer, v any, a []any, kw *Dict) (any, error) {
	switch d := v.(type) {
	case Undefined:
		return []any{}, nil
	case *Dict:
		out := make([]any, d.Len())
		for i, k := range d.keys {
			out[i] = Tuple{k, d.vals[i]}
		}
		return out, nil
	}
	return nil, pyErrorf("Can only get item pairs from a mapping.")
}

func filterJoin(r *renderer, v any, a []any, kw *Dict) (any, error) {
	sep := toString(arg(a, kw, 0, "d", ""))
	attr := arg(a, kw, 1, "attribute", nil)
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, it := range items {
		if attr != nil {
			if it, err = attrPath(it, attr, nil); err != nil {
				return nil, err
			}
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(r.str(it))
		if err := r.checkLen(b.Len()); err != nil {
			return nil, err
		}
	}
	return b.String(), nil
}

func filterLength(r *renderer, v any, a []any, kw *Dict) (any, error) {
	switch x := v.(type) {
	case string:
		return int64(utf8.RuneCountInString(x)), nil
	case []any:
		return int64(len(x)), nil
	case Tuple:
		return int64(len(x)), nil
	case *Dict:
		return int64(x.Len()), nil
	case Undefined:
		return int64(0), nil
	}
	return nil, fmt.Errorf("object of type '%s' has no len()", typeName(v))
}

func filterList(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	return append([]any{}, items...), nil
}

// attrPath is Jinja2's make_attrgetter: a dotted path of attributes or integer indices.
func attrPath(v any, attr any, def any) (any, error) {
	var parts []any
	switch x := attr.(type) {
	case string:
		for _, p := range strings.Split(x, ".") {
			if i, err := strconv.ParseInt(p, 10, 64); err == nil {
				parts = append(parts, i)
			} else {
				parts = append(parts, p)
			}
		}
	case nil:
		return v, nil
	default:
		parts = []any{x}
	}
	var err error
	for _, p := range parts {
		if v, err = getItem(v, p); err != nil {
			return nil, err
		}
	}
	if _, ok := v.(Undefined); ok && def != nil {
		return def, nil
	}
	return v, nil
}

func filterMap(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(items))
	if len(a) == 0 {
		if attr, ok := kw.Get("attribute"); ok {
			def, _ := kw.Get("default")
			for _, it := range items {
				x, err := attrPath(it, attr, def)
				if err != nil {
					return nil, err
				}
				out = append(out, x)
			}
			return out, nil
		}
		return nil, fmt.Errorf("map requires a filter argument")
	}
	name, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("map: want a filter name, found %s", typeName(a[0]))
	}
	if filters[name] == nil {
		return nil, pyErrorf("No filter named '%s'.", name)
	}
	for _, it := range items {
		x, err := r.applyFilter(name, it, a[1:], kw)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func filterMinMax(r *renderer, v any, a []any, kw *Dict, sign int) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	caseSensitive := truthy(arg(a, kw, 0, "case_sensitive", false))
	attr := arg(a, kw, 1, "attribute", nil)
	if len(items) == 0 {
		name := "min"
		if sign > 0 {
			name = "max"
		}
		return Undefined{name: "No aggregated item, sequence was empty (" + name + ")"}, nil
	}
	key := func(x any) (any, error) {
		k, err := attrPath(x, attr, nil)
		if err != nil {
			return nil, err
		}
		if !caseSensitive {
			k = foldCase(k)
		}
		return k, nil
	}
	best := items[0]
	bk, err := key(best)
	if err != nil {
		return nil, err
	}
	for _, it := range items[1:] {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		c, err := compare(k, bk, "<")
		if err != nil {
			return nil, err
		}
		if c != 2 && c*sign > 0 {
			best, bk = it, k
		}
	}
	return best, nil
}

func filterSelect(r *renderer, v any, a []any, kw *Dict, want, byAttr bool) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	var attr any
	if byAttr {
		if len(a) == 0 {
			return nil, fmt.Errorf("missing parameter for attribute name")
		}
		attr, a = a[0], a[1:]
	}
	testName := ""
	var testArgs []any
	if len(a) > 0 {
		s, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("want a test name, found %s", typeName(a[0]))
		}
		testName, testArgs = s, a[1:]
		if tests[testName] == nil {
			return nil, pyErrorf("No test named '%s'.", testName)
		}
	}
	out := []any{}
	for _, it := range items {
		x := it
		if byAttr {
			if x, err = attrPath(it, attr, nil); err != nil {
				return nil, err
			}
		}
		var ok bool
		if testName == "" {
			ok = truthy(x)
		} else if ok, err = r.applyTest(testName, x, testArgs, nil); err != nil {
			return nil, err
		}
		if ok == want {
			out = append(out, it)
		}
	}
	return out, nil
}

func filterReplace(r *renderer, v any, a []any, kw *Dict) (any, error) {
	s := r.str(v)
	old := toString(arg(a, kw, 0, "old", ""))
	nw := toString(arg(a, kw, 1, "new", ""))
	count := int64(-1)
	if c := arg(a, kw, 2, "count", nil); c != nil {
		count, _ = asInt(c)
	}
	return pyReplace(r, s, old, nw, count)
}

// pyReplace is Python's str.replace, with the output size checked before building it.
func pyReplace(r *renderer, s, old, nw string, count int64) (string, error) {
	n := strings.Count(s, old)
	if old == "" {
		n = utf8.RuneCountInString(s) + 1
	}
	if count >= 0 && int64(n) > count {
		n = int(count)
	}
	if err := r.checkLen(len(s) + n*(len(nw)-len(old))); err != nil {
		return "", err
	}
	return strings.Replace(s, old, nw, n), nil
}

func filterReverse(r *renderer, v any, a []any, kw *Dict) (any, error) {
	if s, ok := v.(string); ok {
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

func filterRound(r *renderer, v any, a []any, kw *Dict) (any, error) {
	prec, _ := asInt(arg(a, kw, 0, "precision", int64(0)))
	method, _ := arg(a, kw, 1, "method", "common").(string)
	f, ok := asNumber(v)
	if !ok {
		return nil, fmt.Errorf("round: want a number, found %s", typeName(v))
	}
	p := math.Pow(10, float64(prec))
	switch method {
	case "common":
		if _, isInt := asInt(v); isInt {
			return v, nil
		}
		return math.RoundToEven(f*p) / p, nil
	case "ceil":
		return math.Ceil(f*p) / p, nil
	case "floor":
		return math.Floor(f*p) / p, nil
	}
	return nil, fmt.Errorf("method must be common, ceil or floor")
}

func filterSlice(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	n, ok := asInt(arg(a, kw, 0, "slices", int64(1)))
	if !ok || n <= 0 || n > 1<<16 {
		return nil, fmt.Errorf("slice: want a positive number of slices")
	}
	fills := kwOrArgs(a, kw, 1, "fill_with")
	per := len(items) / int(n)
	extra := len(items) % int(n)
	offset := 0
	var out []any
	for i := 0; i < int(n); i++ {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		chunk := append([]any{}, items[start:end]...)
		if len(fills) > 0 && i >= extra {
			chunk = append(chunk, fills[0])
		}
		out = append(out, chunk)
	}
	return out, nil
}

func sortValues(items []any, key func(any) (any, error), reverse bool) ([]any, error) {
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var sortErr error
	sort.SliceStable(idx, func(i, j int) bool {
		x, y := keys[idx[i]], keys[idx[j]]
		if reverse {
			x, y = y, x
		}
		c, err := compare(x, y, "<")
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return c < 0
	})
	out := make([]any, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out, sortErr
}

func filterSort(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	reverse := truthy(arg(a, kw, 0, "reverse", false))
	caseSensitive := truthy(arg(a, kw, 1, "case_sensitive", false))
	attr := arg(a, kw, 2, "attribute", nil)
	return sortValues(items, func(x any) (any, error) {
		k, err := attrPath(x, attr, nil)
		if err != nil {
			return nil, err
		}
		if !caseSensitive {
			k = foldCase(k)
		}
		return k, nil
	}, reverse)
}

var (
	tagRe   = regexp.MustCompile(`(?s)<!--.*?-->|<[^>]*>`)
	spaceRe = regexp.MustCompile(`\s+`)
	wordRe  = regexp.MustCompile(`[\p{L}\p{N}_]+`) // Python's unicode \w
)

func filterStriptags(r *renderer, v any, a []any, kw *Dict) (any, error) {
	s := tagRe.ReplaceAllString(r.str(v), "")
	s = strings.Join(strings.Fields(spaceRe.ReplaceAllString(s, " ")), " ")
	s = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", "\"", "&#39;", "'", "&quot;", "\"").Replace(s)
	return s, nil
}

func filterSum(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	attr := arg(a, kw, 0, "attribute", nil)
	var total any = arg(a, kw, 1, "start", int64(0))
	for _, it := range items {
		x, err := attrPath(it, attr, nil)
		if err != nil {
			return nil, err
		}
		if total, err = r.binop("+", total, x); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func filterTrim(r *renderer, v any, a []any, kw *Dict) (any, error) {
	chars := arg(a, kw, 0, "chars", nil)
	return pyStrip(r.str(v), chars, true, true)
}

// pyStrip is Python's str.strip/lstrip/rstrip with optional chars (None: whitespace).
func pyStrip(s string, chars any, left, right bool) (string, error) {
	f := isPySpace
	if chars != nil {
		cs, ok := chars.(string)
		if !ok {
			return "", fmt.Errorf("strip arg must be None or str, not %s", typeName(chars))
		}
		f = func(r rune) bool { return strings.ContainsRune(cs, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s, nil
}

func filterTruncate(r *renderer, v any, a []any, kw *Dict) (any, error) {
	if _, ok := v.(string); !ok {
		// Python measures len(value) first: short sequences come back unchanged.
		n, err := filterLength(r, v, nil, nil)
		if err != nil {
			return nil, err
		}
		length, _ := asInt(arg(a, kw, 0, "length", int64(255)))
		leeway, ok := asInt(arg(a, kw, 3, "leeway", int64(5)))
		if !ok {
			leeway = 5
		}
		if n.(int64) <= length+leeway {
			return v, nil
		}
	}
	s := r.str(v)
	length, _ := asInt(arg(a, kw, 0, "length", int64(255)))
	killwords := truthy(arg(a, kw, 1, "killwords", false))
	end := toString(arg(a, kw, 2, "end", "..."))
	leeway, ok := asInt(arg(a, kw, 3, "leeway", int64(5)))
	if !ok {
		leeway = 5
	}
	rs := []rune(s)
	endLen := int64(utf8.RuneCountInString(end))
	if length < endLen {
		return nil, fmt.Errorf("expected length >= %d, got %d", endLen, length)
	}
	if leeway < 0 {
		return nil, fmt.Errorf("expected leeway >= 0, got %d", leeway)
	}
	if length >= int64(len(rs)) || int64(len(rs)) <= length+leeway {
		return s, nil
	}
	cut := string(rs[:length-endLen])
	if killwords {
		return cut + end, nil
	}
	if i := strings.LastIndexByte(cut, ' '); i >= 0 {
		cut = cut[:i]
	}
	return cut + end, nil
}

func filterUnique(r *renderer, v any, a []any, kw *Dict) (any, error) {
	items, err := r.iterate(v)
	if err != nil {
		return nil, err
	}
	caseSensitive := truthy(arg(a, kw, 0, "case_sensitive", false))
	attr := arg(a, kw, 1, "attribute", nil)
	seen := NewDict()
	out := []any{}
	for _, it := range items {
		k, err := attrPath(it, attr, nil)
		if err != nil {
			return nil, err
		}
		if !caseSensitive {
			k = foldCase(k)
		}
		if _, ok := seen.Get(k); ok {
			continue
		}
		if err := seen.SetKey(k, true); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

func filterURLEncode(r *renderer, v any, a []any, kw *Dict) (any, error) {
	s := r.str(v)
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String(), nil
}

func filterTojson(r *renderer, v any, a []any, kw *Dict) (any, error) {
	// transformers' override: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
	ensureASCII := truthy(arg(a, kw, 0, "ensure_ascii", false))
	indent := arg(a, kw, 1, "indent", nil)
	seps := arg(a, kw, 2, "separators", nil)
	sortKeys := truthy(arg(a, kw, 3, "sort_keys", false))
	enc := &jsonEncoder{ensureASCII: ensureASCII, sortKeys: sortKeys, itemSep: ", ", keySep: ": ", limit: r.opts.MaxOutputBytes}
	if indent != nil {
		enc.itemSep = ","
		switch x := indent.(type) {
		case string:
			enc.indent, enc.hasIndent = x, true
		default:
			n, ok := asInt(x)
			if !ok {
				return nil, fmt.Errorf("tojson: indent must be an int or a string, not %s", typeName(indent))
			}
			if n > 1<<10 {
				return nil, fmt.Errorf("tojson: indent %d too large", n)
			}
			enc.indent, enc.hasIndent = strings.Repeat(" ", int(max(n, 0))), true
		}
	}
	if seps != nil {
		items, err := r.iterate(seps)
		if err != nil || len(items) != 2 {
			return nil, fmt.Errorf("tojson: separators must be a pair of strings")
		}
		enc.itemSep, enc.keySep = toString(items[0]), toString(items[1])
	}
	if err := enc.encode(v, 0); err != nil {
		return nil, err
	}
	return enc.b.String(), nil
}

// pySplitlines is Python's str.splitlines.
func pySplitlines(s string, keepends bool) []string {
	var out []string
	start := 0
	rs := []rune(s)
	var b strings.Builder
	_ = b
	i := 0
	bytePos := 0
	for i < len(rs) {
		c := rs[i]
		n := utf8.RuneLen(c)
		isBreak := c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029
		if !isBreak {
			i++
			bytePos += n
			continue
		}
		end := bytePos
		next := bytePos + n
		if c == '\r' && i+1 < len(rs) && rs[i+1] == '\n' {
			next++
			i++
		}
		if keepends {
			out = append(out, s[start:next])
		} else {
			out = append(out, s[start:end])
		}
		i++
		bytePos = next
		start = next
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// pyCapitalize is Python's str.capitalize.
func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToTitle(r)) + pyLower(s[n:])
}

// jinjaTitle is Jinja2's title filter: each word (split on whitespace, -, (, {, [, <) gets its
// first letter upper-cased and the rest lower-cased.
func jinjaTitle(s string) string {
	var b strings.Builder
	startWord := true
	for _, r := range s {
		if isPySpace(r) || strings.ContainsRune("-({[<", r) {
			b.WriteRune(r)
			startWord = true
			continue
		}
		if startWord {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		startWord = false
	}
	return b.String()
}
