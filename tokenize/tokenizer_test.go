package tokenize

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// miniJSON is a WordLevel tokenizer small enough to reason about by hand. The ids stated for
// added tokens are ignored, as by the Rust crate: "<tool>" is not in the vocabulary (6 entries)
// and gets id 6.
const miniJSON = `{
 "added_tokens": [
  {"id": 0, "content": "<s>", "special": true},
  {"id": 1, "content": "</s>", "special": true},
  {"id": 2, "content": "<eot>", "special": true},
  {"id": 42, "content": "<tool>", "special": false},
  {"id": 43, "content": "", "special": false}
 ],
 "pre_tokenizer": {"type": "WhitespaceSplit"},
 "post_processor": {"type": "TemplateProcessing",
  "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
  "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
 "decoder": null,
 "model": {"type": "WordLevel", "unk_token": "<unk>", "vocab": {"<s>": 0, "</s>": 1, "<eot>": 2, "<unk>": 3, "hello": 4, "world": 5}}
}`

func TestConfigFiles(t *testing.T) {
	tests := []struct {
		name        string
		tokCfg, gen string
		bos, eos    string
		bosID       int
		bosOK       bool
		eosIDs      []int
		special     map[string]any
		template    string
	}{
		{
			name:   "strings and generation list",
			tokCfg: `{"bos_token": "<s>", "eos_token": "</s>", "pad_token": null, "chat_template": "{{ bos_token }}"}`,
			gen:    `{"eos_token_id": [2, 1], "bos_token_id": 0}`,
			bos:    "<s>", eos: "</s>", bosID: 0, bosOK: true,
			eosIDs:   []int{2, 1},
			special:  map[string]any{"bos_token": "<s>", "eos_token": "</s>"},
			template: "{{ bos_token }}",
		},
		{
			name:   "AddedToken objects, single generation id, additional tokens, named templates",
			tokCfg: `{"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false}, "eos_token": {"content": "<eot>"}, "unk_token": "<unk>", "additional_special_tokens": ["<tool>", {"content": "</s>"}], "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}`,
			gen:    `{"eos_token_id": 1}`,
			bos:    "<s>", eos: "<eot>", bosID: 0, bosOK: true,
			eosIDs:   []int{1, 2},
			special:  map[string]any{"bos_token": "<s>", "eos_token": "<eot>", "unk_token": "<unk>", "additional_special_tokens": []string{"<tool>", "</s>"}},
			template: "D",
		},
		{
			name:   "no config files",
			bosOK:  false,
			eosIDs: nil, special: map[string]any{},
		},
		{
			name:   "eos in both, deduplicated",
			tokCfg: `{"eos_token": "</s>"}`,
			gen:    `{"eos_token_id": [1]}`,
			eos:    "</s>", eosIDs: []int{1}, special: map[string]any{"eos_token": "</s>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := New([]byte(miniJSON), &Options{TokenizerConfig: []byte(tc.tokCfg), GenerationConfig: []byte(tc.gen)})
			require.NoError(t, err)
			require.Equal(t, tc.bos, tok.BOSToken())
			require.Equal(t, tc.eos, tok.EOSToken())
			id, ok := tok.BOSTokenID()
			require.Equal(t, tc.bosOK, ok)
			if ok {
				require.Equal(t, tc.bosID, id)
			}
			require.Equal(t, tc.eosIDs, tok.EOSTokenIDs())
			require.Equal(t, tc.special, tok.SpecialTokensMap())
			require.Equal(t, tc.template, tok.ChatTemplateSource())
		})
	}
}

func TestMiniTokenizer(t *testing.T) {
	tok, err := New([]byte(miniJSON), nil)
	require.NoError(t, err)
	require.Equal(t, []int{4, 6, 5, 2}, tok.Encode("hello<tool> world<eot>", false))
	require.Equal(t, []int{0, 4, 3}, tok.Encode("hello there", true))
	ids, offs := tok.EncodeWithOffsets("hello  world", true)
	require.Equal(t, []int{0, 4, 5}, ids)
	require.Equal(t, [][2]int{{0, 0}, {0, 5}, {7, 12}}, offs)
	// Without a decoder tokens are joined with spaces; skipping drops special tokens only.
	require.Equal(t, "<s> hello <tool> <eot>", tok.Decode([]int{0, 4, 6, 2}, false))
	require.Equal(t, "hello <tool>", tok.Decode([]int{0, 4, 6, 2, 999}, true))
	require.Equal(t, 7, tok.VocabSize())
	require.True(t, tok.IsSpecial(2))
	require.False(t, tok.IsSpecial(6))
	require.False(t, tok.IsSpecial(4))
	id, ok := tok.TokenToID("world")
	require.True(t, ok)
	require.Equal(t, 5, id)
	id, ok = tok.TokenToID("<tool>")
	require.True(t, ok)
	require.Equal(t, 6, id)
	s, ok := tok.IDToToken(6)
	require.True(t, ok)
	require.Equal(t, "<tool>", s)
	_, ok = tok.IDToToken(42)
	require.False(t, ok)
	require.Len(t, tok.AddedTokens(), 4)
	require.Nil(t, tok.ChatTemplate())
}

