package tokenize

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixtureRecord is one line of expected.jsonl, produced by the Rust tokenizers crate.
type fixtureRecord struct {
	Text               string `json:"text"`
	IDs                []int  `json:"ids"`
	Decoded            string `json:"decoded"`
	DecodedSkipSpecial string `json:"decoded_skip_special"`
	IDsSpecial         []int  `json:"ids_special"`
	DecodedSpecial     string `json:"decoded_special"`
}

func readFixtures(t testing.TB, path string) []fixtureRecord {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []fixtureRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r fixtureRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

var fixtureTokenizers = []string{"qwen3", "gpt2", "mistral"}

var fixtureCache sync.Map // name -> *Tokenizer; tokenizers are safe for concurrent use

func loadFixtureTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	if tok, ok := fixtureCache.Load(name); ok {
		return tok.(*Tokenizer)
	}
	tok, err := Load(filepath.Join("testdata", "tokenizers", name, "tokenizer.json.gz"))
	require.NoError(t, err)
	fixtureCache.Store(name, tok)
	return tok
}

func TestFixtureTokenizers(t *testing.T) {
	for _, name := range fixtureTokenizers {
		t.Run(name, func(t *testing.T) {
			tok := loadFixtureTokenizer(t, name)
			recs := readFixtures(t, filepath.Join("testdata", "tokenizers", name, "expected.jsonl"))
			require.Len(t, recs, 245)
			bad := 0
			for i, r := range recs {
				ids := tok.Encode(r.Text, false)
				idsSp := tok.Encode(r.Text, true)
				dec := tok.Decode(r.IDs, false)
				decSkip := tok.Decode(r.IDs, true)
				decSp := tok.Decode(r.IDsSpecial, false)
				if !equalInts(ids, r.IDs) || !equalInts(idsSp, r.IDsSpecial) || dec != r.Decoded || decSkip != r.DecodedSkipSpecial || decSp != r.DecodedSpecial {
					bad++
					if bad <= 5 {
						t.Errorf("text %d %q:\n ids  %v\n want %v\n sp   %v\n want %v\n dec %q want %q\n skip %q want %q", i, r.Text, ids, r.IDs, idsSp, r.IDsSpecial, dec, r.Decoded, decSkip, r.DecodedSkipSpecial)
					}
				}
			}
			require.Zero(t, bad, "texts that differ from the Rust crate")
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestModelTokenizers checks the tokenizers of the tiny reference checkpoints against the ids
// Hugging Face produced for their prompt.
func TestModelTokenizers(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "testdata", "models", "*"))
	if len(dirs) == 0 {
		t.Skip("no reference models in ../testdata/models")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "expected", "prompt.json"))
			if os.IsNotExist(err) {
				t.Skip("no expected/prompt.json")
			}
			require.NoError(t, err)
			var p struct {
				Text string `json:"text"`
				IDs  []int  `json:"ids"`
			}
			require.NoError(t, json.Unmarshal(raw, &p))
			tok, err := Load(dir)
			require.NoError(t, err)
			require.Equal(t, p.IDs, tok.Encode(p.Text, true))
			// The ids may start with a BOS token that the text does not contain.
			require.True(t, strings.HasSuffix(tok.Decode(p.IDs, false), p.Text))
		})
	}
}

// sharedFixtures is the shared fixtures folder beside the repository, when present.
var sharedFixtures = filepath.Join("..", "..", "shared", "fixtures")

// TestSharedFixtureTokenizers runs every tokenizer folder of ../shared/fixtures/tokenizers
// (tokenizer.json or tokenizer.json.gz with expected.jsonl from the Rust crate), so that
// tokenizers added there later are checked the same way as the copies in testdata.
func TestSharedFixtureTokenizers(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(sharedFixtures, "tokenizers", "*", "expected.jsonl"))
	if len(dirs) == 0 {
		t.Skip("no ../shared/fixtures/tokenizers beside the repository")
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			path := filepath.Join(dir, "tokenizer.json")
			if _, err := os.Stat(path); err != nil {
				path += ".gz"
			}
			tok, err := Load(path)
			require.NoError(t, err)
			recs := readFixtures(t, exp)
			require.NotEmpty(t, recs)
			bad := 0
			for i, r := range recs {
				ids := tok.Encode(r.Text, false)
				idsSp := tok.Encode(r.Text, true)
				if !equalInts(ids, r.IDs) || !equalInts(idsSp, r.IDsSpecial) || tok.Decode(r.IDs, false) != r.Decoded ||
					tok.Decode(r.IDs, true) != r.DecodedSkipSpecial || tok.Decode(r.IDsSpecial, false) != r.DecodedSpecial {
					bad++
					if bad <= 5 {
						t.Errorf("text %d %q:\n ids  %v\n want %v", i, r.Text, ids, r.IDs)
					}
				}
			}
			require.Zero(t, bad, "texts that differ from the Rust crate")
		})
	}
}

// TestSharedFixtureModels checks the tokenizers of ../shared/fixtures/models/* against the
// prompt ids Hugging Face produced.
func TestSharedFixtureModels(t *testing.T) {
	prompts, _ := filepath.Glob(filepath.Join(sharedFixtures, "models", "*", "expected", "prompt.json"))
	if len(prompts) == 0 {
		t.Skip("no ../shared/fixtures/models beside the repository")
	}
	for _, pf := range prompts {
		dir := filepath.Dir(filepath.Dir(pf))
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(pf)
			require.NoError(t, err)
			var p struct {
				Text string `json:"text"`
				IDs  []int  `json:"ids"`
			}
			require.NoError(t, json.Unmarshal(raw, &p))
			tok, err := Load(dir)
			require.NoError(t, err)
			require.Equal(t, p.IDs, tok.Encode(p.Text, true))
		})
	}
}
