package tokenize

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes them back exactly as the Hugging Face
// tokenizers library does for the same tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	model      model
	normalizer normalizer
	pre        preTokenizer
	post       postProcessor
	dec        decoder

	added          []*AddedToken
	addedByID      map[int]*AddedToken
	addedByContent map[string]*AddedToken
	specialContent map[string]bool
	rawAdded       *addedMatcher // added tokens matched on the input text
	normAdded      *addedMatcher // added tokens matched on the normalized text
	rawBytes       bool          // the model sees raw bytes (byte-level BPE fast path)
	byteFallback   bool          // the decoder has a ByteFallback step
	byteDecoded    []string      // when the decoder is ByteLevel alone: the bytes of each id
	trunc          *truncation   // tokenizer.json "truncation", nil when off
	pad            *padding      // tokenizer.json "padding", nil when off
	vocabSize      int

	cfg config

	chatOnce sync.Once
	chat     *ChatTemplate
	chatErr  error
}

// Options configures New. The zero value means no tokenizer_config.json and no
// generation_config.json.
type Options struct {
	// TokenizerConfig is the content of tokenizer_config.json (special tokens, chat template).
	TokenizerConfig []byte
	// GenerationConfig is the content of generation_config.json (EOS ids).
	GenerationConfig []byte
}

// New builds a tokenizer from the content of a tokenizer.json file.
func New(tokenizerJSON []byte, opts *Options) (*Tokenizer, error) {
	t, err := buildTokenizer(tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if opts != nil {
		if len(opts.TokenizerConfig) > 0 {
			if err := t.cfg.parseTokenizerConfig(opts.TokenizerConfig); err != nil {
				return nil, fmt.Errorf("tokenize: %w", err)
			}
		}
		if len(opts.GenerationConfig) > 0 {
			if err := t.cfg.parseGenerationConfig(opts.GenerationConfig); err != nil {
				return nil, fmt.Errorf("tokenize: %w", err)
			}
		}
	}
	return t, nil
}

// Load reads a tokenizer from a directory holding tokenizer.json (and, when present,
// tokenizer_config.json and generation_config.json), or from a tokenizer.json file (its
// sibling config files are read too). A file ending in .gz is gunzipped.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenize: load %s: %w", path, err)
	}
	dir, file := path, filepath.Join(path, "tokenizer.json")
	if !st.IsDir() {
		dir, file = filepath.Dir(path), path
	} else if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(file + ".gz"); err == nil {
			file += ".gz"
		}
	}
	data, err := readMaybeGzip(file)
	if err != nil {
		return nil, fmt.Errorf("tokenize: load %s: %w", path, err)
	}
	var opts Options
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{"tokenizer_config.json", &opts.TokenizerConfig}, {"generation_config.json", &opts.GenerationConfig}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err == nil {
			*f.dst = b
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenize: load %s: %w", path, err)
		}
	}
	t, err := New(data, &opts)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	return t, nil
}

// maxTokenizerFile bounds what Load reads, so that a hostile .gz cannot exhaust memory.
const maxTokenizerFile = 1 << 30

func readMaybeGzip(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: expected gzip data: %w", file, err)
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(io.LimitReader(r, maxTokenizerFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(b) > maxTokenizerFile {
		return nil, fmt.Errorf("read %s: expected at most %d bytes, found more", file, maxTokenizerFile)
	}
	return b, nil
}

// Encode returns the token ids of text. With addSpecialTokens the post-processor of
// tokenizer.json adds its special tokens (such as a BOS token). Added tokens written in the
// text (such as "<|im_start|>") are always recognized, as the Hugging Face libraries do.
func (t *Tokenizer) Encode(text string, addSpecialTokens bool) []int {
	return t.run(text, addSpecialTokens, false).ids
}

// EncodeWithOffsets is Encode that also returns, for each token, the byte range of text it
// covers (end exclusive). Special tokens added by the post-processor have the range [0, 0).
func (t *Tokenizer) EncodeWithOffsets(text string, addSpecialTokens bool) (ids []int, offsets [][2]int) {
	e := t.run(text, addSpecialTokens, true)
	return e.ids, e.offs
}

// EncodeBatch encodes texts in parallel; out[i] is Encode(texts[i], addSpecialTokens).
func (t *Tokenizer) EncodeBatch(texts []string, addSpecialTokens bool) [][]int {
	out := make([][]int, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			out[i] = t.Encode(s, addSpecialTokens)
		}
		return t.padBatch(out)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(texts) {
					return
				}
				out[i] = t.Encode(texts[i], addSpecialTokens)
			}
		}()
	}
	wg.Wait()
	return t.padBatch(out)
}

// padBatch applies BatchLongest padding: every sequence padded to the longest of the batch.
func (t *Tokenizer) padBatch(out [][]int) [][]int {
	if t.pad == nil || t.pad.fixed != 0 {
		return out
	}
	longest := 0
	for _, ids := range out {
		longest = max(longest, len(ids))
	}
	l := t.pad.padTo(longest)
	for i, ids := range out {
		out[i] = t.pad.pad(encoding{ids: ids}, l).ids
	}
	return out
}

