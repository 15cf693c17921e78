package tokenize

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// token is one model output: an id and its byte range inside the word it came from.
type token struct {
	id         int
	start, end int
}

// model turns one pre-tokenized word into tokens.
type model interface {
	tokenize(word string, dst []token) []token
	tokenToID(tok string) (int, bool)
	idToToken(id int) (string, bool)
	size() int
}

type mergeVal struct{ rank, newID int32 }

// bpe is the BPE model, SentencePiece-style options included.
type bpe struct {
	vocab        map[string]int
	vocabR       map[int]string
	merges       map[uint64]mergeVal
	unk          string
	unkID        int // -1 without an unk token
	prefix       string
	suffix       string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool

	// raw is set when a ByteLevel pre-tokenizer feeds the model: words are raw bytes, rawVocab
	// is the vocabulary with byte-level keys mapped back to bytes, and rawInit gives the initial
	// symbols of each byte.
	raw      bool
	rawVocab map[string]int
	rawInit  [256]rawSym

	// splitMarker, when set, is a character before which no merge can ever reach back
	// (no vocabulary token has it after a different character): long words are cut before
	// each occurrence that follows another character, which is exact and lets the cache work
	// for SentencePiece-style models that have no pre-tokenizer.
	splitMarker string

	cache wordCache
}

// rawSym is how one byte starts out: a vocabulary id, byte-fallback ids, or unknown.
type rawSym struct {
	ids []int32
	unk bool
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpe) tokenToID(tok string) (int, bool) { id, ok := m.vocab[tok]; return id, ok }
func (m *bpe) idToToken(id int) (string, bool)  { s, ok := m.vocabR[id]; return s, ok }
func (m *bpe) size() int                        { return len(m.vocab) }

// setRaw switches the model to raw-byte input.
func (m *bpe) setRaw() {
	m.raw = true
	m.rawVocab = make(map[string]int, len(m.vocab))
	var buf []byte
	for tok, id := range m.vocab {
		b, ok := byteLevelDecode(tok, buf[:0])
		if !ok {
			continue // unreachable from byte-level input
		}
		buf = b
		m.rawVocab[string(b)] = id
	}
	for c := 0; c < 256; c++ {
		s := byteToCharStr[c]
		if id, ok := m.vocab[s]; ok {
			m.rawInit[c] = rawSym{ids: []int32{int32(id)}}
			continue
		}
		if ids, ok := m.fallbackIDs(s); ok {
			m.rawInit[c] = rawSym{ids: ids}
			continue
		}
		m.rawInit[c] = rawSym{unk: true}
	}
}

// fallbackIDs returns the <0xXX> tokens of the bytes of s when all exist.
func (m *bpe) fallbackIDs(s string) ([]int32, bool) {
	if !m.byteFallback {
		return nil, false
	}
	ids := make([]int32, 0, len(s))
	for i := 0; i < len(s); i++ {
		id, ok := m.vocab[fmt.Sprintf("<0x%02X>", s[i])]
		if !ok {
			return nil, false
		}
		ids = append(ids, int32(id))
	}
	return ids, true
}

type symbol struct {
	id         int32
	prev, next int32
	len        int32
}

type mergeItem struct {
	rank, pos, newID int32
}

// mergeHeap is a binary min-heap ordered by rank, then position (the Rust crate's order).
type mergeHeap []mergeItem

