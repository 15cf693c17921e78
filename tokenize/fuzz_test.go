package tokenize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"
)

var (
	fuzzTokOnce sync.Once
	fuzzToks    map[string]*Tokenizer
)

func fuzzTokenizers(t testing.TB) map[string]*Tokenizer {
	fuzzTokOnce.Do(func() {
		fuzzToks = map[string]*Tokenizer{}
		for _, n := range fixtureTokenizers {
			fuzzToks[n] = loadFixtureTokenizer(t, n)
		}
		var variants map[string]map[string]any
		raw, err := os.ReadFile(filepath.Join("testdata", "small", "variants.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &variants))
		for name, v := range variants {
			tok, err := New(mistralVariant(t, v), nil)
			require.NoError(t, err)
			fuzzToks[name] = tok
		}
		for _, n := range []string{"unigram", "wordpiece", "bpe_prefix", "precompiled", "misc"} {
			data, err := os.ReadFile(filepath.Join("testdata", "small", n+".json"))
			require.NoError(t, err)
			tok, err := New(data, nil)
			require.NoError(t, err)
			fuzzToks[n] = tok
		}
	})
	return fuzzToks
}

var fuzzSeeds = []string{
	"", " ", "Hello world", "<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "<s></s><unk>",
	"  leading and trailing  ", "tab\tnew\nline\r\n", "12345 x 3.14", "don't 'S 'll",
	"中文 日本語 한국어 emoji 👍🏽", "e\u0301 ﬁ ＡＢＣ", "\xff\xfe invalid \xc3", "\u00a0\u2003\u3000",
	strings.Repeat("a", 300), strings.Repeat(" ", 40) + "x", "<0x41><0x42>",
}

// FuzzEncode checks that encoding never panics, that offsets stay inside the text, and that
// byte-level tokenizers without normalization decode back to the input.
func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		for name, tok := range toks {
			ids := tok.Encode(s, false)
			idsSp, offs := tok.EncodeWithOffsets(s, true)
			require.Len(t, offs, len(idsSp))
			for _, o := range offs {
				require.True(t, 0 <= o[0] && o[0] <= o[1] && o[1] <= len(s), "%s: offsets %v outside [0, %d]", name, o, len(s))
			}
			if !utf8.ValidString(s) {
				continue
			}
			switch name {
			case "gpt2":
				require.Equal(t, s, tok.Decode(ids, false), name)
			case "qwen3":
				if norm.NFC.IsNormalString(s) {
					require.Equal(t, s, tok.Decode(ids, false), name)
				}
			}
		}
	})
}

// FuzzStreamDecoder checks that the streamed text, concatenated, equals Decode of all ids and
// that every piece is valid UTF-8.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte{1, 2, 3}, false)
	f.Add([]byte("\x00\x10\x20\xff\xee"), true)
	f.Add([]byte("hello world, this is a test"), false)
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, raw []byte, skip bool) {
		for name, tok := range toks {
			// Two bytes per id, biased towards low ids (byte tokens, byte fallback).
			var ids []int
			for i := 0; i+1 < len(raw); i += 2 {
				id := int(raw[i])<<8 | int(raw[i+1])
				if raw[i]&0x80 != 0 {
					id = int(raw[i+1]) + 3
				}
				ids = append(ids, id%tok.VocabSize())
			}
			d := tok.NewStreamDecoder(skip)
			var got strings.Builder
			for _, id := range ids {
				piece := d.Add(id)
				require.True(t, utf8.ValidString(piece), "%s: invalid UTF-8 %q", name, piece)
				got.WriteString(piece)
			}
			got.WriteString(d.Flush())
			require.Equal(t, tok.Decode(ids, skip), got.String(), "%s: ids %v", name, ids)
		}
	})
}

// FuzzLoad checks that tokenizer.json parsing returns errors, never panics, on mutations of a
// real (small) tokenizer.json and of small hand-made ones.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "small", "wordpiece.json")); err == nil {
		f.Add(string(b))
	}
	f.Add(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}`)
	f.Add(`{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0], ["a", -1]]}, "pre_tokenizer": {"type": "Metaspace"}}`)
	f.Add(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}}, "normalizer": {"type": "BertNormalizer"}}`)
	f.Add(`{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?=a)"}, "behavior": "Removed"}}`)
	for _, n := range []string{"precompiled", "trunc_left_pad_fixed", "misc"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "small", n+".json")); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := New([]byte(s), nil)
		if err != nil {
			return
		}
		for _, text := range []string{"", "ab a b", "hello ▁ world", "\xff"} {
			ids := tok.Encode(text, true)
			tok.Decode(ids, false)
		}
	})
}
