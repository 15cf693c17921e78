package inference

import "strings"

// stopMatcher finds stop strings in streamed text. Text that could be the start of a stop string
// is held back until the next delta shows whether it is, so a stop string split across tokens is
// still found and never reaches the output.
type stopMatcher struct {
	stops []string
	held  string
}

// newStopMatcher returns a matcher for the non-empty strings in stops.
func newStopMatcher(stops []string) *stopMatcher {
	m := &stopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// add takes the next text delta and returns the text that is safe to emit; matched is true when
// a stop string was found, in which case out is the text before it and the rest is dropped.
func (m *stopMatcher) add(delta string) (out string, matched bool) {
	if len(m.stops) == 0 {
		return delta, false
	}
	buf := m.held + delta
	first := -1
	for _, s := range m.stops {
		if i := strings.Index(buf, s); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		m.held = ""
		return buf[:first], true
	}
	// Hold back the longest suffix of buf that is a proper prefix of some stop string.
	keep := 0
	for _, s := range m.stops {
		for n := min(len(s)-1, len(buf)); n > keep; n-- {
			if strings.HasSuffix(buf, s[:n]) {
				keep = n
				break
			}
		}
	}
	m.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// flush returns the held-back text at the end of generation.
func (m *stopMatcher) flush() string {
	out := m.held
	m.held = ""
	return out
}
