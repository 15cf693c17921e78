package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// jobj is a JSON object whose members are decoded on demand, with errors naming their path.
type jobj struct {
	m    map[string]json.RawMessage
	path string
}

func fmtErr(path, reason string, err error) error {
	return &FormatError{File: "tokenizer.json", Path: path, Reason: reason, Err: err}
}

func unsupported(path, what string) error {
	return fmtErr(path, what+" is not supported", ErrUnsupported)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func parseObj(raw json.RawMessage, path string) (jobj, error) {
	if m, ok := skimObject(raw); ok {
		return jobj{m: m, path: path}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return jobj{}, fmtErr(path, "expected a JSON object", err)
	}
	return jobj{m: m, path: path}, nil
}

func (o jobj) sub(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o jobj) has(key string) bool { return !isNull(o.m[key]) }

func (o jobj) str(key, def string) (string, error) {
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmtErr(o.sub(key), "expected a string, found "+abbrev(raw), nil)
	}
	return s, nil
}

func (o jobj) boolean(key string, def bool) (bool, error) {
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmtErr(o.sub(key), "expected true or false, found "+abbrev(raw), nil)
	}
	return b, nil
}

func (o jobj) integer(key string, def int) (int, error) {
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return def, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmtErr(o.sub(key), "expected an integer, found "+abbrev(raw), nil)
	}
	return n, nil
}

func (o jobj) char(key string, def rune) (rune, error) {
	s, err := o.str(key, string(def))
	if err != nil {
		return 0, err
	}
	if utf8.RuneCountInString(s) != 1 {
		return 0, fmtErr(o.sub(key), fmt.Sprintf("expected one character, found %q", s), nil)
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r, nil
}

func (o jobj) list(key string) ([]json.RawMessage, error) {
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return nil, fmtErr(o.sub(key), "expected a list, found nothing", nil)
	}
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmtErr(o.sub(key), "expected a list, found "+abbrev(raw), nil)
	}
	return l, nil
}

// sequence parses the list under key with parse, naming each element's JSON path
// (path.key[i]); it is what every component's "Sequence" type needs.
func sequence[T any](o jobj, path, key string, parse func(json.RawMessage, string) (T, error)) ([]T, error) {
	l, err := o.list(key)
	if err != nil {
		return nil, err
	}
	seq := make([]T, 0, len(l))
	for i, r := range l {
		c, err := parse(r, fmt.Sprintf("%s.%s[%d]", path, key, i))
		if err != nil {
			return nil, err
		}
		seq = append(seq, c)
	}
	return seq, nil
}

func (o jobj) typ() (string, error) {
	return o.str("type", "")
}

func abbrev(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// buildTokenizer reads tokenizer.json.
func buildTokenizer(data []byte) (*Tokenizer, error) {
	// One validation pass up front: the fast readers below then only see valid JSON.
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, fmtErr("$", "expected valid JSON", err)
	}
	root, err := parseObj(data, "")
	if err != nil {
		return nil, fmtErr("$", "expected a JSON object", err)
	}
	t := &Tokenizer{}
	if root.has("truncation") {
		if t.trunc, err = parseTruncation(root.m["truncation"]); err != nil {
			return nil, err
		}
	}
	if root.has("padding") {
		if t.pad, err = parsePadding(root.m["padding"]); err != nil {
			return nil, err
		}
	}
	if !root.has("model") {
		return nil, fmtErr("model", "expected a model, found nothing", nil)
	}
	if t.model, err = parseModel(root.m["model"], "model"); err != nil {
		return nil, err
	}
	if root.has("normalizer") {
		if t.normalizer, err = parseNormalizer(root.m["normalizer"], "normalizer"); err != nil {
			return nil, err
		}
	}
	if root.has("pre_tokenizer") {
		if t.pre, err = parsePreTokenizer(root.m["pre_tokenizer"], "pre_tokenizer"); err != nil {
			return nil, err
		}
	}
	if root.has("post_processor") {
		if t.post, err = parsePostProcessor(root.m["post_processor"], "post_processor", t.model); err != nil {
			return nil, err
		}
	}
	if root.has("decoder") {
		if t.dec, err = parseDecoder(root.m["decoder"], "decoder"); err != nil {
			return nil, err
		}
	}
	if root.has("added_tokens") {
		l, err := root.list("added_tokens")
		if err != nil {
			return nil, err
		}
		for i, raw := range l {
			o, err := parseObj(raw, fmt.Sprintf("added_tokens[%d]", i))
			if err != nil {
				return nil, err
			}
			a := &AddedToken{}
			if a.ID, err = o.integer("id", -1); err != nil {
				return nil, err
			}
			if a.Content, err = o.str("content", ""); err != nil {
				return nil, err
			}
			if !o.has("content") {
				return nil, fmtErr(o.sub("content"), "expected the token's content, found nothing", nil)
			}
			if a.Content == "" {
				continue // the Rust crate skips empty added tokens
			}
			for _, f := range []struct {
				key string
				dst *bool
			}{{"special", &a.Special}, {"single_word", &a.SingleWord}, {"lstrip", &a.LStrip}, {"rstrip", &a.RStrip}, {"normalized", &a.Normalized}} {
				if *f.dst, err = o.boolean(f.key, false); err != nil {
					return nil, err
				}
			}
			if !o.has("normalized") {
				a.Normalized = !a.Special
			}
			t.added = append(t.added, a)
		}
	}
	t.finish()
	return t, nil
}

