package tokenize

import (
	"encoding/json"
	"fmt"
)

// truncation is tokenizer.json's "truncation": sequences longer than maxLength tokens (the
// special tokens the post-processor adds included) are cut on one side.
type truncation struct {
	maxLength int
	left      bool
}

// padding is tokenizer.json's "padding": sequences shorter than a fixed length (or, in a batch,
// than the longest one) are filled with the pad token on one side.
type padding struct {
	fixed    int // 0: pad a batch to its longest sequence
	multiple int
	padID    int
	left     bool
}

func parseDirection(o jobj) (bool, error) {
	d, err := o.str("direction", "Right")
	if err != nil {
		return false, err
	}
	switch d {
	case "Right":
		return false, nil
	case "Left":
		return true, nil
	}
	return false, fmtErr(o.sub("direction"), fmt.Sprintf("expected Right or Left, found %q", d), nil)
}

func parseTruncation(raw json.RawMessage) (*truncation, error) {
	o, err := parseObj(raw, "truncation")
	if err != nil {
		return nil, err
	}
	var tr truncation
	if tr.maxLength, err = o.integer("max_length", 512); err != nil {
		return nil, err
	}
	if tr.maxLength < 0 {
		return nil, fmtErr(o.sub("max_length"), fmt.Sprintf("expected a non-negative length, found %d", tr.maxLength), nil)
	}
	if tr.left, err = parseDirection(o); err != nil {
		return nil, err
	}
	strategy, err := o.str("strategy", "LongestFirst")
	if err != nil {
		return nil, err
	}
	if strategy != "LongestFirst" && strategy != "OnlyFirst" {
		// OnlySecond fails on single sequences in the Rust crate.
		return nil, unsupported(o.sub("strategy"), fmt.Sprintf("truncation strategy %q", strategy))
	}
	return &tr, nil
}

// maxPadLength bounds padding lengths so that a hostile file cannot make every encoding huge.
const maxPadLength = 1 << 20

func parsePadding(raw json.RawMessage) (*padding, error) {
	o, err := parseObj(raw, "padding")
	if err != nil {
		return nil, err
	}
	var p padding
	if p.left, err = parseDirection(o); err != nil {
		return nil, err
	}
	if p.padID, err = o.integer("pad_id", 0); err != nil {
		return nil, err
	}
	if p.multiple, err = o.integer("pad_to_multiple_of", 0); err != nil {
		return nil, err
	}
	if p.multiple < 0 || p.multiple > maxPadLength {
		return nil, fmtErr(o.sub("pad_to_multiple_of"), fmt.Sprintf("expected 0 to %d, found %d", maxPadLength, p.multiple), nil)
	}
	var strategy any
	if err := json.Unmarshal(o.m["strategy"], &strategy); err != nil && o.has("strategy") {
		return nil, fmtErr(o.sub("strategy"), "expected \"BatchLongest\" or {\"Fixed\": n}", err)
	}
	switch s := strategy.(type) {
	case nil:
	case string:
		if s != "BatchLongest" {
			return nil, fmtErr(o.sub("strategy"), fmt.Sprintf("expected \"BatchLongest\" or {\"Fixed\": n}, found %q", s), nil)
		}
	case map[string]any:
		f, ok := s["Fixed"].(float64)
		if !ok || len(s) != 1 || f < 0 || f > maxPadLength || f != float64(int(f)) {
			return nil, fmtErr(o.sub("strategy"), fmt.Sprintf("expected {\"Fixed\": n} with an integer n from 0 to %d", maxPadLength), nil)
		}
		p.fixed = int(f)
	default:
		return nil, fmtErr(o.sub("strategy"), "expected \"BatchLongest\" or {\"Fixed\": n}", nil)
	}
	return &p, nil
}

// addedCount is how many tokens the post-processor adds to a single sequence.
func addedCount(p postProcessor) int {
	switch p := p.(type) {
	case templateProcessor:
		n := 0
		for _, pc := range p.single {
			if !pc.sequence {
				n += len(pc.ids)
			}
		}
		return n
	case wrapProcessor:
		return 2
	case processorSequence:
		n := 0
		for _, q := range p {
			n += addedCount(q)
		}
		return n
	}
	return 0
}

// truncate cuts e before post-processing, keeping room for the special tokens to come.
func (t *Tokenizer) truncate(e encoding, addSpecial bool) encoding {
	if t.trunc == nil {
		return e
	}
	max := t.trunc.maxLength
	if n := addedCount(t.post); addSpecial && n > 0 {
		if n > max {
			// The Rust crate's unsigned subtraction wraps around here (release builds), which
			// turns truncation off.
			return e
		}
		max -= n
	}
	if len(e.ids) <= max {
		return e
	}
	if t.trunc.left {
		e.ids = e.ids[len(e.ids)-max:]
		if e.offs != nil {
			e.offs = e.offs[len(e.offs)-max:]
		}
	} else {
		e.ids = e.ids[:max]
		if e.offs != nil {
			e.offs = e.offs[:max]
		}
	}
	return e
}

// padTo returns the padded length for sequences of length n (the longest of a batch).
func (p *padding) padTo(n int) int {
	l := n
	if p.fixed > 0 {
		l = p.fixed
	}
	if p.multiple > 0 && l%p.multiple > 0 {
		l += p.multiple - l%p.multiple
	}
	return l
}

// pad fills e up to length l.
func (p *padding) pad(e encoding, l int) encoding {
	if len(e.ids) >= l {
		return e
	}
	k := l - len(e.ids)
	ids := make([]int, 0, l)
	var offs [][2]int
	if e.offs != nil {
		offs = make([][2]int, 0, l)
	}
	if !p.left {
		ids = append(ids, e.ids...)
		offs = append(offs, e.offs...)
	}
	for range k {
		ids = append(ids, p.padID)
		if e.offs != nil {
			offs = append(offs, [2]int{0, 0})
		}
	}
	if p.left {
		ids = append(ids, e.ids...)
		offs = append(offs, e.offs...)
	}
	e.ids = ids
	if e.offs != nil {
		e.offs = offs
	}
	return e
}