// run is the encoding pipeline: added tokens, normalizer, pre-tokenizer, model, post-processor.
func (t *Tokenizer) run(text string, addSpecial, wantOffsets bool) encoding {
	en := encoder{t: t, want: wantOffsets}
	en.e.ids = make([]int, 0, len(text)/4+4)
	if wantOffsets {
		en.e.offs = make([][2]int, 0, len(text)/4+4)
	}
	emit := en.word
	var splitsBuf, subBuf [8]addedSplit
	for _, sp := range t.rawAdded.find(text, splitsBuf[:0]) {
		if sp.tok != nil {
			en.add(sp.tok.ID, sp.a, sp.b)
			continue
		}
		n := ntext{s: text[sp.a:sp.b], base: sp.a, first: sp.a == 0, track: wantOffsets}
		if t.normalizer != nil {
			n = t.normalizer.normalize(n)
		}
		for _, sp2 := range t.normAdded.find(n.s, subBuf[:0]) {
			if sp2.tok != nil {
				a, b := n.origRange(sp2.a, sp2.b)
				en.add(sp2.tok.ID, a, b)
				continue
			}
			if sp2.a == sp2.b {
				continue
			}
			piece := n.slice(sp2.a, sp2.b)
			if t.pre != nil {
				t.pre.split(piece, emit)
			} else {
				en.word(piece)
			}
		}
	}
	en.e = t.truncate(en.e, addSpecial)
	if t.post != nil {
		en.e = t.post.process(t, en.e, addSpecial)
	}
	if t.pad != nil {
		en.e = t.pad.pad(en.e, t.pad.padTo(len(en.e.ids)))
	}
	return en.e
}

// encoder collects the output of one encoding.
type encoder struct {
	t    *Tokenizer
	e    encoding
	want bool
	toks []token
}

func (en *encoder) add(id, a, b int) {
	en.e.ids = append(en.e.ids, id)
	if en.want {
		en.e.offs = append(en.e.offs, [2]int{a, b})
	}
}

// word runs the model on one pre-tokenized word.
func (en *encoder) word(w ntext) {
	en.toks = en.t.model.tokenize(w.s, en.toks[:0])
	if !en.want {
		for _, tk := range en.toks {
			en.e.ids = append(en.e.ids, tk.id)
		}
		return
	}
	for _, tk := range en.toks {
		// A token that splits a character (byte-level BPE, byte fallback) covers the whole
		// character, as offsets always do in the Rust crate.
		a, b := tk.start, tk.end
		for a > 0 && a < len(w.s) && !utf8.RuneStart(w.s[a]) {
			a--
		}
		for b < len(w.s) && b > 0 && !utf8.RuneStart(w.s[b]) {
			b++
		}
		oa, ob := w.origRange(a, b)
		en.add(tk.id, oa, ob)
	}
}

// tokenString returns the token text of id and whether it exists.
func (t *Tokenizer) tokenString(id int) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.Content, true
	}
	return t.model.idToToken(id)
}

// Decode returns the text of ids, as the tokenizer.json decoder produces it. With
// skipSpecialTokens, special added tokens are left out. Unknown ids are ignored.
// transformers' optional clean-up step is not applied (see CleanUpTokenizationSpaces).
func (t *Tokenizer) Decode(ids []int, skipSpecialTokens bool) string {
	if t.byteDecoded != nil {
		return t.decodeByteLevel(ids, skipSpecialTokens)
	}
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		s, ok := t.tokenString(id)
		if !ok {
			continue
		}
		if skipSpecialTokens && t.specialContent[s] {
			continue
		}
		toks = append(toks, s)
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.dec.decodeChain(toks), "")
}

// decodeByteLevel is Decode for a lone ByteLevel decoder, from precomputed bytes.
func (t *Tokenizer) decodeByteLevel(ids []int, skip bool) string {
	n := 0
	for _, id := range ids {
		if id >= 0 && id < len(t.byteDecoded) {
			n += len(t.byteDecoded[id])
		}
	}
	buf := make([]byte, 0, n)
	for _, id := range ids {
		if id < 0 || id >= len(t.byteDecoded) {
			continue
		}
		if skip {
			if a, ok := t.addedByID[id]; ok && a.Special {
				continue
			}
		}
		buf = append(buf, t.byteDecoded[id]...)
	}
	if utf8.Valid(buf) {
		return string(buf)
	}
	return string(appendLossy(nil, buf))
}

// VocabSize returns the number of distinct token ids: the model's vocabulary plus the added
// tokens outside it.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenToID returns the id of a token string (an added token or a vocabulary entry, in its
// stored form, such as "Ġthe" for byte-level vocabularies).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if a, ok := t.addedByContent[tok]; ok {
		return a.ID, true
	}
	return t.model.tokenToID(tok)
}

// IDToToken returns the token string of id.
func (t *Tokenizer) IDToToken(id int) (string, bool) { return t.tokenString(id) }

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int) bool {
	a, ok := t.addedByID[id]
	return ok && a.Special
}

// AddedTokens returns copies of the added tokens of tokenizer.json, in file order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, len(t.added))
	for i, a := range t.added {
		out[i] = *a
	}
	return out
}