func (h mergeHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h *mergeHeap) init() {
	n := len(*h)
	for i := n/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *mergeHeap) push(x mergeItem) {
	*h = append(*h, x)
	s := *h
	for j := len(s) - 1; j > 0; {
		p := (j - 1) / 2
		if !s.less(j, p) {
			break
		}
		s[j], s[p] = s[p], s[j]
		j = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
	return top
}

func (h mergeHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// word is the symbol list being merged.
type word struct {
	syms  []symbol
	heap  mergeHeap
	unkID int32
	unkOn bool
	unkLn int32
}

func (w *word) add(id int32, n int32) {
	k := int32(len(w.syms))
	w.syms = append(w.syms, symbol{id: id, prev: k - 1, next: k + 1, len: n})
}

// pushUnk follows the Rust crate's handling of unknown characters, fused or not.
func (w *word) pushUnk(m *bpe, n int32) {
	if m.unkID < 0 {
		return
	}
	switch {
	case w.unkOn && m.fuseUnk:
		w.unkLn += n
	case w.unkOn:
		w.add(w.unkID, w.unkLn)
		w.unkLn = n
	default:
		w.unkOn, w.unkID, w.unkLn = true, int32(m.unkID), n
	}
}

func (w *word) flushUnk() {
	if w.unkOn {
		w.add(w.unkID, w.unkLn)
		w.unkOn = false
	}
}

var wordPool = sync.Pool{New: func() any { return &word{} }}

// initWord builds the initial symbols of s (Rust's merge_word before merging).
func (m *bpe) initWord(s string, w *word) {
	if m.raw {
		for i := 0; i < len(s); i++ {
			r := &m.rawInit[s[i]]
			if r.unk {
				w.pushUnk(m, 1)
				continue
			}
			if len(r.ids) == 1 {
				w.flushUnk()
				w.add(r.ids[0], 1)
				continue
			}
			// Byte fallback does not flush a pending unknown, as in the Rust crate.
			for k, id := range r.ids {
				n := int32(0)
				if k == 0 {
					n = 1
				}
				w.add(id, n)
			}
		}
		w.flushUnk()
		return
	}
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+size]
		if i > 0 && m.prefix != "" {
			piece = m.prefix + piece
		}
		if i+size == len(s) && m.suffix != "" {
			piece += m.suffix
		}
		if id, ok := m.vocab[piece]; ok {
			w.flushUnk()
			w.add(int32(id), int32(size))
		} else if ids, ok := m.fallbackIDs(piece); ok {
			for _, id := range ids {
				w.add(id, 1)
			}
		} else {
			w.pushUnk(m, int32(size))
		}
		i += size
	}
	w.flushUnk()
}

// mergeAll applies merges by rank, leftmost first, exactly as the Rust crate's Word::merge_all.
func (m *bpe) mergeAll(w *word) {
	syms := w.syms
	if len(syms) < 2 {
		return
	}
	w.heap = w.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			w.heap = append(w.heap, mergeItem{v.rank, int32(i), v.newID})
		}
	}
	w.heap.init()
	n := int32(len(syms))
	for len(w.heap) > 0 {
		top := w.heap.pop()
		cur := &syms[top.pos]
		if cur.len == 0 && cur.id == -1 || cur.next >= n || cur.next < 0 {
			continue
		}
		if cur.id == -1 {
			continue
		}
		right := syms[cur.next]
		v, ok := m.merges[pairKey(cur.id, right.id)]
		if !ok || v.newID != top.newID {
			continue
		}
		nextPos := cur.next
		cur.id = top.newID
		cur.len += right.len
		cur.next = right.next
		syms[nextPos].id = -1
		syms[nextPos].len = 0
		if right.next >= 0 && right.next < n {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			p := syms[cur.prev]
			if v, ok := m.merges[pairKey(p.id, cur.id)]; ok {
				w.heap.push(mergeItem{v.rank, cur.prev, v.newID})
			}
		}
		if cur.next >= 0 && cur.next < n {
			nx := syms[cur.next]
			if v, ok := m.merges[pairKey(cur.id, nx.id)]; ok {
				w.heap.push(mergeItem{v.rank, top.pos, v.newID})
			}
		}
	}
}

const maxCachedWord = 256

// enableMarkerSplit turns on splitMarker for marker when the vocabulary allows it.
func (m *bpe) enableMarkerSplit(marker string) {
	if m.raw || m.prefix != "" || m.suffix != "" || m.ignoreMerges {
		return
	}
	if _, ok := m.vocab[marker]; !ok {
		return
	}
	for tok := range m.vocab {
		for i := 1; i < len(tok); {
			k := strings.Index(tok[i:], marker)
			if k < 0 {
				break
			}
			at := i + k
			if !strings.HasSuffix(tok[:at], marker) {
				return
			}
			i = at + len(marker)
		}
	}
	m.splitMarker = marker
}

