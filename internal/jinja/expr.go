package jinja

// Expressions: names, literals, operators, calls, attribute and item access, slices.

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

func (r *renderer) eval(e expr, sc *scope) (any, error) {
	v, err := r.evalInner(e, sc)
	return v, wrap(e.exprLine(), err)
}

func (r *renderer) evalInner(e expr, sc *scope) (any, error) {
	if err := r.step(e.exprLine()); err != nil {
		return nil, err
	}
	switch n := e.(type) {
	case *constExpr:
		return n.val, nil
	case *nameExpr:
		if v, ok := sc.lookup(n.name); ok {
			return v, nil
		}
		return Undefined{name: n.name}, nil
	case *listExpr:
		out := make([]any, 0, len(n.items))
		for _, it := range n.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *tupleExpr:
		out := make(Tuple, 0, len(n.items))
		for _, it := range n.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *dictExpr:
		d := NewDict()
		for i := range n.keys {
			k, err := r.eval(n.keys[i], sc)
			if err != nil {
				return nil, err
			}
			v, err := r.eval(n.vals[i], sc)
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(k, v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *getAttrExpr:
		obj, err := r.eval(n.obj, sc)
		if err != nil {
			return nil, err
		}
		return getAttr(obj, n.attr)
	case *getItemExpr:
		obj, err := r.eval(n.obj, sc)
		if err != nil {
			return nil, err
		}
		if sl, ok := n.key.(*sliceExpr); ok {
			return r.evalSlice(obj, sl, sc)
		}
		key, err := r.eval(n.key, sc)
		if err != nil {
			return nil, err
		}
		return getItem(obj, key)
	case *callExpr:
		fn, err := r.eval(n.fn, sc)
		if err != nil {
			return nil, err
		}
		args, kwargs, err := r.evalArgs(&n.callArgs, sc)
		if err != nil {
			return nil, err
		}
		return r.call(n.line, fn, args, kwargs)
	case *filterExpr:
		v, err := r.eval(n.arg, sc)
		if err != nil {
			return nil, err
		}
		return r.applyFilterExpr(n, v, sc)
	case *testExpr:
		v, err := r.eval(n.arg, sc)
		if err != nil {
			return nil, err
		}
		args, kwargs, err := r.evalArgs(&n.callArgs, sc)
		if err != nil {
			return nil, err
		}
		return r.applyTest(n.name, v, args, kwargs)
	case *binaryExpr:
		left, err := r.eval(n.left, sc)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "and":
			if !truthy(left) {
				return left, nil
			}
			return r.eval(n.right, sc)
		case "or":
			if truthy(left) {
				return left, nil
			}
			return r.eval(n.right, sc)
		}
		right, err := r.eval(n.right, sc)
		if err != nil {
			return nil, err
		}
		return r.binop(n.op, left, right)
	case *unaryExpr:
		v, err := r.eval(n.x, sc)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "not":
			return !truthy(v), nil
		case "-":
			if i, ok := asInt(v); ok {
				if i == math.MinInt64 {
					return nil, fmt.Errorf("integer overflow")
				}
				return -i, nil
			}
			if f, ok := v.(float64); ok {
				return -f, nil
			}
		case "+":
			if i, ok := asInt(v); ok {
				return i, nil
			}
			if f, ok := v.(float64); ok {
				return f, nil
			}
		}
		if u, ok := v.(Undefined); ok {
			return nil, undefinedError(u)
		}
		return nil, fmt.Errorf("bad operand type for unary %s: '%s'", n.op, typeName(v))
	case *compareExpr:
		left, err := r.eval(n.first, sc)
		if err != nil {
			return nil, err
		}
		for i, op := range n.ops {
			right, err := r.eval(n.operands[i], sc)
			if err != nil {
				return nil, err
			}
			ok, err := compareOp(op, left, right)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			left = right
		}
		return true, nil
	case *condExpr:
		t, err := r.eval(n.test, sc)
		if err != nil {
			return nil, err
		}
		if truthy(t) {
			return r.eval(n.then, sc)
		}
		if n.els == nil {
			return Undefined{name: "the inline if-expression evaluated to false and no else section was defined"}, nil
		}
		return r.eval(n.els, sc)
	case *sliceExpr:
		return nil, fmt.Errorf("a slice is only allowed in a subscript")
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func undefinedError(u Undefined) error {
	return fmt.Errorf("%s", u.message())
}

func compareOp(op string, a, b any) (bool, error) {
	switch op {
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
	case "in":
		return contains(b, a)
	case "notin":
		ok, err := contains(b, a)
		return !ok, err
	}
	c, err := compare(a, b, op)
	if err != nil {
		return false, err
	}
	if c == 2 {
		return false, nil
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparison %s", op)
}

// contains is Python's `item in container`.
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			if u, isU := item.(Undefined); isU {
				return false, undefinedError(u)
			}
			return false, fmt.Errorf("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, x := range c {
			if equal(x, item) {
				return true, nil
			}
		}
		return false, nil
	case Tuple:
		for _, x := range c {
			if equal(x, item) {
				return true, nil
			}
		}
		return false, nil
	case *Dict:
		if _, err := hashKey(item); err != nil {
			return false, err
		}
		_, ok := c.Get(item)
		return ok, nil
	case Undefined:
		return false, nil
	case *generator: // consumes up to the match, as Python does
		if c.err != nil {
			return false, c.err
		}
		for c.pos < len(c.items) {
			c.pos++
			if equal(c.items[c.pos-1], item) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("argument of type '%s' is not iterable", typeName(container))
}

func (r *renderer) evalArgs(a *callArgs, sc *scope) ([]any, *Dict, error) {
	var args []any
	for _, x := range a.args {
		v, err := r.eval(x, sc)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	if a.dynArgs != nil {
		v, err := r.eval(a.dynArgs, sc)
		if err != nil {
			return nil, nil, err
		}
		items, err := r.iterate(v)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, items...)
	}
	kwargs := NewDict()
	for i, name := range a.kwNames {
		v, err := r.eval(a.kwVals[i], sc)
		if err != nil {
			return nil, nil, err
		}
		kwargs.Set(name, v)
	}
	if a.dynKwargs != nil {
		v, err := r.eval(a.dynKwargs, sc)
		if err != nil {
			return nil, nil, err
		}
		d, ok := v.(*Dict)
		if !ok {
			return nil, nil, fmt.Errorf("argument after ** must be a mapping, not %s", typeName(v))
		}
		for i, k := range d.keys {
			if err := kwargs.SetKey(k, d.vals[i]); err != nil {
				return nil, nil, err
			}
		}
	}
	return args, kwargs, nil
}

func (r *renderer) call(line int, fn any, args []any, kwargs *Dict) (any, error) {
	switch f := fn.(type) {
	case *Function:
		v, err := f.Fn(args, kwargs)
		if err != nil {
			var je *Error
			if errors.As(err, &je) {
				if je.Line == 0 {
					return nil, &Error{Line: line, Msg: je.Msg}
				}
				return nil, err
			}
			return nil, &calleeError{err}
		}
		c, err := FromGo(v)
		if err != nil {
			return nil, fmt.Errorf("%s returned %w", f.Name, err)
		}
		return c, nil
	case *boundMethod:
		return r.callMethod(f, args, kwargs)
	case *macro:
		return r.callMacro(line, f, args, kwargs)
	case *loopContext:
		if !f.node.recursive {
			return nil, fmt.Errorf("'LoopContext' object is not callable: the loop is not recursive")
		}
		if len(args) != 1 {
			return nil, fmt.Errorf("loop() takes exactly one argument (%d given)", len(args))
		}
		r.depth++
		defer func() { r.depth-- }()
		if r.depth > r.opts.MaxDepth {
			return nil, fmt.Errorf("recursive loop nested deeper than %d", r.opts.MaxDepth)
		}
		saved := r.out
		r.out = &strings.Builder{}
		err := r.execFor(f.node, args[0], f.scope, f.depth0+1)
		s := r.out.String()
		r.out = saved
		return s, err
	case Undefined:
		return nil, undefinedError(f)
	}
	return nil, fmt.Errorf("'%s' object is not callable", typeName(fn))
}

func (r *renderer) evalSlice(obj any, sl *sliceExpr, sc *scope) (any, error) {
	var bounds [3]*int64
	for i, x := range []expr{sl.start, sl.stop, sl.step} {
		if x == nil {
			continue
		}
		v, err := r.eval(x, sc)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		n, ok := asInt(v)
		if !ok {
			if u, isU := v.(Undefined); isU {
				return nil, undefinedError(u)
			}
			return nil, fmt.Errorf("slice indices must be integers or None, not %s", typeName(v))
		}
		bounds[i] = &n
	}
	switch o := obj.(type) {
	case []any:
		idx, err := sliceIndices(len(o), bounds)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(idx))
		for i, j := range idx {
			out[i] = o[j]
		}
		return out, nil
	case Tuple:
		idx, err := sliceIndices(len(o), bounds)
		if err != nil {
			return nil, err
		}
		out := make(Tuple, len(idx))
		for i, j := range idx {
			out[i] = o[j]
		}
		return out, nil
	case string:
		rs := []rune(o)
		idx, err := sliceIndices(len(rs), bounds)
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(idx))
		for i, j := range idx {
			out[i] = rs[j]
		}
		return string(out), nil
	case Undefined:
		return nil, undefinedError(o)
	case *Dict:
		return nil, fmt.Errorf("unhashable type: 'slice'")
	}
	// Jinja2 compiles slices to plain Python subscripts: no undefined fallback.
	return nil, fmt.Errorf("'%s' object is not subscriptable", typeName(obj))
}

// sliceIndices is Python's slice.indices followed by range().
func sliceIndices(n int, b [3]*int64) ([]int, error) {
	step := int64(1)
	if b[2] != nil {
		step = *b[2]
	}
	if step == 0 {
		return nil, fmt.Errorf("slice step cannot be zero")
	}
	if step == math.MinInt64 {
		step = -math.MaxInt64 // same indices for any real length, and -step stays representable
	}
	ln := int64(n)
	clamp := func(p *int64, def int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += ln
			if v < 0 {
				if step < 0 {
					return -1
				}
				return 0
			}
		} else if v >= ln {
			if step < 0 {
				return ln - 1
			}
			return ln
		}
		return v
	}
	var start, stop int64
	if step > 0 {
		start, stop = clamp(b[0], 0), clamp(b[1], ln)
	} else {
		start, stop = clamp(b[0], ln-1), clamp(b[1], -1)
	}
	var count int64
	if step > 0 && stop > start {
		count = (stop-start-1)/step + 1
	} else if step < 0 && stop < start {
		count = (start-stop-1)/(-step) + 1
	}
	out := make([]int, 0, count)
	for k := int64(0); k < count; k++ {
		out = append(out, int(start+k*step))
	}
	return out, nil
}