func TestModelConfigs(t *testing.T) {
	tests := []struct {
		model  string
		bos    string
		bosID  int
		bosOK  bool
		eosIDs []int
	}{
		// generation_config.json eos_token_id first, then tokenizer_config.json's eos_token.
		{"llama", "<|begin_of_text|>", 504, true, []int{508}},
		{"qwen2", "", 0, false, []int{507}},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "models", tc.model)
			tok, err := Load(dir)
			if err != nil && strings.Contains(err.Error(), "no such file") {
				t.Skip("reference models not available")
			}
			require.NoError(t, err)
			require.Equal(t, tc.bos, tok.BOSToken())
			id, ok := tok.BOSTokenID()
			require.Equal(t, tc.bosOK, ok)
			if ok {
				require.Equal(t, tc.bosID, id)
			}
			require.Equal(t, tc.eosIDs, tok.EOSTokenIDs())
			require.Equal(t, 512, tok.VocabSize())
		})
	}
}

func TestLoadErrors(t *testing.T) {
	bpe := `"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}`
	tests := []struct {
		name        string
		json        string
		path        string // JSON path the error must name
		unsupported bool
	}{
		{"not json", `{`, "$", false},
		{"no model", `{"normalizer": null}`, "model", false},
		{"unknown model", `{"model": {"type": "Magic"}}`, "model", true},
		{"dropout", `{"model": {"type": "BPE", "dropout": 0.1, "vocab": {}, "merges": []}}`, "model.dropout", true},
		{"merge missing token", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}`, "model.merges[0]", false},
		{"merge result missing", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}`, "model.merges[0]", false},
		{"unk not in vocab", `{"model": {"type": "BPE", "unk_token": "<unk>", "vocab": {}, "merges": []}}`, "model.unk_token", false},
		{"precompiled too short", `{"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Precompiled", "precompiled_charsmap": "AAAA"}]}, ` + bpe + `}`, "normalizer.normalizers[1].precompiled_charsmap", false},
		{"precompiled not base64", `{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "@@"}, ` + bpe + `}`, "normalizer.precompiled_charsmap", false},
		{"unknown normalizer", `{"normalizer": {"type": "Sequence", "normalizers": [{"type": "Magic"}]}, ` + bpe + `}`, "normalizer.normalizers[0]", true},
		{"unknown pre-tokenizer", `{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "UnicodeScripts"}]}, ` + bpe + `}`, "pre_tokenizer.pretokenizers[0]", true},
		{"bad regex", `{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}, ` + bpe + `}`, "pre_tokenizer.pattern.Regex", false},
		{"bad behavior", `{"pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}, ` + bpe + `}`, "pre_tokenizer.behavior", false},
		{"unknown decoder", `{"decoder": {"type": "Magic"}, ` + bpe + `}`, "decoder", true},
		{"unknown post-processor", `{"post_processor": {"type": "Magic"}, ` + bpe + `}`, "post_processor", true},
		{"template without special", `{"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}], "special_tokens": {}}, ` + bpe + `}`, "post_processor.single[0]", false},
		{"negative id", `{"model": {"type": "WordLevel", "vocab": {"a": -1}}}`, "model.vocab", false},
		{"truncation OnlySecond", `{"truncation": {"max_length": 5, "strategy": "OnlySecond"}, ` + bpe + `}`, "truncation.strategy", true},
		{"truncation direction", `{"truncation": {"max_length": 5, "direction": "Up"}, ` + bpe + `}`, "truncation.direction", false},
		{"padding strategy", `{"padding": {"strategy": {"Fixed": -1}}, ` + bpe + `}`, "padding.strategy", false},
		{"added token without content", `{"added_tokens": [{"id": 3}], ` + bpe + `}`, "added_tokens[0].content", false},
		{"strip content not one char", `{"decoder": {"type": "Strip", "content": "ab", "start": 1, "stop": 0}, ` + bpe + `}`, "decoder.content", false},
		{"wrong type", `{"normalizer": {"type": "Strip", "strip_left": "yes"}, ` + bpe + `}`, "normalizer.strip_left", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]byte(tc.json), nil)
			require.Error(t, err)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "error %v is not a *FormatError", err)
			require.Equal(t, tc.path, fe.Path, "error: %v", err)
			require.Equal(t, tc.unsupported, errors.Is(err, ErrUnsupported), "error: %v", err)
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	_, err = New([]byte(miniJSON), &Options{TokenizerConfig: []byte(`{"bos_token": 5}`)})
	var fe *FormatError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "tokenizer_config.json", fe.File)
	require.Equal(t, "bos_token", fe.Path)
	_, err = New([]byte(miniJSON), &Options{GenerationConfig: []byte(`{"eos_token_id": "x"}`)})
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "eos_token_id", fe.Path)
}

