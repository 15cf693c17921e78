package jinja

// The builtin globals: range, dict, namespace, cycler, joiner.

import "fmt"

func init() {
	globals = map[string]any{
		"range":     &Function{Name: "range", Fn: globalRange},
		"dict":      &Function{Name: "dict", Fn: globalDict},
		"namespace": &Function{Name: "namespace", Fn: globalNamespace},
		"cycler":    &Function{Name: "cycler", Fn: globalCycler},
		"joiner":    &Function{Name: "joiner", Fn: globalJoiner},
	}
}

// maxRange is the sandbox's MAX_RANGE.
const maxRange = 100000

func globalRange(args []any, kw *Dict) (any, error) {
	ints := make([]int64, len(args))
	for i, a := range args {
		n, ok := asInt(a)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("'%s' object cannot be interpreted as an integer", typeName(a))}
		}
		ints[i] = n
	}
	var start, stop, step int64 = 0, 0, 1
	switch len(ints) {
	case 1:
		stop = ints[0]
	case 2:
		start, stop = ints[0], ints[1]
	case 3:
		start, stop, step = ints[0], ints[1], ints[2]
	default:
		return nil, &Error{Msg: fmt.Sprintf("range expected 1 to 3 arguments, got %d", len(args))}
	}
	if step == 0 {
		return nil, &Error{Msg: "range() arg 3 must not be zero"}
	}
	// Count in floating point first: start and stop may be far apart enough to overflow int64.
	if span := (float64(stop) - float64(start)) / float64(step); span > maxRange+1 {
		return nil, &Error{Msg: fmt.Sprintf("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)}
	}
	var n int64
	if step > 0 && stop > start {
		n = (stop-start-1)/step + 1
	} else if step < 0 && stop < start {
		n = (start-stop-1)/(-step) + 1
	}
	if n > maxRange || n < 0 {
		return nil, &Error{Msg: fmt.Sprintf("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)}
	}
	out := make([]any, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

func globalDict(args []any, kw *Dict) (any, error) {
	d := NewDict()
	if len(args) > 0 {
		src, ok := args[0].(*Dict)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("dict: want a mapping, found %s", typeName(args[0]))}
		}
		d = src.copy()
	}
	for i, k := range kw.Keys() {
		_ = d.SetKey(k, kw.Value(i))
	}
	return d, nil
}

func globalNamespace(args []any, kw *Dict) (any, error) {
	ns := &Namespace{attrs: NewDict()}
	for _, a := range args {
		src, ok := a.(*Dict)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("namespace: want a mapping, found %s", typeName(a))}
		}
		for i, k := range src.keys {
			_ = ns.attrs.SetKey(k, src.vals[i])
		}
	}
	for i, k := range kw.Keys() {
		_ = ns.attrs.SetKey(k, kw.Value(i))
	}
	return ns, nil
}

func globalCycler(args []any, kw *Dict) (any, error) {
	items := append([]any(nil), args...)
	pos := 0
	ns := &Namespace{attrs: NewDict()}
	ns.attrs.Set("next", &Function{Name: "next", Fn: func([]any, *Dict) (any, error) {
		if len(items) == 0 {
			return nil, nil
		}
		v := items[pos%len(items)]
		pos++
		return v, nil
	}})
	ns.attrs.Set("reset", &Function{Name: "reset", Fn: func([]any, *Dict) (any, error) { pos = 0; return nil, nil }})
	return ns, nil
}

func globalJoiner(args []any, kw *Dict) (any, error) {
	sep := ", "
	if len(args) > 0 {
		sep = toString(args[0])
	}
	used := false
	return &Function{Name: "joiner", Fn: func([]any, *Dict) (any, error) {
		if !used {
			used = true
			return "", nil
		}
		return sep, nil
	}}, nil
}
