package hfconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// object is a decoded JSON object whose values are decoded lazily with typed accessors that
// treat an absent key and a JSON null the same way (transformers does too) and report a wrong
// type as a ConfigError naming the key.
type object struct {
	prefix string
	m      map[string]json.RawMessage
}

func parseObject(prefix string, data []byte) (object, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		if prefix == "" {
			return object{}, fmt.Errorf("config.json: want a JSON object: %w", err)
		}
		return object{}, fieldErr(prefix, "want a JSON object: %v", err)
	}
	if dec.More() {
		return object{}, fmt.Errorf("config.json: unexpected data after the JSON object")
	}
	return object{prefix: prefix, m: m}, nil
}

func (o object) name(key string) string {
	if o.prefix == "" {
		return key
	}
	return o.prefix + "." + key
}

// raw returns the value of key, or nil when it is absent or null.
func (o object) raw(key string) json.RawMessage {
	v, ok := o.m[key]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	return v
}

func (o object) has(key string) bool { return o.raw(key) != nil }

// number returns a float64 value, ok=false when absent.
func (o object) number(key string) (float64, bool, error) {
	v := o.raw(key)
	if v == nil {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, false, fieldErr(o.name(key), "want a number, found %s", truncate(v))
	}
	return f, true, nil
}

// integer returns an integral value, ok=false when absent. 4096.0 counts as an integer.
func (o object) integer(key string) (int, bool, error) {
	f, ok, err := o.number(key)
	if err != nil || !ok {
		return 0, ok, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false, fieldErr(o.name(key), "want an integer, found %s", truncate(o.raw(key)))
	}
	return int(f), true, nil
}

func (o object) boolean(key string, def bool) (bool, error) {
	v := o.raw(key)
	if v == nil {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, fieldErr(o.name(key), "want true or false, found %s", truncate(v))
	}
	return b, nil
}

func (o object) str(key string) (string, bool, error) {
	v := o.raw(key)
	if v == nil {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, fieldErr(o.name(key), "want a string, found %s", truncate(v))
	}
	return s, true, nil
}

func (o object) object(key string) (object, bool, error) {
	v := o.raw(key)
	if v == nil {
		return object{}, false, nil
	}
	sub, err := parseObject(o.name(key), v)
	if err != nil {
		return object{}, false, err
	}
	return sub, true, nil
}

// objectIfPresent is object() on a possibly empty receiver.
func (o object) objectIfPresent(key string) (object, bool, error) {
	if o.m == nil {
		return object{}, false, nil
	}
	return o.object(key)
}

// sameJSON reports whether two objects hold the same keys with byte-identical values after
// compaction.
func sameJSON(a, b object) bool {
	if len(a.m) != len(b.m) {
		return false
	}
	for k, va := range a.m {
		vb, ok := b.m[k]
		if !ok {
			return false
		}
		var ca, cb bytes.Buffer
		if json.Compact(&ca, va) != nil || json.Compact(&cb, vb) != nil || ca.String() != cb.String() {
			return false
		}
	}
	return true
}

// intList accepts an integer or a list of integers (eos_token_id's two forms).
func (o object) intList(key string) ([]int, error) {
	v := o.raw(key)
	if v == nil {
		return nil, nil
	}
	var one float64
	if err := json.Unmarshal(v, &one); err == nil {
		if one != math.Trunc(one) {
			return nil, fieldErr(o.name(key), "want an integer or a list of integers, found %s", truncate(v))
		}
		return []int{int(one)}, nil
	}
	var list []float64
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fieldErr(o.name(key), "want an integer or a list of integers, found %s", truncate(v))
	}
	out := make([]int, len(list))
	for i, f := range list {
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fieldErr(o.name(key), "want an integer or a list of integers, found %s", truncate(v))
		}
		out[i] = int(f)
	}
	return out, nil
}

func (o object) strings(key string) ([]string, bool, error) {
	v := o.raw(key)
	if v == nil {
		return nil, false, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, false, fieldErr(o.name(key), "want a list of strings, found %s", truncate(v))
	}
	return list, true, nil
}

func truncate(v json.RawMessage) string {
	s := string(bytes.TrimSpace(v))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
