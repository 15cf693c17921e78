package jinja

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Error is a template syntax or runtime error, with the template line it happened on.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// calleeError carries an error returned by a Function, so that Render returns it unchanged.
type calleeError struct{ err error }

func (e *calleeError) Error() string { return e.err.Error() }

var (
	errBreak    = errors.New("'break' outside of a loop")
	errContinue = errors.New("'continue' outside of a loop")
)

// Options configures parsing and the limits of rendering. The zero value is Jinja2's defaults
// with the limits below.
type Options struct {
	TrimBlocks          bool // remove the first newline after a block or comment tag
	LstripBlocks        bool // strip spaces and tabs before a block or comment tag at the start of a line
	KeepTrailingNewline bool // keep a single trailing newline of the template source

	MaxSteps       int64 // statements, expressions and loop iterations per render; default 20,000,000
	MaxOutputBytes int   // size of the output and of any string built; default and maximum 64 MiB
	MaxDepth       int   // nesting of macro calls and recursive loops; default 200
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 20_000_000
	}
	if c.MaxOutputBytes <= 0 || c.MaxOutputBytes > maxOutputLimit {
		c.MaxOutputBytes = maxOutputLimit
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 200
	}
	return c
}

// maxOutputLimit is the default and largest MaxOutputBytes.
const maxOutputLimit = 64 << 20

// Template is a parsed template; it is immutable and safe for concurrent Render calls.
type Template struct {
	body       []stmt
	opts       Options
	generation bool
}

// Parse parses a template. Syntax errors are *Error values with the line number.
func Parse(src string, opts *Options) (*Template, error) {
	o := opts.withDefaults()
	toks, err := lex(src, &o)
	if err != nil {
		return nil, err
	}
	body, generation, err := parse(toks)
	if err != nil {
		return nil, err
	}
	if err := checkNames(body); err != nil {
		return nil, err
	}
	return &Template{body: body, opts: o, generation: generation}, nil
}

// HasGeneration reports whether the template marks assistant output with {% generation %}
// blocks (transformers' return_assistant_tokens_mask).
func (t *Template) HasGeneration() bool { return t.generation }

// Render renders the template with the given variables (Go values, converted by FromGo). An
// error returned by a Function variable (such as raise_exception) is returned unchanged; other
// errors are *Error values.
func (t *Template) Render(vars map[string]any) (string, error) {
	out, _, err := t.RenderSpans(vars)
	return out, err
}

// RenderSpans is Render that also returns the byte ranges [start, end) of the output of each
// {% generation %} block rendered directly into the output (blocks inside macros, call or set
// blocks are not recorded, as their text is not placed yet).
func (t *Template) RenderSpans(vars map[string]any) (string, [][2]int, error) {
	root := &scope{vars: map[string]any{}}
	for k, v := range globals {
		root.vars[k] = v
	}
	for k, v := range vars {
		c, err := FromGo(v)
		if err != nil {
			return "", nil, fmt.Errorf("variable %q: %w", k, err)
		}
		root.vars[k] = c
	}
	r := &renderer{opts: &t.opts, out: &strings.Builder{}}
	r.top = r.out
	err := r.execBody(t.body, &scope{vars: map[string]any{}, parent: root})
	if err != nil {
		var ce *calleeError
		if errors.As(err, &ce) {
			return "", nil, ce.err
		}
		if err == errBreak || err == errContinue {
			return "", nil, &Error{Msg: err.Error()}
		}
		return "", nil, err
	}
	return r.out.String(), r.genSpans, nil
}

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

// pyErrorf builds an error whose text is Python's or Jinja2's own message, verbatim (capital
// letter and final period included), so that errors read as they do in transformers.
func pyErrorf(format string, args ...any) error { return &pyError{fmt.Sprintf(format, args...)} }

type pyError struct{ msg string }

func (e *pyError) Error() string { return e.msg }
