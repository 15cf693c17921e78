package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/sectorflow/sdk/internal/jinja"
)

// Message is one turn of a conversation, in the shape of OpenAI's chat API and of the dicts that
// Hugging Face chat templates read.
//
// When a Message is decoded from JSON, the values of Extra are json.RawMessage: the template
// decodes them itself so that objects keep their key order (tool call arguments printed with
// tojson come out in the order the client sent them, as in Python). Extra values may also be
// ordinary Go values (maps are then printed with their keys sorted).
type Message struct {
	Role    string
	Content any            // usually a string; may be a list of parts ([]any of map[string]any)
	Extra   map[string]any // other keys (name, reasoning_content, tool_calls, ...), visible to the template as message fields

	// keys is the key order of the JSON object the message was decoded from; nil for messages
	// built in Go (role, content, then Extra in sorted order).
	keys []string
	// rawContent is the JSON of a list content, whose objects keep their key order when the
	// template prints them; it is used while Content still holds what was decoded from it.
	rawContent json.RawMessage
}

// MarshalJSON writes the message as a JSON object: role, content, then the Extra keys.
func (m Message) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range m.keyOrder() {
		var v any
		switch k {
		case "role":
			v = m.Role
		case "content":
			v = m.Content
		default:
			v = m.Extra[k]
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("marshal message field %q: %w", k, err)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a message object: "role" must be a string; "content" becomes a string, nil
// or a list of parts ([]any), or a json.RawMessage for other JSON values (such as a tool result
// object); other keys go to Extra as json.RawMessage.
func (m *Message) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("decode message: want a JSON object, found %s", chatAbbrev(data))
	}
	*m = Message{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decode message: %w", err)
		}
		k, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("decode message field %q: %w", k, err)
		}
		if chatHasKey(m.keys, k) {
			return fmt.Errorf("decode message: duplicate key %q", k)
		}
		m.keys = append(m.keys, k)
		switch k {
		case "role":
			if err := json.Unmarshal(raw, &m.Role); err != nil {
				return fmt.Errorf("decode message: role: want a string, found %s", chatAbbrev(raw))
			}
		case "content":
			var c any
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("decode message: content: %w", err)
			}
			switch c.(type) {
			case []any:
				m.Content = c
				m.rawContent = append(json.RawMessage(nil), raw...)
			case nil, string:
				m.Content = c
			default:
				// Objects (such as a tool result) and other values stay raw, keeping key order.
				m.Content = append(json.RawMessage(nil), raw...)
			}
		default:
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[k] = append(json.RawMessage(nil), raw...)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	return nil
}

func chatHasKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func chatAbbrev(b []byte) string {
	s := string(b)
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// keyOrder lists the fields the template sees, in order.
func (m Message) keyOrder() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range m.keys {
		switch k {
		case "role", "content":
		default:
			if _, ok := m.Extra[k]; !ok {
				continue
			}
		}
		out = append(out, k)
		seen[k] = true
	}
	if m.keys == nil {
		out = append(out, "role", "content")
		seen["role"], seen["content"] = true, true
	}
	var rest []string
	for k := range m.Extra {
		if !seen[k] && k != "role" && k != "content" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// templateValue converts the message into the dict the template iterates over.
func (m Message) templateValue() (*jinja.Dict, error) {
	d := jinja.NewDict()
	for _, k := range m.keyOrder() {
		var v any
		switch k {
		case "role":
			v = m.Role
		case "content":
			v = m.Content
			if m.rawContent != nil && m.contentUnchanged() {
				v = m.rawContent
			}
		default:
			v = m.Extra[k]
		}
		c, err := jinja.FromGo(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		d.Set(k, c)
	}
	return d, nil
}

// contentUnchanged reports whether Content still equals what rawContent decodes to.
func (m Message) contentUnchanged() bool {
	var c any
	if json.Unmarshal(m.rawContent, &c) != nil {
		return false
	}
	return reflect.DeepEqual(c, m.Content)
}
