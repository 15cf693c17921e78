package jinja

// Parse-time checks of filter and test names, as Jinja2 makes at compile time.

import "fmt"

// checkNames rejects unknown filters and tests at parse time, as Jinja2 does at compile time.
// Like Jinja2, it lets them pass inside if statements and inline if expressions (where they may
// be guarded by `is filter` tests); there they fail when evaluated.
func checkNames(body []stmt) error {
	var err error
	var checkExpr func(e expr, soft bool)
	checkExpr = func(e expr, soft bool) {
		if e == nil || err != nil {
			return
		}
		switch n := e.(type) {
		case *filterExpr:
			if filters[n.name] == nil && !soft {
				err = &Error{Line: n.line, Msg: fmt.Sprintf("No filter named '%s'.", n.name)}
			}
		case *testExpr:
			if tests[n.name] == nil && !soft {
				err = &Error{Line: n.line, Msg: fmt.Sprintf("No test named '%s'.", n.name)}
			}
		case *condExpr:
			soft = true
		}
		eachChild(e, func(c expr) { checkExpr(c, soft) })
	}
	var checkBody func(body []stmt, soft bool)
	checkBody = func(body []stmt, soft bool) {
		for _, s := range body {
			if err != nil {
				return
			}
			switch n := s.(type) {
			case *ifStmt:
				for i := range n.tests {
					checkExpr(n.tests[i], true)
					checkBody(n.bodies[i], true)
				}
				checkBody(n.els, true)
			case *forStmt, *macroStmt, *callBlockStmt, *withStmt:
				walkStmt(s, func(e expr) { checkExpr(e, false) }, func(b []stmt) { checkBody(b, false) })
			default:
				walkStmt(s, func(e expr) { checkExpr(e, soft) }, func(b []stmt) { checkBody(b, soft) })
			}
		}
	}
	checkBody(body, false)
	return err
}

// eachChild calls f on the direct subexpressions of e.
func eachChild(e expr, f func(expr)) {
	args := func(a *callArgs) {
		for _, x := range a.args {
			f(x)
		}
		for _, x := range a.kwVals {
			f(x)
		}
		if a.dynArgs != nil {
			f(a.dynArgs)
		}
		if a.dynKwargs != nil {
			f(a.dynKwargs)
		}
	}
	opt := func(x expr) {
		if x != nil {
			f(x)
		}
	}
	switch n := e.(type) {
	case *listExpr:
		for _, x := range n.items {
			f(x)
		}
	case *tupleExpr:
		for _, x := range n.items {
			f(x)
		}
	case *dictExpr:
		for i := range n.keys {
			f(n.keys[i])
			f(n.vals[i])
		}
	case *getAttrExpr:
		f(n.obj)
	case *getItemExpr:
		f(n.obj)
		f(n.key)
	case *sliceExpr:
		opt(n.start)
		opt(n.stop)
		opt(n.step)
	case *callExpr:
		f(n.fn)
		args(&n.callArgs)
	case *filterExpr:
		opt(n.arg)
		args(&n.callArgs)
	case *testExpr:
		f(n.arg)
		args(&n.callArgs)
	case *binaryExpr:
		f(n.left)
		f(n.right)
	case *unaryExpr:
		f(n.x)
	case *compareExpr:
		f(n.first)
		for _, x := range n.operands {
			f(x)
		}
	case *condExpr:
		f(n.test)
		f(n.then)
		opt(n.els)
	}
}

// walkStmt calls fe on the expressions of s and fb on its bodies.
func walkStmt(s stmt, fe func(expr), fb func([]stmt)) {
	opt := func(x expr) {
		if x != nil {
			fe(x)
		}
	}
	switch n := s.(type) {
	case *outputStmt:
		fe(n.x)
	case *ifStmt:
		for i := range n.tests {
			fe(n.tests[i])
			fb(n.bodies[i])
		}
		fb(n.els)
	case *forStmt:
		fe(n.iter)
		opt(n.filter)
		fb(n.body)
		fb(n.els)
	case *setStmt:
		fe(n.value)
	case *setBlockStmt:
		for _, f := range n.filters {
			fe(f)
		}
		fb(n.body)
	case *macroStmt:
		for _, d := range n.defaults {
			fe(d)
		}
		fb(n.body)
	case *callBlockStmt:
		fe(n.call)
		for _, d := range n.defaults {
			fe(d)
		}
		fb(n.body)
	case *filterBlockStmt:
		for _, f := range n.filters {
			fe(f)
		}
		fb(n.body)
	case *withStmt:
		for _, v := range n.values {
			fe(v)
		}
		fb(n.body)
	case *scopeStmt:
		fb(n.body)
	}
}
