package jinja

// The syntax tree. Nodes are immutable after parsing, so one parsed template can be rendered
// from many goroutines.

type expr interface{ exprLine() int }

type pos struct{ line int }

func (p pos) exprLine() int { return p.line }

type (
	constExpr struct {
		pos
		val any
	}
	nameExpr struct {
		pos
		name string
	}
	listExpr struct {
		pos
		items []expr
	}
	tupleExpr struct {
		pos
		items []expr
	}
	dictExpr struct {
		pos
		keys, vals []expr
	}
	getAttrExpr struct {
		pos
		obj  expr
		attr string
	}
	getItemExpr struct {
		pos
		obj, key expr
	}
	sliceExpr struct {
		pos
		start, stop, step expr // nil when omitted
	}
	callArgs struct {
		args      []expr
		kwNames   []string
		kwVals    []expr
		dynArgs   expr
		dynKwargs expr
	}
	callExpr struct {
		pos
		fn expr
		callArgs
	}
	filterExpr struct {
		pos
		arg  expr // nil inside {% filter %} blocks, where the block's output is the argument
		name string
		callArgs
	}
	testExpr struct {
		pos
		arg  expr
		name string
		callArgs
	}
	binaryExpr struct {
		pos
		op          string // + - * / // % ** ~ and or
		left, right expr
	}
	unaryExpr struct {
		pos
		op string // - + not
		x  expr
	}
	compareExpr struct {
		pos
		first    expr
		ops      []string // == != < <= > >= in notin
		operands []expr
	}
	condExpr struct {
		pos
		test, then, els expr // els nil: undefined
	}
)

type stmt interface{ stmtLine() int }

func (p pos) stmtLine() int { return p.line }

type (
	textStmt struct {
		pos
		text string
	}
	outputStmt struct {
		pos
		x expr
	}
	ifStmt struct {
		pos
		tests  []expr
		bodies [][]stmt
		els    []stmt
	}
	forStmt struct {
		pos
		target    expr // nameExpr or tupleExpr of names
		iter      expr
		filter    expr
		body, els []stmt
		recursive bool
	}
	setStmt struct {
		pos
		target expr // nameExpr, tupleExpr of names, or getAttrExpr on a name (namespace)
		value  expr
	}
	setBlockStmt struct {
		pos
		target  expr
		filters []*filterExpr
		body    []stmt
	}
	macroStmt struct {
		pos
		name     string
		params   []string
		defaults []expr // aligned to the end of params
		body     []stmt
	}
	callBlockStmt struct {
		pos
		call     *callExpr
		params   []string
		defaults []expr
		body     []stmt
	}
	filterBlockStmt struct {
		pos
		filters []*filterExpr
		body    []stmt
	}
	withStmt struct {
		pos
		targets []expr
		values  []expr
		body    []stmt
	}
	scopeStmt struct { // blocks, generation, autoescape: render the body in place
		pos
		body       []stmt
		scoped     bool
		generation bool // transformers' {% generation %}: record where the body's output lands
	}
	breakStmt    struct{ pos }
	continueStmt struct{ pos }
)
