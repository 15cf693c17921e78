package jinja

import (
	"fmt"
	"strconv"
	"strings"
)

// maxParseDepth bounds the nesting of expressions and blocks, so hostile input cannot exhaust
// the stack.
const maxParseDepth = 300

type parser struct {
	toks       []token
	i          int
	depth      int
	generation bool // a {% generation %} block was seen
}

func (p *parser) cur() token { return p.toks[p.i] }
func (p *parser) peek() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(v string) bool   { t := p.cur(); return t.typ == tokOp && t.val == v }
func (p *parser) isName(v string) bool { t := p.cur(); return t.typ == tokName && t.val == v }

func (p *parser) skipOp(v string) bool {
	if p.isOp(v) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(v string) bool {
	if p.isName(v) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(v string) error {
	if !p.skipOp(v) {
		return p.errorf(p.cur().line, "expected '%s', found %s", v, p.cur())
	}
	return nil
}

func (p *parser) expectName() (token, error) {
	t := p.cur()
	if t.typ != tokName {
		return t, p.errorf(t.line, "expected a name, found %s", t)
	}
	p.next()
	return t, nil
}

func (p *parser) expectBlockEnd() error {
	if p.cur().typ != tokBlockEnd {
		return p.errorf(p.cur().line, "expected end of statement block, found %s", p.cur())
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxParseDepth {
		return p.errorf(p.cur().line, "template nested deeper than %d levels", maxParseDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func parse(toks []token) ([]stmt, bool, error) {
	p := &parser{toks: toks}
	body, end, err := p.parseBody(nil, "")
	if err != nil {
		return nil, false, err
	}
	if end != "" {
		return nil, false, p.errorf(p.cur().line, "unexpected '%s'", end)
	}
	return body, p.generation, nil
}

// parseBody parses statements until one of the end tags (left unconsumed after the name, which is
// returned) or the end of the template (only allowed when ends is empty).
func (p *parser) parseBody(ends []string, opener string) ([]stmt, string, error) {
	if err := p.enter(); err != nil {
		return nil, "", err
	}
	defer p.leave()
	var body []stmt
	for {
		t := p.cur()
		switch t.typ {
		case tokEOF:
			if len(ends) > 0 {
				return nil, "", p.errorf(t.line, "unexpected end of template: looking for %s to close the '%s' block", quoteList(ends), opener)
			}
			return body, "", nil
		case tokText:
			p.next()
			body = append(body, &textStmt{pos{t.line}, t.val})
		case tokVarBegin:
			p.next()
			x, err := p.parseTuple(true, nil, false)
			if err != nil {
				return nil, "", err
			}
			if p.cur().typ != tokVarEnd {
				return nil, "", p.errorf(p.cur().line, "expected end of print statement, found %s", p.cur())
			}
			p.next()
			body = append(body, &outputStmt{pos{t.line}, x})
		case tokBlockBegin:
			p.next()
			nt := p.cur()
			if nt.typ != tokName {
				return nil, "", p.errorf(nt.line, "expected a tag name, found %s", nt)
			}
			for _, e := range ends {
				if nt.val == e {
					p.next()
					return body, e, nil
				}
			}
			s, err := p.parseStatement()
			if err != nil {
				return nil, "", err
			}
			body = append(body, s)
		default:
			return nil, "", p.errorf(t.line, "unexpected %s", t)
		}
	}
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "'" + x + "'"
	}
	return strings.Join(q, " or ")
}

var endTags = map[string]bool{"endfor": true, "endif": true, "else": true, "elif": true, "endmacro": true, "endset": true,
	"endcall": true, "endfilter": true, "endwith": true, "endblock": true, "endgeneration": true, "endraw": true, "endautoescape": true}

func (p *parser) parseStatement() (stmt, error) {
	t := p.next()
	line := t.line
	switch t.val {
	case "for":
		return p.parseFor(line)
	case "if":
		return p.parseIf(line)
	case "set":
		return p.parseSet(line)
	case "macro":
		return p.parseMacro(line)
	case "call":
		return p.parseCallBlock(line)
	case "filter":
		return p.parseFilterBlock(line)
	case "with":
		return p.parseWith(line)
	case "break", "continue":
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		if t.val == "break" {
			return &breakStmt{pos{line}}, nil
		}
		return &continueStmt{pos{line}}, nil
	case "block":
		if _, err := p.expectName(); err != nil {
			return nil, err
		}
		scoped := p.skipName("scoped")
		p.skipName("required")
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, err := p.parseEndedBody([]string{"endblock"}, "block")
		if err != nil {
			return nil, err
		}
		if p.cur().typ == tokName {
			p.next()
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		return &scopeStmt{pos{line}, body, scoped, false}, nil
	case "generation", "autoescape":
		// transformers' {% generation %} marks assistant text for masks; it renders its body.
		if t.val == "autoescape" {
			if _, err := p.parseExpression(true); err != nil {
				return nil, err
			}
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, err := p.parseEndedBody([]string{"end" + t.val}, t.val)
		if err != nil {
			return nil, err
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		if t.val == "generation" {
			p.generation = true
		}
		return &scopeStmt{pos{line}, body, t.val == "autoescape", t.val == "generation"}, nil
	case "include", "import", "from", "extends":
		return nil, p.errorf(line, "'%s' is not supported: chat templates have no template loader", t.val)
	}
	if endTags[t.val] {
		return nil, p.errorf(line, "unexpected '%s'", t.val)
	}
	return nil, p.errorf(line, "encountered unknown tag '%s'", t.val)
}

// parseEndedBody parses a body that must end with one of ends.
func (p *parser) parseEndedBody(ends []string, opener string) ([]stmt, error) {
	body, _, err := p.parseBody(ends, opener)
	return body, err
}

func (p *parser) parseFor(line int) (stmt, error) {
	target, err := p.parseAssignTarget(false, []string{"in"})
	if err != nil {
		return nil, err
	}
	if !p.skipName("in") {
		return nil, p.errorf(p.cur().line, "expected 'in' in for loop, found %s", p.cur())
	}
	iter, err := p.parseTuple(false, []string{"recursive"}, false)
	if err != nil {
		return nil, err
	}
	s := &forStmt{pos: pos{line}, target: target, iter: iter}
	if p.skipName("if") {
		if s.filter, err = p.parseExpression(true); err != nil {
			return nil, err
		}
	}
	s.recursive = p.skipName("recursive")
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody([]string{"endfor", "else"}, "for")
	if err != nil {
		return nil, err
	}
	s.body = body
	if end == "else" {
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		if s.els, err = p.parseEndedBody([]string{"endfor"}, "for"); err != nil {
			return nil, err
		}
	}
	return s, p.expectBlockEnd()
}

func (p *parser) parseIf(line int) (stmt, error) {
	s := &ifStmt{pos: pos{line}}
	for {
		test, err := p.parseTuple(false, nil, false)
		if err != nil {
			return nil, err
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody([]string{"elif", "else", "endif"}, "if")
		if err != nil {
			return nil, err
		}
		s.tests = append(s.tests, test)
		s.bodies = append(s.bodies, body)
		switch end {
		case "elif":
			continue
		case "else":
			if err := p.expectBlockEnd(); err != nil {
				return nil, err
			}
			if s.els, err = p.parseEndedBody([]string{"endif"}, "if"); err != nil {
				return nil, err
			}
		}
		return s, p.expectBlockEnd()
	}
}

func (p *parser) parseSet(line int) (stmt, error) {
	target, err := p.parseAssignTarget(true, nil)
	if err != nil {
		return nil, err
	}
	if p.skipOp("=") {
		val, err := p.parseTuple(true, nil, false)
		if err != nil {
			return nil, err
		}
		return &setStmt{pos{line}, target, val}, p.expectBlockEnd()
	}
	var filters []*filterExpr
	for p.isOp("|") {
		f, err := p.parseFilter(nil)
		if err != nil {
			return nil, err
		}
		filters = append(filters, f...)
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, err := p.parseEndedBody([]string{"endset"}, "set")
	if err != nil {
		return nil, err
	}
	return &setBlockStmt{pos{line}, target, filters, body}, p.expectBlockEnd()
}

// parseAssignTarget parses a name, a tuple of names, or (withNamespace) name.attr.
func (p *parser) parseAssignTarget(withNamespace bool, extraEnds []string) (expr, error) {
	var items []expr
	paren := p.skipOp("(")
	for {
		t, err := p.expectName()
		if err != nil {
			return nil, err
		}
		var target expr = &nameExpr{pos{t.line}, t.val}
		if withNamespace && p.isOp(".") {
			p.next()
			at, err := p.expectName()
			if err != nil {
				return nil, err
			}
			target = &getAttrExpr{pos{t.line}, target, at.val}
		}
		items = append(items, target)
		if !p.skipOp(",") {
			break
		}
		if p.cur().typ != tokName || (len(extraEnds) > 0 && p.isName(extraEnds[0])) {
			break
		}
	}
	if paren {
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if len(items) == 1 && !paren {
		return items[0], nil
	}
	for _, it := range items {
		if _, ok := it.(*nameExpr); !ok {
			return nil, p.errorf(it.exprLine(), "cannot assign to a namespace attribute inside a tuple")
		}
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &tupleExpr{pos{items[0].exprLine()}, items}, nil
}

func (p *parser) parseSignature() ([]string, []expr, error) {
	var params []string
	var defaults []expr
	if err := p.expectOp("("); err != nil {
		return nil, nil, err
	}
	for !p.isOp(")") {
		if len(params) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		t, err := p.expectName()
		if err != nil {
			return nil, nil, err
		}
		params = append(params, t.val)
		if p.skipOp("=") {
			d, err := p.parseExpression(true)
			if err != nil {
				return nil, nil, err
			}
			defaults = append(defaults, d)
		} else if len(defaults) > 0 {
			return nil, nil, p.errorf(t.line, "non-default argument '%s' follows default argument", t.val)
		}
	}
	p.next()
	return params, defaults, nil
}

func (p *parser) parseMacro(line int) (stmt, error) {
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	params, defaults, err := p.parseSignature()
	if err != nil {
		return nil, err
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, err := p.parseEndedBody([]string{"endmacro"}, "macro")
	if err != nil {
		return nil, err
	}
	if p.cur().typ == tokName {
		p.next()
	}
	return &macroStmt{pos{line}, name.val, params, defaults, body}, p.expectBlockEnd()
}

func (p *parser) parseCallBlock(line int) (stmt, error) {
	var params []string
	var defaults []expr
	var err error
	if p.isOp("(") {
		if params, defaults, err = p.parseSignature(); err != nil {
			return nil, err
		}
	}
	x, err := p.parseExpression(true)
	if err != nil {
		return nil, err
	}
	call, ok := x.(*callExpr)
	if !ok {
		return nil, p.errorf(line, "expected a call after 'call'")
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, err := p.parseEndedBody([]string{"endcall"}, "call")
	if err != nil {
		return nil, err
	}
	return &callBlockStmt{pos{line}, call, params, defaults, body}, p.expectBlockEnd()
}

func (p *parser) parseFilterBlock(line int) (stmt, error) {
	filters, err := p.parseFilter(nil)
	if err != nil {
		return nil, err
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, err := p.parseEndedBody([]string{"endfilter"}, "filter")
	if err != nil {
		return nil, err
	}
	return &filterBlockStmt{pos{line}, filters, body}, p.expectBlockEnd()
}

func (p *parser) parseWith(line int) (stmt, error) {
	s := &withStmt{pos: pos{line}}
	for p.cur().typ != tokBlockEnd {
		if len(s.targets) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		target, err := p.parseAssignTarget(false, nil)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		val, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, target)
		s.values = append(s.values, val)
	}
	p.next()
	body, err := p.parseEndedBody([]string{"endwith"}, "with")
	if err != nil {
		return nil, err
	}
	s.body = body
	return s, p.expectBlockEnd()
}

// parseTuple parses an expression, or a tuple when commas follow (Jinja2's parse_tuple).
func (p *parser) parseTuple(withCondexpr bool, extraEnds []string, explicitParens bool) (expr, error) {
	line := p.cur().line
	var items []expr
	isTuple := false
	for {
		if len(items) > 0 {
			if !p.skipOp(",") {
				break
			}
			isTuple = true
		}
		if p.tupleEnds(extraEnds) {
			break
		}
		x, err := p.parseExpression(withCondexpr)
		if err != nil {
			return nil, err
		}
		items = append(items, x)
		if !p.isOp(",") {
			break
		}
	}
	if !isTuple {
		if len(items) == 1 {
			return items[0], nil
		}
		if !explicitParens {
			return nil, p.errorf(p.cur().line, "expected an expression, found %s", p.cur())
		}
	}
	return &tupleExpr{pos{line}, items}, nil
}

func (p *parser) tupleEnds(extraEnds []string) bool {
	t := p.cur()
	switch t.typ {
	case tokVarEnd, tokBlockEnd, tokEOF:
		return true
	case tokOp:
		return t.val == ")"
	case tokName:
		for _, e := range extraEnds {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

func (p *parser) parseExpression(withCondexpr bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if withCondexpr {
		return p.parseCondexpr()
	}
	return p.parseOr()
}

func (p *parser) parseCondexpr() (expr, error) {
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		line := p.next().line
		test, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var els expr
		if p.skipName("else") {
			if els, err = p.parseCondexpr(); err != nil {
				return nil, err
			}
		}
		x = &condExpr{pos{line}, test, x, els}
	}
	return x, nil
}

func (p *parser) parseOr() (expr, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isName("or") {
		line := p.next().line
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		x = &binaryExpr{pos{line}, "or", x, y}
	}
	return x, nil
}

func (p *parser) parseAnd() (expr, error) {
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isName("and") {
		line := p.next().line
		y, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		x = &binaryExpr{pos{line}, "and", x, y}
	}
	return x, nil
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		line := p.next().line
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{pos{line}, "not", x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	line := p.cur().line
	x, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var ops []string
	var operands []expr
	for {
		t := p.cur()
		var op string
		switch {
		case t.typ == tokOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == "<=" || t.val == ">" || t.val == ">="):
			op = t.val
			p.next()
		case p.isName("in"):
			op = "in"
			p.next()
		case p.isName("not") && p.peek().typ == tokName && p.peek().val == "in":
			op = "notin"
			p.next()
			p.next()
		}
		if op == "" {
			break
		}
		y, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		operands = append(operands, y)
	}
	if len(ops) == 0 {
		return x, nil
	}
	return &compareExpr{pos{line}, x, ops, operands}, nil
}

func (p *parser) parseBinaryLevel(ops []string, next func() (expr, error)) (expr, error) {
	x, err := next()
	if err != nil {
		return nil, err
	}
	for {
		t := p.cur()
		if t.typ != tokOp {
			return x, nil
		}
		found := false
		for _, o := range ops {
			if t.val == o {
				found = true
			}
		}
		if !found {
			return x, nil
		}
		p.next()
		y, err := next()
		if err != nil {
			return nil, err
		}
		x = &binaryExpr{pos{t.line}, t.val, x, y}
	}
}

func (p *parser) parseMath1() (expr, error) {
	return p.parseBinaryLevel([]string{"+", "-"}, p.parseConcat)
}

func (p *parser) parseConcat() (expr, error) {
	return p.parseBinaryLevel([]string{"~"}, p.parseMath2)
}

func (p *parser) parseMath2() (expr, error) {
	return p.parseBinaryLevel([]string{"*", "/", "//", "%"}, p.parsePow)
}

func (p *parser) parsePow() (expr, error) {
	return p.parseBinaryLevel([]string{"**"}, func() (expr, error) { return p.parseUnary(true) })
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.cur()
	var x expr
	var err error
	switch {
	case t.typ == tokOp && (t.val == "-" || t.val == "+"):
		p.next()
		y, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		x = &unaryExpr{pos{t.line}, t.val, y}
	default:
		if x, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if x, err = p.parsePostfix(x); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(x)
	}
	return x, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	line := t.line
	switch t.typ {
	case tokName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{pos{line}, true}, nil
		case "false", "False":
			return &constExpr{pos{line}, false}, nil
		case "none", "None":
			return &constExpr{pos{line}, nil}, nil
		}
		return &nameExpr{pos{line}, t.val}, nil
	case tokString:
		var b strings.Builder
		for p.cur().typ == tokString {
			b.WriteString(p.next().val)
		}
		return &constExpr{pos{line}, b.String()}, nil
	case tokInt:
		p.next()
		v, err := parseIntLiteral(t.val)
		if err != nil {
			return nil, p.errorf(line, "%v", err)
		}
		return &constExpr{pos{line}, v}, nil
	case tokFloat:
		p.next()
		f, err := strconv.ParseFloat(t.val, 64)
		if err != nil {
			return nil, p.errorf(line, "invalid float literal %q", t.val)
		}
		return &constExpr{pos{line}, f}, nil
	case tokOp:
		switch t.val {
		case "(":
			p.next()
			x, err := p.parseTuple(true, nil, true)
			if err != nil {
				return nil, err
			}
			return x, p.expectOp(")")
		case "[":
			p.next()
			var items []expr
			for !p.isOp("]") {
				if len(items) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				x, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				items = append(items, x)
			}
			p.next()
			return &listExpr{pos{line}, items}, nil
		case "{":
			p.next()
			d := &dictExpr{pos: pos{line}}
			for !p.isOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
			}
			p.next()
			return d, nil
		}
	}
	return nil, p.errorf(line, "unexpected %s", t)
}

func parseIntLiteral(s string) (int64, error) {
	base := 10
	if len(s) > 1 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, s = 16, s[2:]
		case 'o', 'O':
			base, s = 8, s[2:]
		case 'b', 'B':
			base, s = 2, s[2:]
		}
	}
	v, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, fmt.Errorf("integer literal %q: want a value that fits in 64 bits", s)
	}
	return v, nil
}

func (p *parser) parsePostfix(x expr) (expr, error) {
	for {
		t := p.cur()
		if t.typ != tokOp {
			return x, nil
		}
		switch t.val {
		case ".":
			p.next()
			a := p.next()
			switch a.typ {
			case tokName:
				x = &getAttrExpr{pos{t.line}, x, a.val}
			case tokInt:
				v, err := parseIntLiteral(a.val)
				if err != nil {
					return nil, p.errorf(a.line, "%v", err)
				}
				x = &getItemExpr{pos{t.line}, x, &constExpr{pos{a.line}, v}}
			default:
				return nil, p.errorf(a.line, "expected a name after '.', found %s", a)
			}
		case "[":
			p.next()
			var keys []expr
			for !p.isOp("]") {
				if len(keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				k, err := p.parseSubscript()
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
			p.next()
			switch len(keys) {
			case 0: // x[] is x[()] in Jinja2
				x = &getItemExpr{pos{t.line}, x, &tupleExpr{pos{t.line}, nil}}
			case 1:
				x = &getItemExpr{pos{t.line}, x, keys[0]}
			default:
				x = &getItemExpr{pos{t.line}, x, &tupleExpr{pos{t.line}, keys}}
			}
		case "(":
			c, err := p.parseCall(x)
			if err != nil {
				return nil, err
			}
			x = c
		default:
			return x, nil
		}
	}
}

func (p *parser) parseSubscript() (expr, error) {
	line := p.cur().line
	var parts [3]expr
	if !p.isOp(":") {
		x, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if !p.isOp(":") {
			return x, nil
		}
		parts[0] = x
	}
	p.next() // ':'
	notEnd := func() bool { return !p.isOp("]") && !p.isOp(",") && !p.isOp(":") }
	if notEnd() {
		x, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		parts[1] = x
	}
	if p.skipOp(":") && !p.isOp("]") && !p.isOp(",") {
		x, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		parts[2] = x
	}
	return &sliceExpr{pos{line}, parts[0], parts[1], parts[2]}, nil
}

func (p *parser) parseCallArgs() (callArgs, error) {
	var a callArgs
	if err := p.expectOp("("); err != nil {
		return a, err
	}
	first := true
	for !p.isOp(")") {
		if !first {
			if err := p.expectOp(","); err != nil {
				return a, err
			}
			if p.isOp(")") {
				break
			}
		}
		first = false
		switch {
		case p.isOp("*"):
			p.next()
			x, err := p.parseExpression(true)
			if err != nil {
				return a, err
			}
			a.dynArgs = x
		case p.isOp("**"):
			p.next()
			x, err := p.parseExpression(true)
			if err != nil {
				return a, err
			}
			a.dynKwargs = x
		case p.cur().typ == tokName && p.peek().typ == tokOp && p.peek().val == "=":
			name := p.next().val
			p.next()
			x, err := p.parseExpression(true)
			if err != nil {
				return a, err
			}
			a.kwNames = append(a.kwNames, name)
			a.kwVals = append(a.kwVals, x)
		default:
			x, err := p.parseExpression(true)
			if err != nil {
				return a, err
			}
			a.args = append(a.args, x)
		}
	}
	p.next()
	return a, nil
}

func (p *parser) parseCall(fn expr) (*callExpr, error) {
	line := p.cur().line
	a, err := p.parseCallArgs()
	if err != nil {
		return nil, err
	}
	return &callExpr{pos{line}, fn, a}, nil
}

func (p *parser) parseDottedName() (string, int, error) {
	t, err := p.expectName()
	if err != nil {
		return "", 0, err
	}
	name := t.val
	for p.isOp(".") && p.peek().typ == tokName {
		p.next()
		name += "." + p.next().val
	}
	return name, t.line, nil
}

// parseFilter parses "|f(args)|g..." applied to x (nil for filter blocks); it also accepts a
// leading filter name without "|" when x is nil and no pipe is present.
func (p *parser) parseFilter(x expr) ([]*filterExpr, error) {
	var out []*filterExpr
	first := true
	for p.isOp("|") || (first && x == nil && p.cur().typ == tokName) {
		if p.isOp("|") {
			p.next()
		}
		first = false
		name, line, err := p.parseDottedName()
		if err != nil {
			return nil, err
		}
		f := &filterExpr{pos: pos{line}, arg: x, name: name}
		if p.isOp("(") {
			if f.callArgs, err = p.parseCallArgs(); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
		if x != nil {
			x = f
		}
	}
	return out, nil
}

func (p *parser) parseFilterExpr(x expr) (expr, error) {
	for {
		switch {
		case p.isOp("|"):
			fs, err := p.parseFilter(x)
			if err != nil {
				return nil, err
			}
			x = fs[len(fs)-1]
		case p.isName("is"):
			t, err := p.parseTest(x)
			if err != nil {
				return nil, err
			}
			x = t
		case p.isOp("("):
			c, err := p.parseCall(x)
			if err != nil {
				return nil, err
			}
			x = c
		default:
			return x, nil
		}
	}
}

func (p *parser) parseTest(x expr) (expr, error) {
	line := p.next().line // "is"
	negated := p.skipName("not")
	name, _, err := p.parseDottedName()
	if err != nil {
		return nil, err
	}
	t := &testExpr{pos: pos{line}, arg: x, name: name}
	cur := p.cur()
	switch {
	case p.isOp("("):
		if t.callArgs, err = p.parseCallArgs(); err != nil {
			return nil, err
		}
	case cur.typ == tokString || cur.typ == tokInt || cur.typ == tokFloat ||
		(cur.typ == tokOp && (cur.val == "[" || cur.val == "{")) ||
		(cur.typ == tokName && cur.val != "else" && cur.val != "or" && cur.val != "and"):
		if cur.typ == tokName && cur.val == "is" {
			break
		}
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		t.args = []expr{arg}
	}
	if negated {
		return &unaryExpr{pos{line}, "not", t}, nil
	}
	return t, nil
}
