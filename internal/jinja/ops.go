package jinja

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// binop applies a Python arithmetic operator (+ - * / // % ** ~).
func (r *renderer) binop(op string, a, b any) (any, error) {
	if op == "~" {
		s := r.str(a) + r.str(b)
		return s, r.checkLen(len(s))
	}
	if u, ok := a.(Undefined); ok {
		return nil, undefinedError(u)
	}
	if u, ok := b.(Undefined); ok {
		return nil, undefinedError(u)
	}
	ai, aInt := asInt(a)
	bi, bInt := asInt(b)
	af, aNum := asNumber(a)
	bf, bNum := asNumber(b)
	switch op {
	case "+":
		switch {
		case aInt && bInt:
			s := ai + bi
			if (ai >= 0) == (bi >= 0) && (s >= 0) != (ai >= 0) {
				return nil, fmt.Errorf("integer overflow in %d + %d", ai, bi)
			}
			return s, nil
		case aNum && bNum:
			return af + bf, nil
		}
		switch x := a.(type) {
		case string:
			if y, ok := b.(string); ok {
				if err := r.checkLen(len(x) + len(y)); err != nil {
					return nil, err
				}
				return x + y, nil
			}
			return nil, fmt.Errorf("can only concatenate str (not \"%s\") to str", typeName(b))
		case []any:
			if y, ok := b.([]any); ok {
				if err := r.checkLen(8 * (len(x) + len(y))); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, fmt.Errorf("can only concatenate list (not \"%s\") to list", typeName(b))
		case Tuple:
			if y, ok := b.(Tuple); ok {
				out := make(Tuple, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, fmt.Errorf("can only concatenate tuple (not \"%s\") to tuple", typeName(b))
		}
	case "-":
		switch {
		case aInt && bInt:
			d := ai - bi
			if (ai >= 0) != (bi >= 0) && (d >= 0) != (ai >= 0) {
				return nil, fmt.Errorf("integer overflow in %d - %d", ai, bi)
			}
			return d, nil
		case aNum && bNum:
			return af - bf, nil
		}
	case "*":
		switch {
		case aInt && bInt:
			hi, lo := bits.Mul64(uint64(absInt(ai)), uint64(absInt(bi)))
			if hi != 0 || lo > math.MaxInt64 {
				return nil, fmt.Errorf("integer overflow in %d * %d", ai, bi)
			}
			return ai * bi, nil
		case aNum && bNum:
			return af * bf, nil
		case aInt:
			return r.repeat(b, ai)
		case bInt:
			return r.repeat(a, bi)
		}
	case "/":
		if aNum && bNum {
			if bf == 0 {
				return nil, fmt.Errorf("division by zero")
			}
			return af / bf, nil
		}
	case "//":
		switch {
		case aInt && bInt:
			if bi == 0 {
				return nil, fmt.Errorf("integer division or modulo by zero")
			}
			q := ai / bi
			if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
				q--
			}
			return q, nil
		case aNum && bNum:
			if bf == 0 {
				return nil, fmt.Errorf("float floor division by zero")
			}
			return math.Floor(af / bf), nil
		}
	case "%":
		switch {
		case aInt && bInt:
			if bi == 0 {
				return nil, fmt.Errorf("integer division or modulo by zero")
			}
			m := ai % bi
			if m != 0 && (m < 0) != (bi < 0) {
				m += bi
			}
			return m, nil
		case aNum && bNum:
			if bf == 0 {
				return nil, fmt.Errorf("float modulo")
			}
			m := math.Mod(af, bf)
			if m != 0 && (m < 0) != (bf < 0) {
				m += bf
			}
			return m, nil
		}
		if s, ok := a.(string); ok {
			out, err := percentFormat(s, b)
			if err != nil {
				return nil, err
			}
			return out, r.checkLen(len(out))
		}
	case "**":
		switch {
		case aInt && bInt && bi >= 0:
			v, ok := intPow(ai, bi)
			if !ok {
				return nil, fmt.Errorf("integer overflow in %d ** %d", ai, bi)
			}
			return v, nil
		case aNum && bNum:
			return math.Pow(af, bf), nil
		}
	}
	return nil, fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

// intPow is base**exp for exp >= 0, by squaring; false on overflow.
func intPow(base, exp int64) (int64, bool) {
	result := int64(1)
	for exp > 0 {
		if exp&1 == 1 {
			r, ok := mulInt(result, base)
			if !ok {
				return 0, false
			}
			result = r
		}
		exp >>= 1
		if exp > 0 {
			b, ok := mulInt(base, base)
			if !ok {
				return 0, false
			}
			base = b
		}
	}
	return result, true
}

func mulInt(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(absInt(a)), uint64(absInt(b)))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return a * b, true
}

func absInt(i int64) int64 {
	if i < 0 {
		return -i
	}
	return i
}

// repeat is Python's sequence * int.
func (r *renderer) repeat(v any, n int64) (any, error) {
	if n < 0 {
		n = 0
	}
	switch x := v.(type) {
	case string:
		if n > 0 && int64(len(x)) > int64(r.opts.MaxOutputBytes)/n {
			return nil, r.checkLen(r.opts.MaxOutputBytes + 1)
		}
		return strings.Repeat(x, int(n)), nil
	case []any:
		if n > 0 && int64(len(x))*8 > int64(r.opts.MaxOutputBytes)/n {
			return nil, r.checkLen(r.opts.MaxOutputBytes + 1)
		}
		out := make([]any, 0, len(x)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, x...)
		}
		return out, nil
	case Tuple:
		if n > 0 && int64(len(x))*8 > int64(r.opts.MaxOutputBytes)/n {
			return nil, r.checkLen(r.opts.MaxOutputBytes + 1)
		}
		out := make(Tuple, 0, len(x)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, x...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("can't multiply sequence by non-int of type '%s'", typeName(v))
}

// percentFormat is Python's printf-style str % args.
func percentFormat(format string, arg any) (string, error) {
	var args []any
	var mapping *Dict
	switch a := arg.(type) {
	case Tuple:
		args = a
	case *Dict:
		mapping = a
		args = []any{a}
	default:
		args = []any{a}
	}
	next := 0
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return "", fmt.Errorf("incomplete format")
		}
		var val any
		haveVal := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 {
				return "", fmt.Errorf("incomplete format key")
			}
			key := format[i+1 : i+end]
			i += end + 1
			if mapping == nil {
				return "", fmt.Errorf("format requires a mapping")
			}
			v, ok := mapping.Get(key)
			if !ok {
				return "", fmt.Errorf("KeyError: %s", pyStringRepr(key))
			}
			val, haveVal = v, true
		}
		spec := fmtSpec{precision: -1}
		for ; i < len(format) && strings.IndexByte("-+ 0#", format[i]) >= 0; i++ {
			switch format[i] {
			case '-':
				spec.left = true
			case '+':
				spec.plus = true
			case ' ':
				spec.space = true
			case '0':
				spec.zero = true
			case '#':
				spec.alt = true
			}
		}
		for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
			spec.width = spec.width*10 + int(format[i]-'0')
			if spec.width > 1<<20 {
				return "", fmt.Errorf("width too big")
			}
		}
		if i < len(format) && format[i] == '.' {
			spec.precision = 0
			for i++; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
				spec.precision = spec.precision*10 + int(format[i]-'0')
				if spec.precision > 1<<10 {
					return "", fmt.Errorf("precision too big")
				}
			}
		}
		if i >= len(format) {
			return "", fmt.Errorf("incomplete format")
		}
		conv := format[i]
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveVal {
			if next >= len(args) {
				return "", fmt.Errorf("not enough arguments for format string")
			}
			val = args[next]
			next++
		}
		s, err := formatOne(conv, val, spec)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		if b.Len() > maxOutputLimit {
			return "", fmt.Errorf("output larger than %d bytes", maxOutputLimit)
		}
	}
	if mapping == nil && next < len(args) {
		return "", fmt.Errorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

type fmtSpec struct {
	left, plus, space, zero, alt bool
	width, precision             int
}

func formatOne(conv byte, val any, spec fmtSpec) (string, error) {
	var body string
	numeric := false
	switch conv {
	case 's':
		body = toString(val)
		if spec.precision >= 0 && utf8.RuneCountInString(body) > spec.precision {
			body = string([]rune(body)[:spec.precision])
		}
	case 'r', 'a':
		body = repr(val)
	case 'd', 'i', 'u':
		numeric = true
		if i, ok := asInt(val); ok {
			body = strconv.FormatInt(i, 10)
		} else if f, ok := val.(float64); ok {
			body = strconv.FormatFloat(math.Trunc(f), 'f', 0, 64)
		} else {
			return "", fmt.Errorf("%%%c format: a real number is required, not %s", conv, typeName(val))
		}
	case 'f', 'F', 'e', 'E', 'g', 'G':
		numeric = true
		f, ok := asNumber(val)
		if !ok {
			return "", fmt.Errorf("must be real number, not %s", typeName(val))
		}
		p := spec.precision
		if p < 0 {
			p = 6
		}
		switch conv {
		case 'f', 'F':
			body = strconv.FormatFloat(f, 'f', p, 64)
		case 'e', 'E':
			body = strconv.FormatFloat(f, 'e', p, 64)
			if len(body) >= 2 && (body[len(body)-2] == '+' || body[len(body)-2] == '-') {
				body = body[:len(body)-1] + "0" + body[len(body)-1:]
			}
		default:
			if p == 0 {
				p = 1
			}
			body = strconv.FormatFloat(f, 'g', p, 64)
		}
		if conv == 'E' || conv == 'G' || conv == 'F' {
			body = strings.ToUpper(body)
		}
	case 'x', 'X', 'o':
		numeric = true
		i, ok := asInt(val)
		if !ok {
			return "", fmt.Errorf("%%%c format: an integer is required, not %s", conv, typeName(val))
		}
		base := 16
		if conv == 'o' {
			base = 8
		}
		body = strconv.FormatInt(i, base)
		if conv == 'X' {
			body = strings.ToUpper(body)
		}
	case 'c':
		if i, ok := asInt(val); ok {
			body = string(rune(i))
		} else {
			body = toString(val)
		}
	default:
		return "", fmt.Errorf("unsupported format character '%c'", conv)
	}
	if numeric && !strings.HasPrefix(body, "-") {
		if spec.plus {
			body = "+" + body
		} else if spec.space {
			body = " " + body
		}
	}
	n := utf8.RuneCountInString(body)
	if n < spec.width {
		pad := spec.width - n
		switch {
		case spec.left:
			body += strings.Repeat(" ", pad)
		case spec.zero && numeric:
			sign := ""
			if strings.HasPrefix(body, "-") || strings.HasPrefix(body, "+") || strings.HasPrefix(body, " ") {
				sign, body = body[:1], body[1:]
			}
			body = sign + strings.Repeat("0", pad) + body
		default:
			body = strings.Repeat(" ", pad) + body
		}
	}
	return body, nil
}