// prepareByteDecoding precomputes the bytes each id decodes to under a lone ByteLevel decoder
// (Rust: a token with a character outside the byte-level alphabet is taken as UTF-8).
func (t *Tokenizer) prepareByteDecoding() {
	b, ok := t.model.(*bpe)
	if !ok {
		return
	}
	maxID := -1
	for _, a := range t.added {
		maxID = max(maxID, a.ID)
	}
	for id := range b.vocabR {
		maxID = max(maxID, id)
	}
	if maxID > 4*t.model.size()+len(t.added)+1024 {
		return // sparse ids: keep the general path
	}
	dec := make([]string, maxID+1)
	present := false
	var buf []byte
	for id := range dec {
		s, ok := t.tokenString(id)
		if !ok {
			continue
		}
		present = true
		b, ok := byteLevelDecode(s, buf[:0])
		if !ok {
			dec[id] = s
			continue
		}
		dec[id] = string(b)
		buf = b
	}
	if present {
		t.byteDecoded = dec
	}
}

// hasByteFallback reports whether d contains a ByteFallback decoder.
func hasByteFallback(d decoder) bool {
	switch d := d.(type) {
	case byteFallbackDecoder:
		return true
	case decoderSequence:
		for _, x := range d {
			if hasByteFallback(x) {
				return true
			}
		}
	}
	return false
}

// assignAddedIDs gives added tokens the ids the Rust crate gives them, whatever ids the file
// states: the vocabulary id when the content is in the model's vocabulary, the id of an
// earlier added token with the same content, else the next id after the vocabulary and the
// added tokens so far.
func (t *Tokenizer) assignAddedIDs() {
	size := t.model.size()
	maxID := -1
	seen := map[string]int{}
	for _, a := range t.added {
		if id, ok := seen[a.Content]; ok {
			a.ID = id
		} else if id, ok := t.model.tokenToID(a.Content); ok {
			a.ID = id
		} else if maxID < 0 || (maxID < size && size > 0) {
			a.ID = size
		} else {
			a.ID = maxID + 1
		}
		seen[a.Content] = a.ID
		maxID = max(maxID, a.ID)
	}
}

// finish builds the lookup tables and picks the raw-byte fast path.
func (t *Tokenizer) finish() {
	t.assignAddedIDs()
	t.addedByID = map[int]*AddedToken{}
	t.addedByContent = map[string]*AddedToken{}
	t.specialContent = map[string]bool{}
	for _, a := range t.added {
		t.addedByID[a.ID] = a
		t.addedByContent[a.Content] = a
		if a.Special {
			t.specialContent[a.Content] = true
		}
	}
	// Special tokens come first in the Rust crate's automaton (ties go to the first pattern).
	ordered := make([]*AddedToken, 0, len(t.added))
	for _, a := range t.added {
		if a.Special {
			ordered = append(ordered, a)
		}
	}
	for _, a := range t.added {
		if !a.Special {
			ordered = append(ordered, a)
		}
	}
	var raw, normd []*AddedToken
	for _, a := range ordered {
		if a.Normalized {
			normd = append(normd, a)
		} else {
			raw = append(raw, a)
		}
	}
	t.rawAdded = newAddedMatcher(raw, func(a *AddedToken) string { return a.Content })
	t.normAdded = newAddedMatcher(normd, func(a *AddedToken) string {
		if t.normalizer == nil {
			return a.Content
		}
		return t.normalizer.normalize(ntext{s: a.Content}).s
	})
	// Distinct ids: the model's plus the added tokens outside it.
	t.vocabSize = t.model.size()
	extra := map[int]bool{}
	for _, a := range t.added {
		if _, ok := t.model.idToToken(a.ID); !ok {
			extra[a.ID] = true
		}
	}
	t.vocabSize += len(extra)
	t.byteFallback = hasByteFallback(t.dec)
	if _, ok := t.dec.(byteLevelDecoder); ok {
		t.prepareByteDecoding()
	}

	// Raw-byte fast path: a BPE model fed by a final ByteLevel pre-tokenizer.
	if b, ok := t.model.(*bpe); ok && b.prefix == "" && b.suffix == "" {
		switch p := t.pre.(type) {
		case *byteLevelPre:
			p.raw = true
			b.setRaw()
			t.rawBytes = true
		case preSequence:
			if n := len(p); n > 0 {
				if last, ok := p[n-1].(*byteLevelPre); ok {
					others := false
					for _, q := range p[:n-1] {
						if _, ok := q.(*byteLevelPre); ok {
							others = true
						}
					}
					if !others {
						last.raw = true
						b.setRaw()
						t.rawBytes = true
					}
				}
			}
		}
	}
	if b, ok := t.model.(*bpe); ok && !t.rawBytes {
		b.enableMarkerSplit("▁")
	}
}