func TestStreamDecoder(t *testing.T) {
	tests := []struct {
		tokenizer string
		text      string
		// pieces is what Add returns for each id of Encode(text), then Flush.
		pieces []string
	}{
		// qwen3 spells " 👍" as "Ġ" plus the first three bytes, then the last byte: nothing is
		// emitted until the character is complete.
		{"qwen3", "a 👍", []string{"a", "", " 👍", ""}},
		// Mistral spells the flamingo with four <0xXX> tokens: they are held until a token of
		// another kind follows; the lone "▁" decodes to "" (the Strip decoder removes it).
		{"mistral", "🦩 ok", []string{"", "", "", "", "", "🦩 ok", ""}},
		{"mistral", "x🦩", []string{"x", "", "", "", "", "🦩"}},
	}
	for _, tc := range tests {
		t.Run(tc.tokenizer+" "+tc.text, func(t *testing.T) {
			tok := loadFixtureTokenizer(t, tc.tokenizer)
			ids := tok.Encode(tc.text, false)
			require.Len(t, ids, len(tc.pieces)-1, "ids %v", ids)
			d := tok.NewStreamDecoder(false)
			var got []string
			for _, id := range ids {
				got = append(got, d.Add(id))
			}
			got = append(got, d.Flush())
			require.Equal(t, tc.pieces, got, "ids %v", ids)
		})
	}
	// A truncated sequence ends in U+FFFD at Flush, as Decode does.
	tok := loadFixtureTokenizer(t, "qwen3")
	ids := tok.Encode("🫠", false) // three byte-level tokens
	d := tok.NewStreamDecoder(false)
	require.Equal(t, "", d.Add(ids[0]))
	require.Equal(t, "\uFFFD", d.Flush())
	require.True(t, utf8.ValidString(d.Flush()))
}

// TestEncodeBatchConcurrent runs EncodeBatch and concurrent Encode calls on the fixture texts
// and compares with the Rust crate's ids (run with -race).
func TestEncodeBatchConcurrent(t *testing.T) {
	tok := loadFixtureTokenizer(t, "qwen3")
	recs := readFixtures(t, filepath.Join("testdata", "tokenizers", "qwen3", "expected.jsonl"))
	texts := make([]string, len(recs))
	for i, r := range recs {
		texts[i] = r.Text
	}
	got := tok.EncodeBatch(texts, true)
	for i, r := range recs {
		require.Equal(t, r.IDsSpecial, nonNil(got[i]), "text %d %q", i, r.Text)
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(recs))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += 4 {
				if ids := tok.Encode(recs[i].Text, false); !equalInts(ids, recs[i].IDs) {
					errs <- recs[i].Text
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Encode differs on %q", e)
	}
	require.Empty(t, tok.EncodeBatch(nil, false))
}

func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// TestBatchLongestPadding checks EncodeBatch against the Rust crate's single-sequence ids
// (testdata/small/trunc_right_pad_batch.expected.jsonl.gz): every sequence is left-padded with id 4
// to the longest of the batch.
func TestBatchLongestPadding(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "small", "trunc_right_pad_batch.json"))
	require.NoError(t, err)
	tok, err := New(data, nil)
	require.NoError(t, err)
	recs := map[string][]int{}
	f, err := readMaybeGzip(filepath.Join("testdata", "small", "trunc_right_pad_batch.expected.jsonl.gz"))
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(f)), "\n") {
		var r oracleRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		recs[r.Text] = r.IDsSpecial
	}
	texts := []string{"", "x", "Hello world", "The quick brown fox jumps over the lazy dog."}
	longest := 0
	for _, s := range texts {
		_, ok := recs[s]
		require.True(t, ok, "no record for %q", s)
		longest = max(longest, len(recs[s]))
	}
	got := tok.EncodeBatch(texts, true)
	for i, s := range texts {
		want := append(make([]int, 0, longest), recs[s]...)
		for len(want) < longest {
			want = append([]int{4}, want...)
		}
		require.Equal(t, want, got[i], "text %q", s)
	}
}
