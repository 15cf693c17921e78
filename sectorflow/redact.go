package sectorflow

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Redactor censors secrets out of text. Implementations must be safe for concurrent use and
// idempotent: Redact(Redact(s)) == Redact(s).
type Redactor interface {
	Redact(s string) string
}

// RedactorFunc adapts a function to the Redactor interface.
type RedactorFunc func(s string) string

// Redact returns f(s).
func (f RedactorFunc) Redact(s string) string { return f(s) }

// MinSecretLength is the shortest secret a PatternRedactor accepts: a shorter one would match
// ordinary words and censor most of a log.
const MinSecretLength = 4

// ErrUnredactableSecret reports a registered secret that the redactor cannot censor reliably (too
// short, blank, or part of the replacement text itself). The error names the secret by its
// position and length, never by its value.
var ErrUnredactableSecret = errors.New("secret cannot be redacted")

// RedactorOptions configures NewPatternRedactor; nil means the built-in patterns and no
// registered secrets.
type RedactorOptions struct {
	// Secrets are exact values to censor wherever they appear, also base64-encoded (standard and
	// URL alphabets, padded or not, alone or inside a longer base64 string at any byte alignment),
	// URL-encoded, and JSON- or Go-quoted. A secret spanning several lines is censored whole, and
	// each of its lines of at least MinSecretLength bytes is also censored on its own (for logs
	// redacted line by line). Empty secrets are ignored.
	Secrets []Secret
	// PatternsOff turns the built-in patterns off, leaving only the registered secrets.
	PatternsOff bool
}

// PatternRedactor replaces secrets with "[REDACTED:<kind>]". It finds them by pattern (cloud
// keys, vendor tokens, JWTs, Authorization headers, PEM private keys, credentials in URLs, and the
// values of fields named like password, secret, token, api_key, client_secret or access_key in
// key=value, YAML and JSON text) and by exact value (the registered secrets). It is immutable and
// safe for concurrent use, and Redact is idempotent. The zero value (and a nil pointer) applies
// the built-in patterns with no registered secrets.
//
// The kinds are listed by RedactionKinds. What it does not find: a bare secret with no
// recognisable shape and no key name beside it (a 40-character AWS secret key alone on a line
// looks like any base64 text) unless it is registered; a value on a line after its key (YAML block
// scalars); secrets split by formatting, such as a token wrapped across two lines.
type PatternRedactor struct {
	noPatterns bool
	needles    []needle
}

// NewPatternRedactor returns a redactor with the built-in patterns and opts' secrets. It returns
// an error wrapping ErrUnredactableSecret when a secret is shorter than MinSecretLength, only
// whitespace, or a part of a "[REDACTED:<kind>]" marker.
func NewPatternRedactor(opts *RedactorOptions) (*PatternRedactor, error) {
	r := &PatternRedactor{}
	var secrets []Secret
	if opts != nil {
		r.noPatterns = opts.PatternsOff
		secrets = opts.Secrets
	}
	return r.withSecrets(secrets)
}

// WithSecrets returns a redactor that also censors secrets (which are checked as by
// NewPatternRedactor); r is unchanged.
func (r *PatternRedactor) WithSecrets(secrets ...Secret) (*PatternRedactor, error) {
	return r.withSecrets(secrets)
}

func (r *PatternRedactor) withSecrets(secrets []Secret) (*PatternRedactor, error) {
	if r == nil {
		r = &PatternRedactor{}
	}
	out := &PatternRedactor{noPatterns: r.noPatterns, needles: slices.Clone(r.needles)}
	seen := map[string]bool{}
	for _, n := range out.needles {
		seen[n.text] = true
	}
	for i, s := range secrets {
		v := s.Reveal()
		if v == "" {
			continue
		}
		if err := checkSecret(v); err != nil {
			return nil, fmt.Errorf("register secret #%d (%d bytes): %w", i+1, len(v), err)
		}
		for _, n := range secretNeedles(v) {
			if !seen[n.text] {
				seen[n.text] = true
				out.needles = append(out.needles, n)
			}
		}
	}
	// Longer needles first, so that a secret containing another is reported as one span.
	slices.SortStableFunc(out.needles, func(a, b needle) int { return len(b.text) - len(a.text) })
	return out, nil
}