func parsePattern(o jobj, key string) (matcher, error) {
	po, err := parseObj(o.m[key], o.sub(key))
	if err != nil {
		return nil, err
	}
	if s, ok := po.m["String"]; ok {
		var lit string
		if err := json.Unmarshal(s, &lit); err != nil {
			return nil, fmtErr(po.sub("String"), "expected a string", err)
		}
		return literalMatcher{lit}, nil
	}
	if s, ok := po.m["Regex"]; ok {
		var src string
		if err := json.Unmarshal(s, &src); err != nil {
			return nil, fmtErr(po.sub("Regex"), "expected a string", err)
		}
		m, err := compileRegex(src)
		if err != nil {
			return nil, fmtErr(po.sub("Regex"), "cannot compile the regex", err)
		}
		return m, nil
	}
	return nil, fmtErr(po.path, "expected {\"String\": ...} or {\"Regex\": ...}", nil)
}

func parseNormalizer(raw json.RawMessage, path string) (normalizer, error) {
	o, err := parseObj(raw, path)
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Strip":
		l, err := o.boolean("strip_left", true)
		if err != nil {
			return nil, err
		}
		r, err := o.boolean("strip_right", true)
		if err != nil {
			return nil, err
		}
		return strip{l, r}, nil
	case "Replace":
		m, err := parsePattern(o, "pattern")
		if err != nil {
			return nil, err
		}
		c, err := o.str("content", "")
		if err != nil {
			return nil, err
		}
		return replace{m, c}, nil
	case "Prepend":
		s, err := o.str("prepend", "")
		if err != nil {
			return nil, err
		}
		return prepend{s}, nil
	case "BertNormalizer":
		var bn bertNormalizer
		if bn.cleanText, err = o.boolean("clean_text", true); err != nil {
			return nil, err
		}
		if bn.chineseChars, err = o.boolean("handle_chinese_chars", true); err != nil {
			return nil, err
		}
		if bn.lowercase, err = o.boolean("lowercase", true); err != nil {
			return nil, err
		}
		if bn.stripAccents, err = o.boolean("strip_accents", bn.lowercase); err != nil {
			return nil, err
		}
		return bn, nil
	case "Sequence":
		seq, err := sequence(o, path, "normalizers", parseNormalizer)
		if err != nil {
			return nil, err
		}
		return normSequence(seq), nil
	case "Precompiled":
		return parsePrecompiled(o)
	case "Nmt":
		return nmt{}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	}
	return nil, unsupported(path, fmt.Sprintf("normalizer type %q", typ))
}

func parseBehavior(o jobj, key string, def splitBehavior) (splitBehavior, error) {
	s, err := o.str(key, "")
	if err != nil {
		return 0, err
	}
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "removed":
		return behaviorRemoved, nil
	case "isolated":
		return behaviorIsolated, nil
	case "mergedwithprevious":
		return behaviorMergedWithPrevious, nil
	case "mergedwithnext":
		return behaviorMergedWithNext, nil
	case "contiguous":
		return behaviorContiguous, nil
	}
	return 0, fmtErr(o.sub(key), fmt.Sprintf("expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous, found %q", s), nil)
}