func (m *bpe) tokenize(s string, dst []token) []token {
	if len(s) == 0 {
		return dst
	}
	if m.splitMarker != "" && len(s) > 64 {
		start := 0
		for i := 1; i < len(s); {
			k := strings.Index(s[i:], m.splitMarker)
			if k < 0 {
				break
			}
			at := i + k
			if !strings.HasSuffix(s[:at], m.splitMarker) {
				dst = m.tokenizeShifted(s[start:at], start, dst)
				start = at
			}
			i = at + len(m.splitMarker)
		}
		return m.tokenizeShifted(s[start:], start, dst)
	}
	return m.tokenizeWord(s, dst)
}

// tokenizeShifted tokenizes a segment of a word that starts at byte off of the word.
func (m *bpe) tokenizeShifted(seg string, off int, dst []token) []token {
	n := len(dst)
	dst = m.tokenizeWord(seg, dst)
	for i := n; i < len(dst); i++ {
		dst[i].start += off
		dst[i].end += off
	}
	return dst
}

func (m *bpe) tokenizeWord(s string, dst []token) []token {
	if len(s) == 0 {
		return dst
	}
	if m.ignoreMerges {
		v := m.vocab
		if m.raw {
			v = m.rawVocab
		}
		if id, ok := v[s]; ok {
			return append(dst, token{id: id, start: 0, end: len(s)})
		}
	}
	if len(s) < maxCachedWord {
		if pieces, ok := m.cache.get(s); ok {
			return appendPieces(dst, pieces)
		}
	}
	w := wordPool.Get().(*word)
	w.syms = w.syms[:0]
	w.unkOn = false
	m.initWord(s, w)
	m.mergeAll(w)
	pieces := make([]piece, 0, len(w.syms))
	for i := 0; i < len(w.syms); {
		sy := w.syms[i]
		pieces = append(pieces, piece{id: sy.id, len: sy.len})
		if sy.next <= int32(i) {
			break
		}
		i = int(sy.next)
	}
	wordPool.Put(w)
	if len(s) < maxCachedWord {
		// Clone: s is a slice of the caller's text, which the cache must not keep alive.
		m.cache.put(strings.Clone(s), pieces)
	}
	return appendPieces(dst, pieces)
}

func appendPieces(dst []token, pieces []piece) []token {
	off := 0
	for _, p := range pieces {
		dst = append(dst, token{id: int(p.id), start: off, end: off + int(p.len)})
		off += int(p.len)
	}
	return dst
}

// piece is a cached token of a word: its id and byte length.
type piece struct{ id, len int32 }

// wordCache is a bounded, concurrency-safe cache of word tokenizations. Reads of published
// entries take no lock: new entries collect in a locked side map and are published as a new
// immutable snapshot when it has grown enough (amortized copying). Like the Rust crate's cache
// it stops accepting entries when full instead of evicting.
type wordCache struct {
	snap    atomic.Pointer[map[string][]piece]
	mu      sync.Mutex
	pending map[string][]piece
	total   int
}

const wordCacheCap = 1 << 17

func (c *wordCache) get(s string) ([]piece, bool) {
	if m := c.snap.Load(); m != nil {
		if p, ok := (*m)[s]; ok {
			return p, true
		}
	}
	c.mu.Lock()
	p, ok := c.pending[s]
	c.mu.Unlock()
	return p, ok
}

func (c *wordCache) put(s string, p []piece) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= wordCacheCap {
		return
	}
	if c.pending == nil {
		c.pending = map[string][]piece{}
	}
	if _, dup := c.pending[s]; dup {
		return
	}
	c.pending[s] = p
	c.total++
	old := c.snap.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if len(c.pending) < max(256, n/2) && c.total < wordCacheCap {
		return
	}
	m := make(map[string][]piece, n+len(c.pending))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	for k, v := range c.pending {
		m[k] = v
	}
	c.snap.Store(&m)
	c.pending = map[string][]piece{}
}
