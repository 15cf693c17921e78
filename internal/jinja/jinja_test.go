package jinja

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var chatOpts = &Options{TrimBlocks: true, LstripBlocks: true}

func TestSyntaxErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unclosed for", "a\n{% for x in y %}\n{{ x }}", 3, "'endfor' or 'else'"},
		{"unclosed if", "{% if x %}\n\n", 2, "'elif' or 'else' or 'endif'"},
		{"unknown tag", "line1\n{% frobnicate %}", 2, "unknown tag 'frobnicate'"},
		{"stray end", "a\nb\n{% endif %}", 3, "unexpected 'endif'"},
		{"bad expression", "{{ 1 + }}", 1, "unexpected '}}'"},
		{"unclosed variable", "x\n{{ 1 + 2", 2, "missing end of variable tag"},
		{"unclosed comment", "{# never", 1, "missing end of comment tag"},
		{"unclosed string", "{{ 'abc }}", 1, "unexpected end of string"},
		{"unknown filter", "\n\n{{ x|nosuchfilter }}", 3, "No filter named 'nosuchfilter'."},
		{"unknown test", "{{ x is nosuchtest }}", 1, "No test named 'nosuchtest'."},
		{"unknown filter in loop", "{% if x %}{% for a in b %}{{ a|nope }}{% endfor %}{% endif %}", 1, "No filter named 'nope'."},
		{"bad char", "{{ a $ b }}", 1, "unexpected char '$'"},
		{"unbalanced bracket", "{{ (1 ] }}", 1, "unexpected ']'"},
		{"include unsupported", "{% include 'x' %}", 1, "no template loader"},
		{"non-default after default", "{% macro m(a=1, b) %}{% endmacro %}", 1, "non-default argument 'b'"},
		{"too deep", "{{ " + strings.Repeat("(", 400) + "1" + strings.Repeat(")", 400) + " }}", 1, "nested deeper"},
		{"too deep blocks", strings.Repeat("{% if x %}", 400), 1, "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("{{ '' }}"+tt.src, chatOpts)
			require.Error(t, err)
			var je *Error
			require.True(t, errors.As(err, &je), "%T", err)
			require.Equal(t, tt.line, je.Line, err.Error())
			require.Contains(t, je.Msg, tt.msg)
		})
	}
}

func TestRuntimeErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"undefined attribute", "a\n{{ nothing.attr }}", 2, "'nothing' is undefined"},
		{"missing key of missing", "{{ d.a.b }}", 1, "'dict object' has no attribute 'a'"},
		{"add str int", "{{ 'a' + 1 }}", 1, `can only concatenate str (not "int") to str`},
		{"unknown filter inside if", "{% if true %}\n{{ 1|nope }}{% endif %}", 2, "No filter named 'nope' found."},
		{"not callable", "{{ 'a'() }}", 1, "'str' object is not callable"},
		{"unsafe", "{{ [].append(1) }}", 1, "unsafe"},
		{"division", "{{ 1 // 0 }}", 1, "division or modulo by zero"},
		{"range", "{{ range(10**9) }}", 1, "Range too big"},
		{"tojson undefined", "{{ nothing|tojson }}", 1, "not JSON serializable"},
		{"unhashable key", "{{ {[1]: 2} }}", 1, "unhashable type: 'list'"},
		{"break outside loop", "{% break %}", 0, "outside of a loop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.src, chatOpts)
			require.NoError(t, err)
			_, err = tmpl.Render(map[string]any{"d": map[string]any{}})
			require.Error(t, err)
			var je *Error
			require.True(t, errors.As(err, &je), "%T %v", err, err)
			require.Equal(t, tt.line, je.Line, err.Error())
			require.Contains(t, je.Msg, tt.msg)
		})
	}
}