func parseMetaspace(o jobj) (rune, prependScheme, bool, error) {
	rep, err := o.char("replacement", '▁')
	if err != nil {
		return 0, 0, false, err
	}
	scheme := prependAlways
	if o.has("prepend_scheme") {
		s, err := o.str("prepend_scheme", "always")
		if err != nil {
			return 0, 0, false, err
		}
		switch s {
		case "always":
		case "first":
			scheme = prependFirst
		case "never":
			scheme = prependNever
		default:
			return 0, 0, false, fmtErr(o.sub("prepend_scheme"), fmt.Sprintf("expected always, first or never, found %q", s), nil)
		}
	} else if o.has("add_prefix_space") {
		aps, err := o.boolean("add_prefix_space", true)
		if err != nil {
			return 0, 0, false, err
		}
		if !aps {
			scheme = prependNever
		}
	}
	split, err := o.boolean("split", true)
	return rep, scheme, split, err
}

func parsePreTokenizer(raw json.RawMessage, path string) (preTokenizer, error) {
	o, err := parseObj(raw, path)
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		p := &byteLevelPre{}
		if p.addPrefixSpace, err = o.boolean("add_prefix_space", true); err != nil {
			return nil, err
		}
		if p.useRegex, err = o.boolean("use_regex", true); err != nil {
			return nil, err
		}
		return p, nil
	case "Split":
		m, err := parsePattern(o, "pattern")
		if err != nil {
			return nil, err
		}
		b, err := parseBehavior(o, "behavior", behaviorIsolated)
		if err != nil {
			return nil, err
		}
		inv, err := o.boolean("invert", false)
		if err != nil {
			return nil, err
		}
		return splitPre{m: m, behavior: b, invert: inv}, nil
	case "Metaspace":
		rep, scheme, split, err := parseMetaspace(o)
		if err != nil {
			return nil, err
		}
		return metaspacePre{replacement: rep, scheme: scheme, doSplit: split}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre{}, nil
	case "Digits":
		ind, err := o.boolean("individual_digits", false)
		if err != nil {
			return nil, err
		}
		return digitsPre{ind}, nil
	case "Punctuation":
		b, err := parseBehavior(o, "behavior", behaviorIsolated)
		if err != nil {
			return nil, err
		}
		return punctuationPre{b}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "FixedLength":
		n, err := o.integer("length", 5)
		if err != nil {
			return nil, err
		}
		return fixedLengthPre{n}, nil
	case "CharDelimiterSplit":
		d, err := o.char("delimiter", ' ')
		if err != nil {
			return nil, err
		}
		return charDelimiterPre{d}, nil
	case "Sequence":
		seq, err := sequence(o, path, "pretokenizers", parsePreTokenizer)
		if err != nil {
			return nil, err
		}
		return preSequence(seq), nil
	}
	return nil, unsupported(path, fmt.Sprintf("pre-tokenizer type %q", typ))
}

func tokenIDPair(o jobj, key string) (int, error) {
	raw := o.m[key]
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return 0, fmtErr(o.sub(key), "expected [token, id], found "+abbrev(raw), nil)
	}
	var id int
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, fmtErr(o.sub(key), "expected an integer id, found "+abbrev(pair[1]), nil)
	}
	return id, nil
}

