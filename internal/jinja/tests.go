package jinja

// The builtin Jinja2 tests: the names after "is", as in "x is defined".

import (
	"fmt"
	"math"
	"unicode"
)

func init() {
	tests = map[string]testFunc{
		"boolean":     func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(bool); return ok, nil },
		"callable":    testCallable,
		"defined":     func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(Undefined); return !ok, nil },
		"divisibleby": testDivisibleBy,
		"eq":          cmpTest("=="),
		"equalto":     cmpTest("=="),
		"==":          cmpTest("=="),
		"escaped":     func(r *renderer, v any, a []any, kw *Dict) (bool, error) { return false, nil },
		"even":        func(r *renderer, v any, a []any, kw *Dict) (bool, error) { return parity(v, 0) },
		"false":       func(r *renderer, v any, a []any, kw *Dict) (bool, error) { b, ok := v.(bool); return ok && !b, nil },
		"filter": func(r *renderer, v any, a []any, kw *Dict) (bool, error) {
			s, _ := v.(string)
			return filters[s] != nil, nil
		},
		"float":       func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(float64); return ok, nil },
		"ge":          cmpTest(">="),
		">=":          cmpTest(">="),
		"gt":          cmpTest(">"),
		"greaterthan": cmpTest(">"),
		">":           cmpTest(">"),
		"in":          testIn,
		"integer":     func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(int64); return ok, nil },
		"iterable":    testIterable,
		"le":          cmpTest("<="),
		"<=":          cmpTest("<="),
		"lower": func(r *renderer, v any, a []any, kw *Dict) (bool, error) {
			s := r.str(v)
			return hasCased(s) && all(s, func(c rune) bool { return !unicode.IsUpper(c) && !unicode.IsTitle(c) }), nil
		},
		"lt":       cmpTest("<"),
		"lessthan": cmpTest("<"),
		"<":        cmpTest("<"),
		"mapping":  func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(*Dict); return ok, nil },
		"ne":       cmpTest("!="),
		"!=":       cmpTest("!="),
		"none":     func(r *renderer, v any, a []any, kw *Dict) (bool, error) { return v == nil, nil },
		"number":   testNumber,
		"odd":      func(r *renderer, v any, a []any, kw *Dict) (bool, error) { return parity(v, 1) },
		"sameas":   testSameAs,
		"sequence": testSequence,
		"string":   func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(string); return ok, nil },
		"test": func(r *renderer, v any, a []any, kw *Dict) (bool, error) {
			s, _ := v.(string)
			return tests[s] != nil, nil
		},
		"true":      func(r *renderer, v any, a []any, kw *Dict) (bool, error) { b, ok := v.(bool); return ok && b, nil },
		"undefined": func(r *renderer, v any, a []any, kw *Dict) (bool, error) { _, ok := v.(Undefined); return ok, nil },
		"upper": func(r *renderer, v any, a []any, kw *Dict) (bool, error) {
			s := r.str(v)
			return hasCased(s) && all(s, func(c rune) bool { return !unicode.IsLower(c) && !unicode.IsTitle(c) }), nil
		},
	}
}

// unaryTests take no argument besides the tested value.
var unaryTests = map[string]bool{"boolean": true, "callable": true, "defined": true, "escaped": true, "even": true,
	"false": true, "float": true, "integer": true, "iterable": true, "lower": true, "mapping": true, "none": true,
	"number": true, "odd": true, "sequence": true, "string": true, "true": true, "undefined": true, "upper": true}

func testCallable(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	switch v.(type) {
	case *Function, *boundMethod, *macro:
		return true, nil
	case *loopContext:
		return true, nil
	}
	return false, nil
}

func testDivisibleBy(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	n, ok1 := asInt(v)
	d, ok2 := asInt(arg(a, kw, 0, "num", nil))
	if !ok1 || !ok2 {
		x, okx := asNumber(v)
		y, oky := asNumber(arg(a, kw, 0, "num", nil))
		if !okx || !oky || y == 0 {
			return false, fmt.Errorf("divisibleby: want numbers")
		}
		return math.Mod(x, y) == 0, nil
	}
	if d == 0 {
		return false, fmt.Errorf("integer division or modulo by zero")
	}
	return n%d == 0, nil
}

func cmpTest(op string) testFunc {
	return func(r *renderer, v any, a []any, kw *Dict) (bool, error) {
		other := arg(a, kw, 0, "other", nil)
		return compareOp(op, v, other)
	}
}

func parity(v any, want int64) (bool, error) {
	if f, ok := v.(float64); ok {
		m := math.Mod(f, 2)
		if m < 0 {
			m += 2
		}
		return m == float64(want), nil
	}
	i, ok := asInt(v)
	if !ok {
		if u, isU := v.(Undefined); isU {
			return false, undefinedError(u)
		}
		return false, fmt.Errorf("unsupported operand type(s) for %%: '%s' and 'int'", typeName(v))
	}
	m := i % 2
	if m < 0 {
		m += 2
	}
	return m == want, nil
}

func testIn(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	return contains(arg(a, kw, 0, "seq", nil), v)
}

func testIterable(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	switch v.(type) {
	case string, []any, Tuple, *Dict, Undefined, *generator:
		return true, nil
	}
	return false, nil
}

func testNumber(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	_, ok := asNumber(v)
	return ok, nil
}

func testSameAs(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	other := arg(a, kw, 0, "other", nil)
	switch x := v.(type) {
	case nil:
		return other == nil, nil
	case bool:
		y, ok := other.(bool)
		return ok && x == y, nil
	case int64, float64, string:
		return v == other, nil
	case []any:
		y, ok := other.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 && x == nil && y == nil || len(x) > 0 && &x[0] == &y[0]), nil
	case *Dict, *Namespace, *macro, *Function:
		return v == other, nil
	}
	return false, nil
}

func testSequence(r *renderer, v any, a []any, kw *Dict) (bool, error) {
	switch v.(type) {
	case string, []any, Tuple, *Dict, Undefined:
		return true, nil
	}
	return false, nil
}