func TestFunctionErrorsPassUnchanged(t *testing.T) {
	sentinel := errors.New("custom failure")
	tmpl, err := Parse("a{{ fail() }}", nil)
	require.NoError(t, err)
	_, err = tmpl.Render(map[string]any{"fail": &Function{Name: "fail", Fn: func([]any, *Dict) (any, error) { return nil, sentinel }}})
	require.Same(t, sentinel, err)
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name, src string
		opts      Options
		msg       string
	}{
		{"steps", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", Options{MaxSteps: 100000}, "steps"},
		{"output", "{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", Options{MaxOutputBytes: 1000}, "output larger than 1000 bytes"},
		{"string doubling", "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", Options{MaxOutputBytes: 1 << 20}, "output larger"},
		{"string repeat", "{{ 'abc' * 1000000000 }}", Options{MaxOutputBytes: 1 << 20}, "output larger"},
		{"list doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", Options{MaxOutputBytes: 1 << 20}, "output larger"},
		{"macro recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", Options{MaxDepth: 50}, "nested deeper than 50"},
		{"recursive loop", "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", Options{MaxDepth: 50}, "deeper than 50"},
		{"repr of shared string", "{% set s = 'x' * 100000 %}{{ [s] * 1000 }}", Options{MaxOutputBytes: 1 << 20}, "output larger"},
		{"indent", "{{ ('\\n' * 100000)|indent(60000) }}", Options{MaxOutputBytes: 1 << 20}, "output larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.src, &tt.opts)
			require.NoError(t, err)
			_, err = tmpl.Render(nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestFormatFloatIsPythonRepr(t *testing.T) {
	tests := map[float64]string{
		1: "1.0", 0.1: "0.1", 1.5: "1.5", 1e16: "1e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001",
		0.00001: "1e-05", 1.5e-7: "1.5e-07", 123456789.125: "123456789.125", -2.5: "-2.5", 1e300: "1e+300",
		0.30000000000000004: "0.30000000000000004", 2.5e16: "2.5e+16",
	}
	for f, want := range tests {
		require.Equal(t, want, formatFloat(f), "%v", f)
	}
}

func TestPythonStringHelpers(t *testing.T) {
	require.Equal(t, `'a\nb'`, pyStringRepr("a\nb"))
	require.Equal(t, `"it's"`, pyStringRepr("it's"))
	require.Equal(t, `'both\'"'`, pyStringRepr(`both'"`))
	require.Equal(t, `'\x01é'`, pyStringRepr("\x01é"))
	require.Equal(t, []string{"a", "b", "", "c"}, pySplitlines("a\nb\r\n\rc", false))
	require.Equal(t, []string{"a\n", "b"}, pySplitlines("a\nb", true))
	require.Equal(t, []string{"a", "b c"}, splitSpace("  a b c", 1, false))
	require.Equal(t, []string{"a b", "c"}, splitSpace("a b c  ", 1, true))
	require.Equal(t, []string{"a b", "c"}, splitSep("a b c", " ", 1, true))
}

func TestDecodeJSONKeepsKeyOrder(t *testing.T) {
	v, err := DecodeJSON([]byte(`{"z": 1, "a": [1.0, 2, "x", null, true], "m": {"b": 1, "a": 2}}`))
	require.NoError(t, err)
	tmpl, err := Parse("{{ v|tojson }}|{{ v }}", nil)
	require.NoError(t, err)
	out, err := tmpl.Render(map[string]any{"v": v})
	require.NoError(t, err)
	require.Equal(t, `{"z": 1, "a": [1.0, 2, "x", null, true], "m": {"b": 1, "a": 2}}|{'z': 1, 'a': [1.0, 2, 'x', None, True], 'm': {'b': 1, 'a': 2}}`, out)

	_, err = DecodeJSON([]byte(`{"a": 1} 2`))
	require.Error(t, err)
	_, err = DecodeJSON([]byte(`{"a": `))
	require.Error(t, err)
}

func TestFromGo(t *testing.T) {
	type custom struct{ A int }
	tests := []struct {
		name string
		in   any
		want string
		err  bool
	}{
		{"map sorted", map[string]any{"b": 1, "a": int32(2)}, "{'a': 2, 'b': 1}", false},
		{"typed slice", []string{"x", "y"}, "['x', 'y']", false},
		{"raw json", json.RawMessage(`{"k": [1, 2.5]}`), "{'k': [1, 2.5]}", false},
		{"json number", json.Number("3"), "3", false},
		{"nil slice", []int(nil), "None", false},
		{"struct", custom{1}, "", true},
		{"int-keyed map", map[int]string{1: "a"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := FromGo(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, repr(v))
		})
	}
}

func TestConcurrentRender(t *testing.T) {
	tmpl, err := Parse("{% set ns = namespace(n=0) %}{% for m in msgs %}{% set ns.n = ns.n + m %}{% endfor %}{{ ns.n }}", chatOpts)
	require.NoError(t, err)
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			out, err := tmpl.Render(map[string]any{"msgs": []any{1, 2, 3}})
			if err != nil {
				out = err.Error()
			}
			done <- out
		}()
	}
	for i := 0; i < 8; i++ {
		require.Equal(t, "6", <-done)
	}
}

// FuzzRender checks that parsing and rendering any template returns a result or an error: no
// panic, no hang (the step limit), no unbounded allocation (the output limit).
func FuzzRender(f *testing.F) {
	seeds := []string{
		"{% for m in messages %}{{ m.role|upper }}: {{ m.content|trim }}\n{% endfor %}",
		"{%- if x is defined -%}{{ x[::-1] }}{%- else -%}{{ raise('no') }}{%- endif %}",
		"{% set ns = namespace(a=[]) %}{% for i in range(3) %}{% set ns.a = ns.a + [i] %}{% endfor %}{{ ns.a|tojson(indent=2) }}",
		"{% macro m(a, b=2) %}{{ a ~ b }}{{ caller() if caller is defined }}{% endmacro %}{% call m(1) %}x{% endcall %}",
		"{{ '%s-%05.1f'|format('a', 2.25) }}{{ '{:>4}'.format(1) }}{{ 'a b'.split()|join(',') }}",
		"{% raw %}{{ not parsed }}{% endraw %}{# c #}{{ d.items()|list }}{{ d|dictsort }}",
		"{% for x in tree recursive %}{{ x.n }}{{ loop(x.c) if x.c }}{% endfor %}",
		"{{ 1 if a else 2 }}{{ a and b or c }}{{ not a in b }}{{ a is divisibleby 3 }}",
		"{% filter upper %}{% with a = 1 %}{{ a }}{% endwith %}{% endfilter %}{% set b %}x{% endset %}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	vars := map[string]any{
		"messages": []any{map[string]any{"role": "user", "content": " hi "}, map[string]any{"role": "assistant", "content": "yo"}},
		"x":        "abc",
		"d":        map[string]any{"a": 1, "b": []any{1, 2}},
		"tree":     []any{map[string]any{"n": 1, "c": []any{map[string]any{"n": 2}}}},
		"a":        int64(3),
		"raise":    &Function{Name: "raise", Fn: func(args []any, _ *Dict) (any, error) { return nil, errors.New("raised") }},
	}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src, &Options{TrimBlocks: true, LstripBlocks: true, MaxSteps: 50000, MaxOutputBytes: 1 << 16, MaxDepth: 30})
		if err != nil {
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("parse error of type %T: %v", err, err)
			}
			return
		}
		out, err := tmpl.Render(vars)
		if err == nil && len(out) > 1<<16 {
			t.Fatalf("output of %d bytes passed the limit", len(out))
		}
	})
}

func TestHandComputed(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		// transformers' {% generation %} only marks assistant text; it renders its body.
		{"generation tag", "{% for m in ['a', 'b'] %}{% generation %}[{{ m }}]{% endgeneration %}{% endfor %}", "[a][b]"},
		{"block renders in place", "{% block x %}B{% endblock x %}", "B"},
		{"autoescape ignored", "{% autoescape false %}<{{ '<' }}>{% endautoescape %}", "<<>"},
		{"keep one trailing newline off", "x\n", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.src, chatOpts)
			require.NoError(t, err)
			got, err := tmpl.Render(nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