func parsePostProcessor(raw json.RawMessage, path string, m model) (postProcessor, error) {
	o, err := parseObj(raw, path)
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "TemplateProcessing":
		specials := map[string][]int{}
		if o.has("special_tokens") {
			so, err := parseObj(o.m["special_tokens"], o.sub("special_tokens"))
			if err != nil {
				return nil, err
			}
			for name, r := range so.m {
				var st struct {
					IDs []int `json:"ids"`
				}
				if err := json.Unmarshal(r, &st); err != nil {
					return nil, fmtErr(so.sub(name), "expected {\"id\", \"ids\", \"tokens\"}", err)
				}
				specials[name] = st.IDs
			}
		}
		l, err := o.list("single")
		if err != nil {
			return nil, err
		}
		var tp templateProcessor
		for i, r := range l {
			ipath := fmt.Sprintf("%s.single[%d]", path, i)
			var item map[string]struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r, &item); err != nil || len(item) != 1 {
				return nil, fmtErr(ipath, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}", err)
			}
			for k, v := range item {
				switch k {
				case "Sequence":
					if v.ID != "A" {
						return nil, fmtErr(ipath, fmt.Sprintf("expected sequence A in a single template, found %q", v.ID), nil)
					}
					tp.single = append(tp.single, templatePiece{sequence: true})
				case "SpecialToken":
					ids, ok := specials[v.ID]
					if !ok {
						return nil, fmtErr(ipath, fmt.Sprintf("special token %q is missing from special_tokens", v.ID), nil)
					}
					tp.single = append(tp.single, templatePiece{ids: ids})
				default:
					return nil, fmtErr(ipath, fmt.Sprintf("expected SpecialToken or Sequence, found %q", k), nil)
				}
			}
		}
		return tp, nil
	case "ByteLevel":
		var p byteLevelProcessor
		if p.trimOffsets, err = o.boolean("trim_offsets", true); err != nil {
			return nil, err
		}
		if p.addPrefixSpace, err = o.boolean("add_prefix_space", true); err != nil {
			return nil, err
		}
		return p, nil
	case "BertProcessing", "RobertaProcessing":
		var p wrapProcessor
		if p.cls, err = tokenIDPair(o, "cls"); err != nil {
			return nil, err
		}
		if p.sep, err = tokenIDPair(o, "sep"); err != nil {
			return nil, err
		}
		if typ == "RobertaProcessing" {
			var bl byteLevelProcessor
			if bl.trimOffsets, err = o.boolean("trim_offsets", true); err != nil {
				return nil, err
			}
			if bl.addPrefixSpace, err = o.boolean("add_prefix_space", true); err != nil {
				return nil, err
			}
			p.inner = bl
		}
		return p, nil
	case "Sequence":
		seq, err := sequence(o, path, "processors", func(r json.RawMessage, p string) (postProcessor, error) { return parsePostProcessor(r, p, m) })
		if err != nil {
			return nil, err
		}
		return processorSequence(seq), nil
	}
	return nil, unsupported(path, fmt.Sprintf("post-processor type %q", typ))
}

func parseDecoder(raw json.RawMessage, path string) (decoder, error) {
	o, err := parseObj(raw, path)
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Metaspace":
		rep, scheme, _, err := parseMetaspace(o)
		if err != nil {
			return nil, err
		}
		return metaspaceDecoder{replacement: rep, prepend: scheme != prependNever}, nil
	case "Strip":
		c, err := o.char("content", ' ')
		if err != nil {
			return nil, err
		}
		a, err := o.integer("start", 0)
		if err != nil {
			return nil, err
		}
		b, err := o.integer("stop", 0)
		if err != nil {
			return nil, err
		}
		return stripDecoder{c, a, b}, nil
	case "Replace":
		m, err := parsePattern(o, "pattern")
		if err != nil {
			return nil, err
		}
		c, err := o.str("content", "")
		if err != nil {
			return nil, err
		}
		return replaceDecoder{m, c}, nil
	case "WordPiece":
		p, err := o.str("prefix", "##")
		if err != nil {
			return nil, err
		}
		c, err := o.boolean("cleanup", true)
		if err != nil {
			return nil, err
		}
		return wordPieceDecoder{p, c}, nil
	case "CTC":
		var d ctcDecoder
		if d.pad, err = o.str("pad_token", "<pad>"); err != nil {
			return nil, err
		}
		if d.delimiter, err = o.str("word_delimiter_token", "|"); err != nil {
			return nil, err
		}
		if d.cleanup, err = o.boolean("cleanup", true); err != nil {
			return nil, err
		}
		return d, nil
	case "BPEDecoder":
		s, err := o.str("suffix", "</w>")
		if err != nil {
			return nil, err
		}
		return bpeDecoder{s}, nil
	case "Sequence":
		seq, err := sequence(o, path, "decoders", parseDecoder)
		if err != nil {
			return nil, err
		}
		return decoderSequence(seq), nil
	}
	return nil, unsupported(path, fmt.Sprintf("decoder type %q", typ))
}

func parseModel(raw json.RawMessage, path string) (model, error) {
	o, err := parseObj(raw, path)
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	if typ == "" {
		switch {
		case o.has("merges"):
			typ = "BPE"
		case o.has("max_input_chars_per_word"):
			typ = "WordPiece"
		case o.has("unk_id"):
			typ = "Unigram"
		default:
			typ = "WordLevel"
		}
	}
	switch typ {
	case "BPE":
		return parseBPE(o)
	case "WordPiece":
		return parseWordPiece(o)
	case "WordLevel":
		return parseWordLevel(o)
	case "Unigram":
		return parseUnigram(o)
	}
	return nil, unsupported(path, fmt.Sprintf("model type %q", typ))
}

