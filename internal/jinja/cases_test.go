package jinja

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// raisedError is what the test's raise_exception returns, as transformers' does.
type raisedError struct{ msg string }

func (e *raisedError) Error() string { return e.msg }

func chatEnvVars() map[string]any {
	return map[string]any{
		"raise_exception": &Function{Name: "raise_exception", Fn: func(args []any, _ *Dict) (any, error) {
			return nil, &raisedError{Str(args[0])}
		}},
	}
}

type jinjaCase struct {
	Name      string          `json:"name"`
	Template  string          `json:"template"`
	Vars      json.RawMessage `json:"vars"`
	Rendered  *string         `json:"rendered"`
	Error     string          `json:"error"`
	ErrorKind string          `json:"error_kind"`
	ErrorLine int             `json:"error_line"`
}

// TestPythonJinjaCases compares with testdata/cases.jsonl, rendered by Python Jinja2 3.1.6 in
// transformers' environment (testdata/gen_cases.py).
func TestPythonJinjaCases(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "cases.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		var c jinjaCase
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		n++
		t.Run(c.Name, func(t *testing.T) {
			vars := chatEnvVars()
			v, err := DecodeJSON(c.Vars)
			require.NoError(t, err)
			d := v.(*Dict)
			for i, k := range d.Keys() {
				vars[k.(string)] = d.Value(i)
			}
			tmpl, perr := Parse(c.Template, &Options{TrimBlocks: true, LstripBlocks: true})
			if c.ErrorKind == "syntax" {
				require.Error(t, perr, c.Template)
				var je *Error
				require.True(t, errors.As(perr, &je))
				require.Equal(t, c.ErrorLine, je.Line, perr.Error())
				return
			}
			if perr != nil && c.ErrorKind == "TemplateAssertionError" {
				return
			}
			require.NoError(t, perr, c.Template)
			got, err := tmpl.Render(vars)
			if c.Rendered != nil {
				require.NoError(t, err, c.Template)
				require.Equal(t, *c.Rendered, got, c.Template)
				return
			}
			require.Error(t, err, "%s: want error %q, rendered %q", c.Template, c.Error, got)
			if c.ErrorKind == "TemplateError" {
				var re *raisedError
				require.True(t, errors.As(err, &re), err.Error())
				require.Equal(t, c.Error, err.Error())
				return
			}
			var je *Error
			require.True(t, errors.As(err, &je))
			require.Equal(t, c.Error, je.Msg)
		})
	}
	require.NoError(t, sc.Err())
	require.Greater(t, n, 100)
}
