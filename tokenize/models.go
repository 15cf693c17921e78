package tokenize

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// wordPiece is BERT's greedy longest-match-first model.
type wordPiece struct {
	vocab    map[string]int
	vocabR   map[int]string
	unk      string
	prefix   string
	maxChars int
	maxLen   int // longest vocabulary entry in bytes: longer candidates cannot match
}

func (m *wordPiece) tokenToID(tok string) (int, bool) { id, ok := m.vocab[tok]; return id, ok }
func (m *wordPiece) idToToken(id int) (string, bool)  { s, ok := m.vocabR[id]; return s, ok }
func (m *wordPiece) size() int                        { return len(m.vocab) }

func (m *wordPiece) unkToken(s string, dst []token) []token {
	if id, ok := m.vocab[m.unk]; ok {
		return append(dst, token{id: id, start: 0, end: len(s)})
	}
	return dst
}

func (m *wordPiece) tokenize(s string, dst []token) []token {
	if utf8.RuneCountInString(s) > m.maxChars {
		return m.unkToken(s, dst)
	}
	n := len(dst)
	for start := 0; start < len(s); {
		end := len(s)
		if lim := start + m.maxLen; lim < end {
			end = lim
			for end > start && end < len(s) && !utf8.RuneStart(s[end]) {
				end--
			}
		}
		found := false
		for start < end {
			sub := s[start:end]
			if start > 0 {
				sub = m.prefix + sub
			}
			if id, ok := m.vocab[sub]; ok {
				dst = append(dst, token{id: id, start: start, end: end})
				found = true
				break
			}
			_, size := utf8.DecodeLastRuneInString(s[start:end])
			end -= size
		}
		if !found {
			return m.unkToken(s, dst[:n])
		}
		start = end
	}
	return dst
}

func parseWordPiece(o jobj) (model, error) {
	m := &wordPiece{}
	var err error
	if m.vocab, m.vocabR, err = parseVocabMap(o); err != nil {
		return nil, err
	}
	if m.unk, err = o.str("unk_token", "[UNK]"); err != nil {
		return nil, err
	}
	if m.prefix, err = o.str("continuing_subword_prefix", "##"); err != nil {
		return nil, err
	}
	if m.maxChars, err = o.integer("max_input_chars_per_word", 100); err != nil {
		return nil, err
	}
	for tok := range m.vocab {
		m.maxLen = max(m.maxLen, len(tok))
	}
	return m, nil
}

// wordLevel maps whole words to ids.
type wordLevel struct {
	vocab  map[string]int
	vocabR map[int]string
	unk    string
}

func (m *wordLevel) tokenToID(tok string) (int, bool) { id, ok := m.vocab[tok]; return id, ok }
func (m *wordLevel) idToToken(id int) (string, bool)  { s, ok := m.vocabR[id]; return s, ok }
func (m *wordLevel) size() int                        { return len(m.vocab) }

func (m *wordLevel) tokenize(s string, dst []token) []token {
	if id, ok := m.vocab[s]; ok {
		return append(dst, token{id: id, start: 0, end: len(s)})
	}
	if id, ok := m.vocab[m.unk]; ok {
		return append(dst, token{id: id, start: 0, end: len(s)})
	}
	return dst
}

func parseWordLevel(o jobj) (model, error) {
	m := &wordLevel{}
	var err error
	if m.vocab, m.vocabR, err = parseVocabMap(o); err != nil {
		return nil, err
	}
	if m.unk, err = o.str("unk_token", "<unk>"); err != nil {
		return nil, err
	}
	return m, nil
}

// unigram is SentencePiece's unigram model: the Viterbi path of highest total score.
type unigram struct {
	pieces       []string
	scores       []float64
	vocab        map[string]int
	unkID        int // -1 without
	byteFallback bool
	minScore     float64
	maxLen       int
}

const unkPenalty = 10.0