func parseVocabMap(o jobj) (map[string]int, map[int]string, error) {
	vocab, ok := parseVocabFast(o.m["vocab"])
	if !ok {
		if err := json.Unmarshal(o.m["vocab"], &vocab); err != nil {
			return nil, nil, fmtErr(o.sub("vocab"), "expected an object of token: id", err)
		}
	}
	r := make(map[int]string, len(vocab))
	for k, v := range vocab {
		if v < 0 || v > 1<<32-1 {
			return nil, nil, fmtErr(o.sub("vocab"), fmt.Sprintf("expected ids from 0 to 4294967295, found %d for %q", v, k), nil)
		}
		if old, dup := r[v]; dup {
			// Keep a deterministic choice, the smallest string.
			if old < k {
				continue
			}
		}
		r[v] = k
	}
	return vocab, r, nil
}

func parseBPE(o jobj) (model, error) {
	m := &bpe{unkID: -1}
	if o.has("dropout") {
		var d float64
		if err := json.Unmarshal(o.m["dropout"], &d); err != nil {
			return nil, fmtErr(o.sub("dropout"), "expected a number or null", err)
		}
		if d != 0 {
			return nil, unsupported(o.sub("dropout"), "BPE dropout (randomized encoding)")
		}
	}
	var err error
	if m.vocab, m.vocabR, err = parseVocabMap(o); err != nil {
		return nil, err
	}
	if m.unk, err = o.str("unk_token", ""); err != nil {
		return nil, err
	}
	if m.unk != "" {
		id, ok := m.vocab[m.unk]
		if !ok {
			return nil, fmtErr(o.sub("unk_token"), fmt.Sprintf("unk token %q is not in the vocabulary", m.unk), nil)
		}
		m.unkID = id
	}
	if m.prefix, err = o.str("continuing_subword_prefix", ""); err != nil {
		return nil, err
	}
	if m.suffix, err = o.str("end_of_word_suffix", ""); err != nil {
		return nil, err
	}
	if m.fuseUnk, err = o.boolean("fuse_unk", false); err != nil {
		return nil, err
	}
	if m.byteFallback, err = o.boolean("byte_fallback", false); err != nil {
		return nil, err
	}
	if m.ignoreMerges, err = o.boolean("ignore_merges", false); err != nil {
		return nil, err
	}
	// Merges are "left right" strings (older files) or [left, right] pairs.
	var pairs [][2]string
	fast := false
	if o.has("merges") {
		pairs, fast = parseMergesFast(o.m["merges"])
	}
	if o.has("merges") && !fast {
		var strs []string
		if err := json.Unmarshal(o.m["merges"], &strs); err == nil {
			pairs = make([][2]string, len(strs))
			for i, s := range strs {
				a, b, ok := strings.Cut(s, " ")
				if !ok {
					return nil, fmtErr(fmt.Sprintf("%s[%d]", o.sub("merges"), i), fmt.Sprintf("expected \"left right\", found %q", s), nil)
				}
				pairs[i] = [2]string{a, b}
			}
		} else {
			var lists [][]string
			if err := json.Unmarshal(o.m["merges"], &lists); err != nil {
				return nil, fmtErr(o.sub("merges"), "expected a list of \"left right\" strings or of [left, right] pairs", err)
			}
			pairs = make([][2]string, len(lists))
			for i, l := range lists {
				if len(l) != 2 {
					return nil, fmtErr(fmt.Sprintf("%s[%d]", o.sub("merges"), i), fmt.Sprintf("expected [left, right], found %d items", len(l)), nil)
				}
				pairs[i] = [2]string{l[0], l[1]}
			}
		}
	}
	m.merges = make(map[uint64]mergeVal, len(pairs))
	for i, pr := range pairs {
		a, b := pr[0], pr[1]
		ida, ok1 := m.vocab[a]
		idb, ok2 := m.vocab[b]
		if !ok1 || !ok2 {
			return nil, fmtErr(fmt.Sprintf("%s[%d]", o.sub("merges"), i), fmt.Sprintf("merge %q + %q uses a token missing from the vocabulary", a, b), nil)
		}
		right := b
		if m.prefix != "" && strings.HasPrefix(right, m.prefix) {
			right = right[len(m.prefix):]
		}
		nid, ok := m.vocab[a+right]
		if !ok {
			return nil, fmtErr(fmt.Sprintf("%s[%d]", o.sub("merges"), i), fmt.Sprintf("merge result %q is missing from the vocabulary", a+right), nil)
		}
		m.merges[pairKey(int32(ida), int32(idb))] = mergeVal{rank: int32(i), newID: int32(nid)}
	}
	return m, nil
}
