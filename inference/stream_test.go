package inference

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/tokenize"
)

// scriptedRunner makes the model "generate" a fixed token sequence, one per step, whatever the
// prompt: the logits of step k put script[k] on top.
type scriptedRunner struct {
	vocab  int
	script []int
	next   map[int]int // slot -> index in script
}

func (s *scriptedRunner) step(rows []stepRow) ([][]float32, error) {
	out := make([][]float32, len(rows))
	for i, r := range rows {
		if r.pos == 0 {
			s.next[r.slot] = 0
		}
		l := make([]float32, s.vocab)
		l[s.script[s.next[r.slot]%len(s.script)]] = 10
		s.next[r.slot]++
		out[i] = l
	}
	return out, nil
}

func (s *scriptedRunner) setAdapter(int, *adapterWeights) error { return nil }
func (s *scriptedRunner) move(map[int]int) error                { return nil }

// TestStreamNeverSplitsUTF8: the real tokenizer's byte-level tokens split multi-byte characters;
// every streamed delta is still valid UTF-8, their concatenation is the text, and a stop string
// made of multi-byte characters split across tokens is found and trimmed.
func TestStreamNeverSplitsUTF8(t *testing.T) {
	tok, err := tokenize.Load(filepath.Join(fixtureDir("qwen3"), "tokenizer.json"))
	require.NoError(t, err)
	text := "héllo wörld ✓ 日本語 ok"
	script := tok.Encode(text, false)
	split := false // some token alone is only part of a character
	for _, id := range script {
		split = split || strings.ContainsRune(tok.Decode([]int{id}, false), utf8.RuneError)
	}
	require.True(t, split, "the test text should split a character across tokens")
	tests := []struct {
		name   string
		stop   []string
		want   string
		reason FinishReason
	}{
		{"whole text", nil, text, FinishLength},
		{"multi-byte stop string", []string{"✓ 日"}, "héllo wörld ", FinishStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &scriptedRunner{vocab: tok.VocabSize(), script: script, next: map[int]int{}}
			e := newEngine(run, tokenizerCodec{tok}, engineSpec{vocab: tok.VocabSize(), maxContext: 256},
				(&Options{MaxBatch: 1}).withDefaults(), nil)
			defer e.Close()
			var got strings.Builder
			var last *Chunk
			for c, err := range e.Stream(t.Context(), &Request{PromptIDs: []int{1}, MaxTokens: len(script), Stop: tt.stop}) {
				require.NoError(t, err)
				require.True(t, utf8.ValidString(c.Text), "delta %q", c.Text)
				require.NotContains(t, c.Text, "\uFFFD", "a character was split")
				got.WriteString(c.Text)
				last = c
			}
			require.Equal(t, tt.want, got.String())
			require.Equal(t, tt.reason, last.FinishReason)
		})
	}
}
