package tokenize

import (
	"unicode"
	"unicode/utf8"
)

// encoding is the output of the pipeline before and after post-processing.
type encoding struct {
	ids  []int
	offs [][2]int // nil when offsets are not wanted
}

// postProcessor adds special tokens (TemplateProcessing, BERT, RoBERTa) or adjusts offsets.
type postProcessor interface {
	process(t *Tokenizer, e encoding, addSpecial bool) encoding
}

// templateProcessor is TemplateProcessing for single sequences: a list of pieces, each either
// the sequence or a special token's ids.
type templateProcessor struct {
	single []templatePiece
}

type templatePiece struct {
	sequence bool
	ids      []int
}

func (p templateProcessor) process(_ *Tokenizer, e encoding, addSpecial bool) encoding {
	if !addSpecial {
		return e
	}
	var out encoding
	n := len(e.ids)
	for _, pc := range p.single {
		if !pc.sequence {
			n += len(pc.ids)
		}
	}
	out.ids = make([]int, 0, n)
	if e.offs != nil {
		out.offs = make([][2]int, 0, n)
	}
	for _, pc := range p.single {
		if pc.sequence {
			out.ids = append(out.ids, e.ids...)
			if e.offs != nil {
				out.offs = append(out.offs, e.offs...)
			}
			continue
		}
		out.ids = append(out.ids, pc.ids...)
		if e.offs != nil {
			for range pc.ids {
				out.offs = append(out.offs, [2]int{0, 0})
			}
		}
	}
	return out
}

// byteLevelProcessor trims the offsets of byte-level tokens so they exclude surrounding
// whitespace, when trim_offsets is set.
type byteLevelProcessor struct {
	trimOffsets    bool
	addPrefixSpace bool
}

func (p byteLevelProcessor) process(t *Tokenizer, e encoding, _ bool) encoding {
	if !p.trimOffsets || e.offs == nil {
		return e
	}
	for i, id := range e.ids {
		tok, ok := t.IDToToken(id)
		if !ok {
			continue
		}
		isSpace := func(c rune) bool { return c == byteToChar[' '] || unicode.IsSpace(c) }
		lead, trail := 0, 0
		for _, c := range tok {
			if !isSpace(c) {
				break
			}
			lead++
		}
		for j := len(tok); j > 0; {
			c, size := utf8.DecodeLastRuneInString(tok[:j])
			if !isSpace(c) {
				break
			}
			trail++
			j -= size
		}
		o := e.offs[i]
		// A single leading space on the first token is the one the pre-tokenizer added.
		if lead > 0 && !(p.addPrefixSpace && lead == 1 && (i == 0 || o[0] == 0)) {
			o[0] = min(o[0]+lead, o[1])
		}
		if trail > 0 && o[1] >= trail {
			o[1] = max(o[1]-trail, o[0])
		}
		e.offs[i] = o
	}
	return e
}

// wrapProcessor puts fixed tokens around the sequence (BertProcessing, RobertaProcessing).
type wrapProcessor struct {
	cls, sep int
	inner    postProcessor // offsets trimming of RoBERTa, may be nil
}

func (p wrapProcessor) process(t *Tokenizer, e encoding, addSpecial bool) encoding {
	if p.inner != nil {
		e = p.inner.process(t, e, addSpecial)
	}
	if !addSpecial {
		return e
	}
	tp := templateProcessor{single: []templatePiece{{ids: []int{p.cls}}, {sequence: true}, {ids: []int{p.sep}}}}
	return tp.process(t, e, true)
}

// processorSequence applies post-processors in order.
type processorSequence []postProcessor

func (s processorSequence) process(t *Tokenizer, e encoding, addSpecial bool) encoding {
	for _, p := range s {
		e = p.process(t, e, addSpecial)
	}
	return e
}
