package tuning

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Shape is the layout of one dataset line.
type Shape int

const (
	// ShapeChat is OpenAI's fine-tuning format: {"messages": [{"role", "content"}, ...]}.
	ShapeChat Shape = iota + 1
	// ShapePromptCompletion is {"prompt": "...", "completion": "..."}.
	ShapePromptCompletion
	// ShapeText is {"text": "..."}: plain language modelling on every token.
	ShapeText
)

// String returns the shape's name as used in error messages.
func (s Shape) String() string {
	switch s {
	case ShapeChat:
		return "chat"
	case ShapePromptCompletion:
		return "prompt/completion"
	case ShapeText:
		return "text"
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// Message is one turn of a chat example.
type Message struct {
	// Role is "system", "user", "assistant" or "tool".
	Role string
	// Content is the turn's text (OpenAI's array of text parts is joined).
	Content string
	// Weight is 1 when the turn is trained on (assistant turns only) and 0 when it is not. An
	// assistant turn without "weight" in the JSON has weight 1.
	Weight int
}

// Example is one parsed, valid dataset line.
type Example struct {
	// Line is the 1-based line number in the JSONL file.
	Line int
	// Shape says which of the fields below are set.
	Shape Shape
	// Messages is set for ShapeChat.
	Messages []Message
	// Prompt and Completion are set for ShapePromptCompletion.
	Prompt, Completion string
	// Text is set for ShapeText.
	Text string
}

// LineError is the reason one dataset line was rejected.
type LineError struct {
	// Line is the 1-based line number.
	Line int
	// Reason says what was expected and what was found.
	Reason string
}

// Error implements error.
func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// DatasetError lists every rejected line of a dataset; errors.Is(err, ErrInvalidDataset) holds.
type DatasetError struct {
	// Source names the dataset (usually its path).
	Source string
	// Lines holds one entry per bad line, in line order.
	Lines []LineError
}

// ErrInvalidDataset is the sentinel matched by every *DatasetError.
var ErrInvalidDataset = errors.New("invalid dataset")

// maxListedErrors caps how many line errors Error() spells out; all remain in Lines.
const maxListedErrors = 20

// Error implements error; it lists the first bad lines and says how many there are.
func (e *DatasetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dataset %s: %d bad line(s)", e.Source, len(e.Lines))
	for i, l := range e.Lines {
		if i == maxListedErrors {
			fmt.Fprintf(&b, "; and %d more", len(e.Lines)-maxListedErrors)
			break
		}
		b.WriteString("; ")
		b.WriteString(l.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidDataset.
func (e *DatasetError) Is(target error) bool { return target == ErrInvalidDataset }

// DefaultMaxLineBytes is the longest dataset line accepted when ParseOptions.MaxLineBytes is 0.
const DefaultMaxLineBytes = 16 << 20

// ParseOptions tunes ParseJSONL; nil means the documented defaults.
type ParseOptions struct {
	// MaxLineBytes rejects longer lines without holding them in memory (0: DefaultMaxLineBytes).
	MaxLineBytes int
}

// validRoles are the roles of OpenAI's chat fine-tuning format.
var validRoles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// ParseJSONL reads a JSONL dataset and returns its valid examples. Every bad line is reported in
// a *DatasetError (with its number and reason) alongside the examples that did parse; an I/O
// error is returned as such. Blank lines are skipped. Lengths are checked later, by Prepare,
// because they depend on the tokenizer.
func ParseJSONL(r io.Reader, source string, opts *ParseOptions) ([]Example, error) {
	maxLine := DefaultMaxLineBytes
	if opts != nil && opts.MaxLineBytes > 0 {
		maxLine = opts.MaxLineBytes
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		examples []Example
		bad      []LineError
		buf      []byte
	)
	for lineNo := 1; ; lineNo++ {
		buf = buf[:0]
		tooLong := false
		var readErr error
		for {
			chunk, err := br.ReadSlice('\n')
			if !tooLong {
				if len(buf)+len(chunk) > maxLine+1 { // +1: the newline itself
					tooLong = true
					buf = buf[:0]
				} else {
					buf = append(buf, chunk...)
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			readErr = err
			break
		}
		if readErr != nil && readErr != io.EOF {
			return nil, fmt.Errorf("read dataset %s at line %d: %w", source, lineNo, readErr)
		}
		if tooLong {
			bad = append(bad, LineError{lineNo, fmt.Sprintf("line is longer than the limit of %d bytes", maxLine)})
		} else if line := bytes.TrimSpace(trimBOM(buf, lineNo)); len(line) > 0 {
			ex, reason := parseLine(line)
			if reason != "" {
				bad = append(bad, LineError{lineNo, reason})
			} else {
				ex.Line = lineNo
				examples = append(examples, ex)
			}
		}
		if readErr == io.EOF {
			break
		}
	}
	if len(bad) > 0 {
		return examples, &DatasetError{Source: source, Lines: bad}
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("dataset %s: expected at least one example, found none: %w", source, ErrInvalidDataset)
	}
	return examples, nil
}

// ParseFile opens path and calls ParseJSONL on it.
func ParseFile(path string, opts *ParseOptions) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	defer f.Close()
	return ParseJSONL(f, path, opts)
}

// parseLine decodes one non-blank line; a non-empty reason means the line is bad.
func parseLine(line []byte) (Example, string) {
	if !utf8.Valid(line) {
		return Example{}, "not valid UTF-8"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var probe any
		if json.Unmarshal(line, &probe) == nil {
			return Example{}, fmt.Sprintf("expected a JSON object, found %s", jsonKind(probe))
		}
		return Example{}, "not JSON: " + err.Error()
	}
	if raw, ok := obj["messages"]; ok {
		return parseChat(raw)
	}
	_, hasP := obj["prompt"]
	_, hasC := obj["completion"]
	if hasP || hasC {
		if !hasP || !hasC {
			return Example{}, `expected both "prompt" and "completion", found only one`
		}
		var ex Example
		ex.Shape = ShapePromptCompletion
		if err := json.Unmarshal(obj["prompt"], &ex.Prompt); err != nil {
			return Example{}, `"prompt" must be a string`
		}
		if err := json.Unmarshal(obj["completion"], &ex.Completion); err != nil {
			return Example{}, `"completion" must be a string`
		}
		if ex.Completion == "" {
			return Example{}, `"completion" is empty`
		}
		return ex, ""
	}
	if raw, ok := obj["text"]; ok {
		ex := Example{Shape: ShapeText}
		if err := json.Unmarshal(raw, &ex.Text); err != nil {
			return Example{}, `"text" must be a string`
		}
		if ex.Text == "" {
			return Example{}, `"text" is empty`
		}
		return ex, ""
	}
	return Example{}, `expected "messages", "prompt"+"completion" or "text", found none of them`
}

func parseChat(raw json.RawMessage) (Example, string) {
	var msgs []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return Example{}, `"messages" must be an array of objects`
	}
	if len(msgs) == 0 {
		return Example{}, "empty conversation: \"messages\" has no turns"
	}
	ex := Example{Shape: ShapeChat, Messages: make([]Message, 0, len(msgs))}
	trained := 0
	for i, m := range msgs {
		var msg Message
		if m == nil {
			return Example{}, fmt.Sprintf("message %d: expected an object, found null", i)
		}
		rawRole, ok := m["role"]
		if !ok {
			return Example{}, fmt.Sprintf("message %d: missing \"role\"", i)
		}
		if err := json.Unmarshal(rawRole, &msg.Role); err != nil {
			return Example{}, fmt.Sprintf("message %d: \"role\" must be a string", i)
		}
		if !validRoles[msg.Role] {
			return Example{}, fmt.Sprintf("message %d: unknown role %q (expected system, user, assistant or tool)", i, msg.Role)
		}
		content, reason := parseContent(m["content"])
		if reason != "" {
			return Example{}, fmt.Sprintf("message %d: %s", i, reason)
		}
		msg.Content = content
		if msg.Role == "assistant" {
			msg.Weight = 1
		}
		if rawW, ok := m["weight"]; ok {
			var w float64
			if err := json.Unmarshal(rawW, &w); err != nil || (w != 0 && w != 1) {
				return Example{}, fmt.Sprintf("message %d: \"weight\" must be 0 or 1, found %s", i, string(rawW))
			}
			if msg.Role != "assistant" && w == 1 {
				return Example{}, fmt.Sprintf("message %d: \"weight\" 1 is only allowed on assistant turns, found role %q", i, msg.Role)
			}
			msg.Weight = int(w)
		}
		trained += msg.Weight
		ex.Messages = append(ex.Messages, msg)
	}
	hasAssistant := false
	for _, m := range ex.Messages {
		hasAssistant = hasAssistant || m.Role == "assistant"
	}
	if !hasAssistant {
		return Example{}, "no assistant turn: nothing to train on"
	}
	if trained == 0 {
		return Example{}, "every assistant turn has weight 0: nothing to train on"
	}
	return ex, ""
}

// parseContent accepts a string or OpenAI's array of {"type": "text", "text": ...} parts.
func parseContent(raw json.RawMessage) (string, string) {
	if raw == nil {
		return "", `missing "content"`
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, ""
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", `"content" must be a string or an array of text parts`
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", fmt.Sprintf("content part %d: expected {\"type\": \"text\", \"text\": ...}, found type %q", j, p.Type)
		}
		b.WriteString(*p.Text)
	}
	return b.String(), ""
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "a value"
}

// trimBOM drops a UTF-8 byte order mark at the start of the file, as editors on Windows write.
func trimBOM(b []byte, lineNo int) []byte {
	if lineNo == 1 {
		return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	}
	return b
}