// getAttr is Jinja2's environment.getattr: attributes (methods) first, then items.
func getAttr(obj any, name string) (any, error) {
	switch o := obj.(type) {
	case Undefined:
		return nil, undefinedError(o)
	case *Dict:
		if dictMethods[name] {
			return &boundMethod{recv: o, name: name}, nil
		}
		if unsafeDictMethods[name] {
			return nil, unsafeError(o, name)
		}
		if v, ok := o.Get(name); ok {
			return v, nil
		}
	case *Namespace:
		if v, ok := o.attrs.Get(name); ok {
			return v, nil
		}
	case *loopContext:
		if v, ok := o.attr(name); ok {
			return v, nil
		}
	case string:
		if stringMethods[name] {
			return &boundMethod{recv: o, name: name}, nil
		}
	case []any, Tuple:
		// groupby's results are (grouper, list) named tuples; pairs answer to those names.
		if t, ok := o.(Tuple); ok && len(t) == 2 && (name == "grouper" || name == "list") {
			if name == "grouper" {
				return t[0], nil
			}
			return t[1], nil
		}
		if listMethods[name] {
			return &boundMethod{recv: o, name: name}, nil
		}
		if unsafeListMethods[name] {
			return nil, unsafeError(o, name)
		}
	case int64, float64, bool:
		if name == "real" || name == "imag" {
			if name == "imag" {
				return int64(0), nil
			}
			return o, nil
		}
	}
	return Undefined{name: name, obj: obj, hasObj: true}, nil
}

