package tuning

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseJSONLShapes(t *testing.T) {
	data := strings.Join([]string{
		`{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "weight": 0}, {"role": "user", "content": "again"}, {"role": "assistant", "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]}]}`,
		``,
		`{"prompt": "2+2=", "completion": "4"}`,
		`   {"text": "plain text"}  `,
	}, "\n")
	got, err := ParseJSONL(strings.NewReader(data), "mem", nil)
	require.NoError(t, err)
	require.Equal(t, []Example{
		{Line: 1, Shape: ShapeChat, Messages: []Message{
			{Role: "system", Content: "be brief"},
			{Role: "user", Content: "hi"},
			{Role: "assistant", Content: "hello", Weight: 0},
			{Role: "user", Content: "again"},
			{Role: "assistant", Content: "hello", Weight: 1},
		}},
		{Line: 3, Shape: ShapePromptCompletion, Prompt: "2+2=", Completion: "4"},
		{Line: 4, Shape: ShapeText, Text: "plain text"},
	}, got)
}

func TestParseJSONLBadLines(t *testing.T) {
	tests := []struct {
		name, line, reason string
	}{
		{"not json", `{"messages": [`, "not JSON"},
		{"not an object", `[1, 2]`, "expected a JSON object, found an array"},
		{"unknown role", `{"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]}`, `unknown role "wizard"`},
		{"empty conversation", `{"messages": []}`, "empty conversation"},
		{"no assistant", `{"messages": [{"role": "user", "content": "x"}]}`, "no assistant turn"},
		{"all weight zero", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 0}]}`, "weight 0"},
		{"bad weight", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 0.5}]}`, `"weight" must be 0 or 1, found 0.5`},
		{"non utf8", "{\"text\": \"a\xff\"}", "not valid UTF-8"},
		{"missing content", `{"messages": [{"role": "assistant"}]}`, `missing "content"`},
		{"prompt only", `{"prompt": "x"}`, `expected both "prompt" and "completion"`},
		{"empty completion", `{"prompt": "x", "completion": ""}`, `"completion" is empty`},
		{"text number", `{"text": 3}`, `"text" must be a string`},
		{"no known field", `{"input": "x"}`, `expected "messages", "prompt"+"completion" or "text"`},
		{"too long", `{"text": "` + strings.Repeat("a", 200) + `"}`, "longer than the limit of 160 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := `{"text": "ok"}` + "\n" + tc.line + "\n" + `{"text": "ok too"}`
			got, err := ParseJSONL(strings.NewReader(data), "train.jsonl", &ParseOptions{MaxLineBytes: 160})
			require.ErrorIs(t, err, ErrInvalidDataset)
			var de *DatasetError
			require.True(t, errors.As(err, &de))
			require.Len(t, de.Lines, 1)
			require.Equal(t, 2, de.Lines[0].Line)
			require.Contains(t, de.Lines[0].Reason, tc.reason)
			require.Contains(t, err.Error(), "line 2: ")
			require.Len(t, got, 2, "the good lines are still returned")
			require.Equal(t, 3, got[1].Line)
		})
	}
}

func TestParseJSONLEveryBadLineReported(t *testing.T) {
	data := "nope\n{\"text\": \"ok\"}\n{\"messages\": []}\n\xff\n"
	_, err := ParseJSONL(strings.NewReader(data), "d", nil)
	var de *DatasetError
	require.True(t, errors.As(err, &de))
	lines := []int{}
	for _, l := range de.Lines {
		lines = append(lines, l.Line)
	}
	require.Equal(t, []int{1, 3, 4}, lines)
}

func TestParseJSONLByteOrderMarkAndCRLF(t *testing.T) {
	got, err := ParseJSONL(strings.NewReader("\xef\xbb\xbf{\"text\": \"a\"}\r\n{\"text\": \"b\"}\r\n"), "d", nil)
	require.NoError(t, err)
	require.Equal(t, []Example{{Line: 1, Shape: ShapeText, Text: "a"}, {Line: 2, Shape: ShapeText, Text: "b"}}, got)
}

func TestParseJSONLEmpty(t *testing.T) {
	_, err := ParseJSONL(strings.NewReader("\n\n"), "d", nil)
	require.ErrorIs(t, err, ErrInvalidDataset)
	require.Contains(t, err.Error(), "found none")
}

func FuzzParseJSONL(f *testing.F) {
	f.Add([]byte(`{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 1}]}`))
	f.Add([]byte(`{"prompt": "a", "completion": "b"}` + "\n" + `{"text": "t"}`))
	f.Add([]byte("\xff\xfe{\"text\": null}\n[]\n{\"messages\": [null]}"))
	f.Add([]byte(`{"messages": [{"role": "assistant", "content": [{"type": "image"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseJSONL(strings.NewReader(string(data)), "fuzz", &ParseOptions{MaxLineBytes: 256})
		for _, ex := range got {
			if ex.Line < 1 {
				t.Fatalf("example with line %d", ex.Line)
			}
			if ex.Shape == ShapeChat && len(ex.Messages) == 0 {
				t.Fatal("chat example without messages")
			}
		}
		var de *DatasetError
		if errors.As(err, &de) {
			for _, l := range de.Lines {
				if l.Line < 1 || l.Reason == "" {
					t.Fatalf("bad line error %+v", l)
				}
			}
		}
		// What parses must also tokenize and mask without panicking, whatever the content.
		samples, _, _ := Prepare(got, runeTokenizer{}, tinyTemplate{}, "fuzz", &PrepareOptions{MaxSeqLen: 64, Truncate: true, EOSIDs: []int{1000}})
		for _, s := range samples {
			if len(s.IDs) != len(s.Targets) || len(s.IDs) > 64 || s.TargetCount() == 0 || s.Targets[0] {
				t.Fatalf("bad sample %+v", s)
			}
		}
	})
}
