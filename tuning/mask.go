package tuning

// ByteSpan is a half-open byte range [Start, End) of rendered text that is trained on.
type ByteSpan struct{ Start, End int }

// maxMarkerTokens bounds how far past a trained span the end-of-turn marker is looked for:
// markers are one or two tokens (`<|eot_id|>`, `<|im_end|>`, `</s>`), never a sentence.
const maxMarkerTokens = 4

// TargetMask marks which tokens of a rendered text are loss targets. Token i covers bytes
// offsets[i] of the text; it is a target when it overlaps one of spans (sorted, disjoint). After
// each span the end-of-turn marker is a target too: the tokens that follow the span up to and
// including the first one whose id is in stopIDs, looked for within a few tokens and before the
// next span. A span that already holds a stop token (tokenize.ChatTemplate.AssistantSpans
// includes the marker) is trained through its last stop token, not the separator after it. Tokens with an empty
// byte range (special tokens added by the tokenizer) are targets only as part of a marker.
func TargetMask(ids []int, offsets [][2]int, spans []ByteSpan, stopIDs []int) []bool {
	mask := make([]bool, len(ids))
	stop := make(map[int]bool, len(stopIDs))
	for _, s := range stopIDs {
		stop[s] = true
	}
	for si, sp := range spans {
		if sp.End <= sp.Start {
			continue
		}
		first, last, lastStop := -1, -1, -1
		for t := range ids {
			if offsets[t][1] > offsets[t][0] && offsets[t][0] < sp.End && offsets[t][1] > sp.Start {
				if first < 0 {
					first = t
				}
				last = t
				if stop[ids[t]] {
					lastStop = t
				}
			}
		}
		if first < 0 {
			continue
		}
		if lastStop >= 0 {
			// The span holds its own end-of-turn marker: train through it, not the separator
			// some templates write after it ("<|im_end|>\n").
			last = lastStop
		}
		for t := first; t <= last; t++ {
			mask[t] = true
		}
		if lastStop >= 0 {
			continue
		}
		nextStart := -1
		if si+1 < len(spans) {
			nextStart = spans[si+1].Start
		}
		for j := last + 1; j < len(ids) && j <= last+maxMarkerTokens; j++ {
			if nextStart >= 0 && offsets[j][0] >= nextStart && offsets[j][1] > offsets[j][0] {
				break
			}
			if stop[ids[j]] {
				for k := last + 1; k <= j; k++ {
					mask[k] = true
				}
				break
			}
		}
	}
	return mask
}
