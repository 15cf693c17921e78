package jinja

// The public entry points: Parse, Template, Options and Error.

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a template syntax or runtime error, with the template line it happened on.
type Error struct {
	Line int
	Msg  string
}

// Error prefixes the message with its line when known.
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

// pyErrorf builds an error whose text is Python's or Jinja2's own message, verbatim (capital
// letter and final period included), so that errors read as they do in transformers.
func pyErrorf(format string, args ...any) error { return &pyError{fmt.Sprintf(format, args...)} }

type pyError struct{ msg string }

func (e *pyError) Error() string { return e.msg }