func unsafeError(obj any, name string) error {
	return pyErrorf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(obj))
}

// getItem is Jinja2's environment.getitem: items first, then attributes.
func getItem(obj, key any) (any, error) {
	switch o := obj.(type) {
	case Undefined:
		return nil, undefinedError(o)
	case *Dict:
		if _, err := hashKey(key); err == nil {
			if v, ok := o.Get(key); ok {
				return v, nil
			}
		}
	case []any, Tuple:
		var items []any
		if l, ok := o.([]any); ok {
			items = l
		} else {
			items = o.(Tuple)
		}
		if i, ok := asInt(key); ok {
			if i < 0 {
				i += int64(len(items))
			}
			if i >= 0 && i < int64(len(items)) {
				return items[i], nil
			}
		}
	case string:
		if i, ok := asInt(key); ok {
			rs := []rune(o)
			if i < 0 {
				i += int64(len(rs))
			}
			if i >= 0 && i < int64(len(rs)) {
				return string(rs[i]), nil
			}
		}
	}
	if s, ok := key.(string); ok {
		v, err := getAttr(obj, s)
		if err != nil {
			return nil, err
		}
		if u, isU := v.(Undefined); isU {
			u.isItem = false
			return u, nil
		}
		return v, nil
	}
	return Undefined{name: repr(key), obj: obj, hasObj: true, isItem: true}, nil
}