func (m *unigram) tokenToID(tok string) (int, bool) { id, ok := m.vocab[tok]; return id, ok }
func (m *unigram) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.pieces) {
		return "", false
	}
	return m.pieces[id], true
}
func (m *unigram) size() int { return len(m.pieces) }

type latticeNode struct {
	id    int
	score float64
	from  int // -1 when unset
}

func (m *unigram) tokenize(s string, dst []token) []token {
	if len(s) == 0 {
		return dst
	}
	unkScore := m.minScore - unkPenalty
	best := make([]latticeNode, len(s)+1)
	for i := range best {
		best[i].from = -1
	}
	for start := 0; start < len(s); {
		here := best[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		single := false
		for end := start + 1; end <= len(s) && end-start <= m.maxLen; end++ {
			id, ok := m.vocab[s[start:end]]
			if !ok {
				continue
			}
			c := here + m.scores[id]
			if t := &best[end]; t.from < 0 || c > t.score {
				t.score, t.from, t.id = c, start, id
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			if m.unkID < 0 {
				return dst
			}
			c := here + unkScore
			if t := &best[start+mblen]; t.from < 0 || c > t.score {
				t.score, t.from, t.id = c, start, m.unkID
			}
		}
		start += mblen
	}
	// Backtrack, fusing consecutive unknown pieces.
	type seg struct{ a, b int }
	var segs []seg
	for end := len(s); end > 0; {
		nd := best[end]
		if nd.from < 0 {
			return dst
		}
		if nd.id == m.unkID && len(segs) > 0 && best[segs[len(segs)-1].b].id == m.unkID && segs[len(segs)-1].a == end {
			segs[len(segs)-1].a = nd.from
		} else {
			segs = append(segs, seg{nd.from, end})
		}
		end = nd.from
	}
	for i := len(segs) - 1; i >= 0; i-- {
		sg := segs[i]
		str := s[sg.a:sg.b]
		if id, ok := m.vocab[str]; ok {
			dst = append(dst, token{id: id, start: sg.a, end: sg.b})
			continue
		}
		if m.byteFallback {
			ids := make([]int, 0, len(str))
			for k := 0; k < len(str); k++ {
				id, ok := m.vocab[fmt.Sprintf("<0x%02X>", str[k])]
				if !ok {
					ids = nil
					break
				}
				ids = append(ids, id)
			}
			if ids != nil {
				// Every byte token covers the whole unknown piece, as in the Rust crate.
				for _, id := range ids {
					dst = append(dst, token{id: id, start: sg.a, end: sg.b})
				}
				continue
			}
		}
		dst = append(dst, token{id: m.unkID, start: sg.a, end: sg.b})
	}
	return dst
}

func parseUnigram(o jobj) (model, error) {
	m := &unigram{unkID: -1, vocab: map[string]int{}, minScore: math.Inf(1)}
	var err error
	if o.has("unk_id") {
		if m.unkID, err = o.integer("unk_id", -1); err != nil {
			return nil, err
		}
	}
	if m.byteFallback, err = o.boolean("byte_fallback", false); err != nil {
		return nil, err
	}
	l, err := o.list("vocab")
	if err != nil {
		return nil, err
	}
	for i, raw := range l {
		var pair []json.RawMessage
		var p string
		var sc float64
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 ||
			json.Unmarshal(pair[0], &p) != nil || json.Unmarshal(pair[1], &sc) != nil {
			return nil, fmtErr(fmt.Sprintf("%s[%d]", o.sub("vocab"), i), "expected [piece, score], found "+abbrev(raw), nil)
		}
		m.pieces = append(m.pieces, p)
		m.scores = append(m.scores, sc)
		if _, dup := m.vocab[p]; !dup {
			m.vocab[p] = i
		}
		m.minScore = math.Min(m.minScore, sc)
		m.maxLen = max(m.maxLen, len(p))
	}
	if m.unkID >= len(m.pieces) {
		return nil, fmtErr(o.sub("unk_id"), fmt.Sprintf("expected an id below the vocabulary size %d, found %d", len(m.pieces), m.unkID), nil)
	}
	return m, nil
}
