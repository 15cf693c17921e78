package jinja

// Statements: output, if, for (with loop), set, macros, call and filter blocks, with.

import (
	"fmt"
	"strings"
)

type scope struct {
	vars   map[string]any
	parent *scope
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

func (s *scope) child() *scope { return &scope{vars: map[string]any{}, parent: s} }

type renderer struct {
	opts     *Options
	out      *strings.Builder
	top      *strings.Builder // the template's output, as opposed to a capture
	genSpans [][2]int
	steps    int64
	depth    int
}

// wrap attaches a line to a plain error; template errors, callee errors and loop control pass.
func wrap(line int, err error) error {
	if err == nil {
		return nil
	}
	switch err.(type) {
	case *Error, *calleeError:
		return err
	}
	if err == errBreak || err == errContinue {
		return err
	}
	return &Error{Line: line, Msg: err.Error()}
}

func (r *renderer) step(line int) error {
	r.steps++
	if r.steps > r.opts.MaxSteps {
		return &Error{Line: line, Msg: fmt.Sprintf("template took more than %d steps: want a template that terminates sooner", r.opts.MaxSteps)}
	}
	return nil
}

// checkLen fails when a string or output of n bytes exceeds the output limit.
func (r *renderer) checkLen(n int) error {
	if n > r.opts.MaxOutputBytes {
		return fmt.Errorf("output larger than %d bytes", r.opts.MaxOutputBytes)
	}
	return nil
}

// str is toString bounded by the output limit.
func (r *renderer) str(v any) string { return toStringLimit(v, r.opts.MaxOutputBytes+1) }

func (r *renderer) write(line int, s string) error {
	if err := r.checkLen(r.out.Len() + len(s)); err != nil {
		return wrap(line, err)
	}
	r.out.WriteString(s)
	return nil
}

// capture renders body into a string (set blocks, filter blocks, macros).
func (r *renderer) capture(body []stmt, sc *scope) (string, error) {
	saved := r.out
	r.out = &strings.Builder{}
	err := r.execBody(body, sc)
	s := r.out.String()
	r.out = saved
	return s, err
}

func (r *renderer) execBody(body []stmt, sc *scope) error {
	for _, s := range body {
		if err := r.exec(s, sc); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) exec(s stmt, sc *scope) error {
	line := s.stmtLine()
	if err := r.step(line); err != nil {
		return err
	}
	switch n := s.(type) {
	case *textStmt:
		return r.write(line, n.text)
	case *outputStmt:
		v, err := r.eval(n.x, sc)
		if err != nil {
			return err
		}
		return r.write(line, r.str(v))
	case *ifStmt:
		for i, t := range n.tests {
			v, err := r.eval(t, sc)
			if err != nil {
				return err
			}
			if truthy(v) {
				return r.execBody(n.bodies[i], sc)
			}
		}
		return r.execBody(n.els, sc)
	case *forStmt:
		it, err := r.eval(n.iter, sc)
		if err != nil {
			return err
		}
		return r.execFor(n, it, sc, 0)
	case *setStmt:
		v, err := r.eval(n.value, sc)
		if err != nil {
			return err
		}
		return wrap(line, r.assign(n.target, v, sc))
	case *setBlockStmt:
		s, err := r.capture(n.body, sc.child())
		if err != nil {
			return err
		}
		var v any = s
		for _, f := range n.filters {
			if v, err = r.applyFilterExpr(f, v, sc); err != nil {
				return err
			}
		}
		return wrap(line, r.assign(n.target, v, sc))
	case *macroStmt:
		sc.vars[n.name] = &macro{node: n, scope: sc}
		return nil
	case *callBlockStmt:
		caller := &macro{node: &macroStmt{pos: n.pos, name: "caller", params: n.params, defaults: n.defaults, body: n.body}, scope: sc}
		fn, err := r.eval(n.call.fn, sc)
		if err != nil {
			return err
		}
		args, kwargs, err := r.evalArgs(&n.call.callArgs, sc)
		if err != nil {
			return err
		}
		kwargs.Set("caller", caller)
		v, err := r.call(line, fn, args, kwargs)
		if err != nil {
			return err
		}
		return r.write(line, toString(v))
	case *filterBlockStmt:
		s, err := r.capture(n.body, sc)
		if err != nil {
			return err
		}
		var v any = s
		for _, f := range n.filters {
			if v, err = r.applyFilterExpr(f, v, sc); err != nil {
				return err
			}
		}
		return r.write(line, toString(v))
	case *withStmt:
		inner := sc.child()
		for i, t := range n.targets {
			v, err := r.eval(n.values[i], sc)
			if err != nil {
				return err
			}
			if err := r.assign(t, v, inner); err != nil {
				return wrap(line, err)
			}
		}
		return r.execBody(n.body, inner)
	case *scopeStmt:
		start, direct := r.out.Len(), r.out == r.top
		inner := sc
		if n.scoped {
			inner = sc.child()
		}
		if err := r.execBody(n.body, inner); err != nil {
			return err
		}
		if n.generation && direct {
			r.genSpans = append(r.genSpans, [2]int{start, r.out.Len()})
		}
		return nil
	case *breakStmt:
		return errBreak
	case *continueStmt:
		return errContinue
	}
	return &Error{Line: line, Msg: fmt.Sprintf("unknown statement %T", s)}
}

// assign binds a set/for/with target.
func (r *renderer) assign(target expr, v any, sc *scope) error {
	switch t := target.(type) {
	case *nameExpr:
		sc.vars[t.name] = v
		return nil
	case *getAttrExpr:
		ne := t.obj.(*nameExpr)
		obj, _ := sc.lookup(ne.name)
		ns, ok := obj.(*Namespace)
		if !ok {
			return fmt.Errorf("cannot assign attribute on non-namespace object")
		}
		ns.attrs.Set(t.attr, v)
		return nil
	case *tupleExpr:
		items, err := r.iterate(v)
		if err != nil {
			return err
		}
		if len(items) != len(t.items) {
			if len(items) > len(t.items) {
				return fmt.Errorf("too many values to unpack (expected %d)", len(t.items))
			}
			return fmt.Errorf("not enough values to unpack (expected %d, got %d)", len(t.items), len(items))
		}
		for i, it := range t.items {
			if err := r.assign(it, items[i], sc); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("cannot assign to %T", target)
}

// iterate lists the items Python's iter() would give for a for loop.
func (r *renderer) iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case Tuple:
		return x, nil
	case *Dict:
		return x.keys, nil
	case string:
		out := make([]any, 0, len(x))
		for _, c := range x {
			out = append(out, string(c))
		}
		return out, nil
	case Undefined:
		return nil, nil
	case *generator:
		if x.err != nil {
			return nil, x.err
		}
		return x.drain(), nil
	}
	return nil, fmt.Errorf("'%s' object is not iterable", typeName(v))
}

// loopContext is the `loop` variable of a for loop.
type loopContext struct {
	items    []any
	index0   int
	depth0   int
	node     *forStmt
	scope    *scope
	lastSeen any
	hasSeen  bool
}

func (r *renderer) execFor(n *forStmt, it any, sc *scope, depth0 int) error {
	line := n.line
	all, err := r.iterate(it)
	if err != nil {
		return wrap(line, err)
	}
	items := all
	if n.filter != nil {
		items = nil
		for _, item := range all {
			if err := r.step(line); err != nil {
				return err
			}
			inner := sc.child()
			if err := r.assign(n.target, item, inner); err != nil {
				return wrap(line, err)
			}
			ok, err := r.eval(n.filter, inner)
			if err != nil {
				return err
			}
			if truthy(ok) {
				items = append(items, item)
			}
		}
	}
	if len(items) == 0 {
		return r.execBody(n.els, sc)
	}
	lc := &loopContext{items: items, depth0: depth0, node: n, scope: sc}
	for i, item := range items {
		if err := r.step(line); err != nil {
			return err
		}
		inner := sc.child()
		lc2 := *lc
		lc2.index0 = i
		inner.vars["loop"] = &lc2
		if err := r.assign(n.target, item, inner); err != nil {
			return wrap(line, err)
		}
		err := r.execBody(n.body, inner)
		lc.lastSeen, lc.hasSeen = lc2.lastSeen, lc2.hasSeen
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	return nil
}

func (l *loopContext) attr(name string) (any, bool) {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.index0 + 1), true
	case "index0":
		return int64(l.index0), true
	case "revindex":
		return int64(n - l.index0), true
	case "revindex0":
		return int64(n - l.index0 - 1), true
	case "first":
		return l.index0 == 0, true
	case "last":
		return l.index0 == n-1, true
	case "length":
		return int64(n), true
	case "depth":
		return int64(l.depth0 + 1), true
	case "depth0":
		return int64(l.depth0), true
	case "previtem":
		if l.index0 == 0 {
			return Undefined{name: "there is no previous item"}, true
		}
		return l.items[l.index0-1], true
	case "nextitem":
		if l.index0 == n-1 {
			return Undefined{name: "there is no next item"}, true
		}
		return l.items[l.index0+1], true
	case "cycle", "changed":
		return &boundMethod{recv: l, name: name}, true
	}
	return nil, false
}

// macro is a macro (or a call block's caller) bound to the scope it was defined in.
type macro struct {
	node  *macroStmt
	scope *scope
}

func (r *renderer) callMacro(line int, m *macro, args []any, kwargs *Dict) (any, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > r.opts.MaxDepth {
		return nil, &Error{Line: line, Msg: fmt.Sprintf("macro calls nested deeper than %d", r.opts.MaxDepth)}
	}
	sc := m.scope.child()
	n := m.node
	firstDefault := len(n.params) - len(n.defaults)
	for i, p := range n.params {
		switch {
		case i < len(args):
			sc.vars[p] = args[i]
		default:
			if v, ok := kwargs.Get(p); ok {
				sc.vars[p] = v
			} else if i >= firstDefault {
				d, err := r.eval(n.defaults[i-firstDefault], sc)
				if err != nil {
					return nil, err
				}
				sc.vars[p] = d
			} else {
				sc.vars[p] = Undefined{name: p}
			}
		}
	}
	varargs := Tuple{}
	if len(args) > len(n.params) {
		varargs = append(varargs, args[len(n.params):]...)
	}
	sc.vars["varargs"] = varargs
	extra := NewDict()
	for i, k := range kwargs.Keys() {
		ks, _ := k.(string)
		known := ks == "caller"
		for _, p := range n.params {
			known = known || p == ks
		}
		if !known {
			_ = extra.SetKey(k, kwargs.Value(i))
		}
	}
	sc.vars["kwargs"] = extra
	if c, ok := kwargs.Get("caller"); ok {
		sc.vars["caller"] = c
	}
	return r.capture(n.body, sc)
}