// checkSecret says why v cannot be registered, or returns nil.
func checkSecret(v string) error {
	if len(v) < MinSecretLength {
		return fmt.Errorf("%w: want at least %d bytes, found %d", ErrUnredactableSecret, MinSecretLength, len(v))
	}
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%w: it is only whitespace", ErrUnredactableSecret)
	}
	for _, k := range allKinds {
		if strings.Contains(marker(k), v) {
			return fmt.Errorf("%w: it occurs inside the replacement text %q", ErrUnredactableSecret, marker(k))
		}
	}
	return nil
}

// maxPasses bounds the passes Redact makes before it gives up on reaching a fixed point.
const maxPasses = 4

// Redact returns s with every secret found replaced by "[REDACTED:<kind>]". It repeats until a
// pass changes nothing, which makes it idempotent and guarantees that no registered secret is
// left, even one that only appears once its neighbours are replaced; text that would still change
// after several passes (only contrived input does that) is replaced whole by
// "[REDACTED:unredactable]".
func (r *PatternRedactor) Redact(s string) string {
	if r == nil {
		r = &PatternRedactor{}
	}
	out := s
	for range maxPasses {
		next, changed := r.pass(out)
		if !changed {
			return out
		}
		out = next
	}
	return marker(kindUnstable)
}

// span is a byte range of the text to replace.
type span struct {
	start, end int
	kind       string
	prio       int
}

// pass finds every secret in s once and replaces it.
func (r *PatternRedactor) pass(s string) (string, bool) {
	if s == "" {
		return s, false
	}
	var spans []span
	if !r.noPatterns {
		spans = findPatterns(s, spans)
	}
	spans = r.findSecrets(s, spans)
	if len(spans) == 0 {
		return s, false
	}
	var protected [][]int
	if strings.Contains(s, "[REDACTED:") {
		protected = markerRE.FindAllStringIndex(s, -1)
	}
	// Drop what lies inside an existing marker; grow what overlaps one to swallow it.
	kept := spans[:0]
	for _, sp := range spans {
		if sp.end <= sp.start {
			continue
		}
		inside := false
		// Markers are sorted and disjoint: visit only those that overlap the span.
		first := sort.Search(len(protected), func(i int) bool { return protected[i][1] > sp.start })
		for _, p := range protected[first:] {
			if p[0] >= sp.end {
				break
			}
			if sp.start >= p[0] && sp.end <= p[1] {
				inside = true
				break
			}
			sp.start, sp.end = min(sp.start, p[0]), max(sp.end, p[1])
		}
		if !inside {
			kept = append(kept, sp)
		}
	}
	if len(kept) == 0 {
		return s, false
	}
	slices.SortFunc(kept, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(kept); {
		cur := kept[i]
		j := i + 1
		for ; j < len(kept) && kept[j].start < cur.end; j++ {
			cur.end = max(cur.end, kept[j].end)
			if kept[j].prio < cur.prio {
				cur.kind, cur.prio = kept[j].kind, kept[j].prio
			}
		}
		b.WriteString(s[last:cur.start])
		b.WriteString(marker(cur.kind))
		last = cur.end
		i = j
	}
	b.WriteString(s[last:])
	out := b.String()
	return out, out != s
}

// marker is the replacement text for a secret of the given kind.
func marker(kind string) string { return "[REDACTED:" + kind + "]" }

// markerRE matches the markers this package writes, and only those: a look-alike with an unknown
// kind is ordinary text and gets no protection.
var markerRE = regexp.MustCompile(`\[REDACTED:(?:` + strings.Join(allKinds, "|") + `)\]`)

// RedactionKinds returns the kinds a PatternRedactor writes in its "[REDACTED:<kind>]" markers.
func RedactionKinds() []string { return slices.Clone(allKinds) }
