package tuning

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runeTokenizer is a hand-checkable tokenizer: one token per rune (id = code point), "<e>" is the
// single token eot (default 1000), and addSpecial prepends BOS bos (default 999) with an empty
// byte range.
type runeTokenizer struct{ bos, eot int }

func (r runeTokenizer) EncodeWithOffsets(text string, addSpecial bool) ([]int, [][2]int) {
	bos, eot := r.bos, r.eot
	if bos == 0 {
		bos, eot = 999, 1000
	}
	var ids []int
	var offs [][2]int
	if addSpecial {
		ids, offs = append(ids, bos), append(offs, [2]int{0, 0})
	}
	for i := 0; i < len(text); {
		if strings.HasPrefix(text[i:], "<e>") {
			ids, offs = append(ids, eot), append(offs, [2]int{i, i + 3})
			i += 3
			continue
		}
		r := []rune(text[i:])[0]
		n := len(string(r))
		ids, offs = append(ids, int(r)), append(offs, [2]int{i, i + n})
		i += n
	}
	return ids, offs
}

// tinyTemplate renders "U:<content><e>" / "A:<content><e>" per turn.
type tinyTemplate struct{}

func (tinyTemplate) RenderAssistantSpans(msgs []Message) (string, []MessageSpan, error) {
	var b strings.Builder
	var spans []MessageSpan
	for i, m := range msgs {
		b.WriteString(strings.ToUpper(m.Role[:1]) + ":")
		start := b.Len()
		b.WriteString(m.Content)
		if m.Role == "assistant" {
			spans = append(spans, MessageSpan{i, start, b.Len()})
		}
		b.WriteString("<e>")
	}
	return b.String(), spans, nil
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		name        string
		ex          Example
		wantIDs     []int32
		wantTargets []bool
	}{
		{"chat: assistant content and end marker only",
			Example{Line: 1, Shape: ShapeChat, Messages: []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo", Weight: 1}}},
			[]int32{'U', ':', 'h', 'i', 1000, 'A', ':', 'y', 'o', 1000},
			[]bool{false, false, false, false, false, false, false, true, true, true}},
		{"chat: weight 0 turn is not trained",
			Example{Line: 1, Shape: ShapeChat, Messages: []Message{{Role: "assistant", Content: "a", Weight: 0}, {Role: "user", Content: "u"}, {Role: "assistant", Content: "b", Weight: 1}}},
			[]int32{'A', ':', 'a', 1000, 'U', ':', 'u', 1000, 'A', ':', 'b', 1000},
			[]bool{false, false, false, false, false, false, false, false, false, false, true, true}},
		{"prompt/completion: completion and EOS",
			Example{Line: 2, Shape: ShapePromptCompletion, Prompt: "ab", Completion: "c"},
			[]int32{999, 'a', 'b', 'c', 1000},
			[]bool{false, false, false, true, true}},
		{"text: everything and EOS",
			Example{Line: 3, Shape: ShapeText, Text: "ab"},
			[]int32{999, 'a', 'b', 1000},
			[]bool{false, true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, stats, err := Prepare([]Example{tc.ex}, runeTokenizer{}, tinyTemplate{}, "d", &PrepareOptions{EOSIDs: []int{1000}})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, tc.wantIDs, got[0].IDs)
			require.Equal(t, tc.wantTargets, got[0].Targets)
			n := 0
			for _, b := range tc.wantTargets {
				if b {
					n++
				}
			}
			require.Equal(t, Stats{Examples: 1, Tokens: len(tc.wantIDs), TargetTokens: n}, stats)
		})
	}
}

func TestPrepareLengthLimit(t *testing.T) {
	exs := []Example{
		{Line: 1, Shape: ShapePromptCompletion, Prompt: "abcdef", Completion: "gh"}, // 10 tokens
		{Line: 2, Shape: ShapeText, Text: "ab"},                                     // 4 tokens
	}
	_, _, err := Prepare(exs, runeTokenizer{}, nil, "d", &PrepareOptions{MaxSeqLen: 8, EOSIDs: []int{1000}})
	var de *DatasetError
	require.True(t, errors.As(err, &de))
	require.Equal(t, []LineError{{1, "10 tokens, over the limit of 8 (enable truncation to cut it)"}}, de.Lines)

	got, stats, err := Prepare(exs, runeTokenizer{}, nil, "d", &PrepareOptions{MaxSeqLen: 8, Truncate: true, EOSIDs: []int{1000}})
	require.NoError(t, err)
	require.Equal(t, []int32{999, 'a', 'b', 'c', 'd', 'e', 'f', 'g'}, got[0].IDs)
	require.Equal(t, Stats{Examples: 2, Tokens: 12, TargetTokens: 1 + 3, Truncated: 1}, stats)
}

func TestPrepareNoTargets(t *testing.T) {
	exs := []Example{{Line: 1, Shape: ShapePromptCompletion, Prompt: "abcdef", Completion: "gh"}}
	_, stats, err := Prepare(exs, runeTokenizer{}, nil, "d", &PrepareOptions{MaxSeqLen: 5, Truncate: true, EOSIDs: []int{1000}})
	require.ErrorIs(t, err, ErrNoTargets)
	require.Equal(t, 1, stats.Dropped)
	require.Contains(t, err.Error(), "expected assistant or completion tokens to train on, found none")
}

func TestPrepareChatWithoutTemplate(t *testing.T) {
	exs := []Example{{Line: 7, Shape: ShapeChat, Messages: []Message{{Role: "assistant", Content: "x", Weight: 1}}}}
	_, _, err := Prepare(exs, runeTokenizer{}, nil, "d", nil)
	require.ErrorIs(t, err, ErrInvalidDataset)
	require.Contains(t, err.Error(), "line 7: chat example but the model has no chat template")
}
