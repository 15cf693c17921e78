package sectorflow

import (
	"regexp"
	"slices"
	"strings"
)

// fieldKeywords gate findFields: a field name worth a look contains one of them.
var fieldKeywords = []string{"pass", "secret", "token", "key", "credential", "cookie"}

// keyNorm strips the separators of a field name.
var keyNorm = strings.NewReplacer("_", "", "-", "", ".", "")

// isKeyByte reports whether c can be part of a field name.
func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// lowerASCII lower-cases ASCII letters only, so that byte offsets stay those of s.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// fieldKeys returns the [start, end) ranges of the field names in s that contain a field
// keyword, in order. lower is lowerASCII(s).
func fieldKeys(s, lower string) [][2]int {
	var keys [][2]int
	for _, kw := range fieldKeywords {
		for off := 0; off < len(s); {
			i := strings.Index(lower[off:], kw)
			if i < 0 {
				break
			}
			start, end := off+i, off+i+len(kw)
			for start > 0 && isKeyByte(s[start-1]) {
				start--
			}
			for end < len(s) && isKeyByte(s[end]) {
				end++
			}
			keys = append(keys, [2]int{start, end})
			off = end
		}
	}
	slices.SortFunc(keys, func(a, b [2]int) int { return a[0] - b[0] })
	return slices.Compact(keys)
}

// fieldStrength says how sure a field name is to hold a secret.
type fieldStrength int

const (
	notSecret fieldStrength = iota
	// weakField names often hold non-secrets too (token counts, tokenizer special tokens, file
	// paths of credentials): short, numeric, path-like or <special> values are left alone.
	weakField
	// strongField names always hold a secret (password, client_secret): any real value goes.
	strongField
)

// specialTokenPrefixes are the tokenizer fields whose names end in "token" but hold vocabulary
// entries such as "</s>", common in LLM configs and training logs.
var specialTokenPrefixes = []string{
	"eos", "bos", "pad", "unk", "sep", "cls", "mask", "start", "end", "stop", "next", "first",
	"last", "special", "image", "audio", "video", "boi", "eoi", "boa", "eoa", "think", "fim",
	"additional", "decoder", "middle", "prefix", "suffix",
}

// specialTokenField reports whether key (normalised to norm) names a tokenizer special token:
// "eos_token", "padToken", "decoder_start_token", but not "backend_token".
func specialTokenField(key, norm string) bool {
	words := fieldWords(key)
	for _, p := range specialTokenPrefixes {
		if norm == p+"token" {
			return true
		}
		if len(words) >= 2 && words[len(words)-1] == "token" && words[len(words)-2] == p {
			return true
		}
	}
	return false
}

// fieldWords splits a field name into lower-case words at separators and camelCase humps.
func fieldWords(key string) []string {
	var words []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.':
			flush()
		case c >= 'A' && c <= 'Z' && i > 0 && key[i-1] >= 'a' && key[i-1] <= 'z':
			flush()
			cur = append(cur, c)
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return words
}

// classifyKey says whether a field name holds a secret, and which kind.
func classifyKey(key string) (string, fieldStrength) {
	k := strings.ToLower(strings.TrimLeft(key, "-"))
	if len(k) > 64 {
		return "", notSecret
	}
	norm := keyNorm.Replace(k)
	switch {
	case strings.HasSuffix(norm, "password"), strings.HasSuffix(norm, "passwd"),
		strings.HasSuffix(norm, "passphrase"):
		return kindPassword, strongField
	case k == "pass" && strings.HasPrefix(key, "-"), // --pass; a bare "pass:" is mostly prose ("first pass: 3ms")
		strings.HasSuffix(k, "_pass"), strings.HasSuffix(k, "-pass"), strings.HasSuffix(k, ".pass"):
		return kindPassword, strongField
	case strings.HasSuffix(norm, "privatekey"):
		return kindPrivateKey, strongField
	case strings.HasSuffix(norm, "apikey"):
		return kindAPIKey, strongField
	case strings.HasSuffix(norm, "secret"), strings.HasSuffix(norm, "secretkey"),
		strings.HasSuffix(norm, "accesskey"), strings.HasSuffix(norm, "authkey"),
		strings.HasSuffix(norm, "signingkey"), strings.HasSuffix(norm, "encryptionkey"),
		strings.HasSuffix(norm, "masterkey"), strings.HasSuffix(norm, "accountkey"):
		return kindSecret, strongField
	case strings.HasSuffix(norm, "token"):
		if specialTokenField(key, norm) {
			return "", notSecret
		}
		return kindToken, weakField
	case strings.HasSuffix(norm, "cookie"):
		return kindSecret, strongField // session cookies are bearer credentials
	case norm == "authorization", strings.HasSuffix(norm, "proxyauthorization"):
		return kindAuth, strongField
	case strings.HasSuffix(norm, "credential"), strings.HasSuffix(norm, "credentials"):
		return kindSecret, weakField
	}
	return "", notSecret
}

// findFields appends the spans of values of secret-named fields: key=value, key: value (YAML),
// "key": "value" (JSON, also JSON escaped inside a string), 'key': 'value', key => value and
// --key value. It runs in time linear in len(s): keys are visited in order, line bounds are found
// once per line, placeholders are recognised from a value's first bytes, and keys inside a value
// already taken are skipped.
func findFields(s, lower string, spans []span) []span {
	lineStart, lineEnd := 0, -1
	taken := 0
	for _, m := range fieldKeys(s, lower) {
		if m[0] < taken {
			continue
		}
		key := s[m[0]:m[1]]
		if strings.HasSuffix(s[:m[0]], "://") {
			continue // the user of a URL (https://token:secret@host): the URL rule's business
		}
		kind, strength := classifyKey(key)
		if strength == notSecret {
			continue
		}
		if m[0] > lineEnd {
			lineStart = strings.LastIndexAny(s[:m[0]], "\r\n") + 1
			lineEnd = len(s)
			if j := strings.IndexAny(s[m[0]:], "\r\n"); j >= 0 {
				lineEnd = m[0] + j
			}
		}
		start, end, ok := fieldValue(s, m[0], m[1], lineStart, lineEnd, strength)
		if !ok || !secretValue(s[start:end], strength) {
			continue
		}
		if start > 0 && (s[start-1] == ' ' || s[start-1] == '\t') && strings.HasPrefix(key, "-") &&
			strings.Trim(s[start:end], "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == "" {
			continue // --password VALUE in a usage line: a placeholder
		}
		spans = append(spans, span{start: start, end: end, kind: kind, prio: kindPrio[kind]})
		taken = end
	}
	return spans
}

// fieldValue locates the value that follows the field name s[keyStart:keyEnd], on the line
// s[lineStart:lineEnd]. It gives up early on values that are placeholders by their first bytes.
func fieldValue(s string, keyStart, keyEnd, lineStart, lineEnd int, strength fieldStrength) (start, end int, ok bool) {
	i := keyEnd
	// The closing quote of a quoted key.
	switch {
	case strings.HasPrefix(s[i:lineEnd], `\"`):
		i += 2
	case i < lineEnd && (s[i] == '"' || s[i] == '\''):
		i++
	}
	i = skipBlanks(s[:lineEnd], i)
	sep := ""
	for _, op := range []string{"=>", ":=", ":", "="} {
		if strings.HasPrefix(s[i:lineEnd], op) {
			sep = op
			break
		}
	}
	if sep == "" {
		// --password hunter2
		if !strings.HasPrefix(s[keyStart:], "-") || i == keyEnd || i >= lineEnd || s[i] == '-' {
			return 0, 0, false
		}
		sep = " "
	} else {
		i += len(sep)
	}
	if sep == ":" && i < lineEnd && s[i] == ':' { // Go's :: or C++ scope, not a field
		return 0, 0, false
	}
	i = skipBlanks(s[:lineEnd], i)
	if i >= lineEnd {
		return 0, 0, false
	}
	quoted := 0
	switch {
	case strings.HasPrefix(s[i:lineEnd], `\"`):
		quoted = 2
	case s[i] == '"' || s[i] == '\'':
		quoted = 1
	}
	start = i + quoted
	if placeholderPrefix(s[start:min(start+128, lineEnd)], strength) {
		return 0, 0, false
	}
	switch {
	case quoted == 2: // JSON inside a JSON string
		if j := strings.Index(s[start:lineEnd], `\"`); j >= 0 {
			return start, start + j, true
		}
		return start, lineEnd, true
	case quoted == 1 && s[i] == '"':
		for j := start; j < lineEnd; j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return start, j, true
			}
		}
		return start, lineEnd, true
	case quoted == 1:
		if j := strings.IndexByte(s[start:lineEnd], '\''); j >= 0 {
			return start, start + j, true
		}
		return start, lineEnd, true
	}
	if sep == ":" && yamlLineStart(s[lineStart:keyStart]) {
		// key: value at the start of a line is YAML: the value runs to the end of the line, less
		// a comment.
		end = lineEnd
		if j := strings.Index(s[start:end], " #"); j >= 0 {
			end = start + j
		}
		end = start + len(strings.TrimRight(s[start:end], " \t"))
		return start, end, end > start
	}
	end = start
	for end < lineEnd && !strings.ContainsRune(" \t,;&\"'`", rune(s[end])) {
		end++
	}
	for end > start && strings.IndexByte(")]}>", s[end-1]) >= 0 {
		end--
	}
	return start, end, end > start
}

// yamlLineStart reports whether prefix, the text before a key on its line, is only indentation
// or a list dash.
func yamlLineStart(prefix string) bool {
	prefix = strings.TrimSpace(prefix)
	return prefix == "" || prefix == "-"
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

var (
	codeCallRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\(`)
	fileNameRE = regexp.MustCompile(`^[a-z0-9_.\-]+\.(?:json|ya?ml|txt|toml|ini|cfg|conf|env|pem|key|crt|model|safetensors|bin|py|go|md|jsonl|csv)$`)
)

// placeholderPrefix reports whether a value that starts with v is a reference, template,
// placeholder or code rather than a secret; v may be only the first bytes of the value.
func placeholderPrefix(v string, strength fieldStrength) bool {
	switch {
	case strings.HasPrefix(v, "[REDACTED:"), strings.HasPrefix(v, "${"), strings.HasPrefix(v, "{{"),
		strings.HasPrefix(v, "$("), strings.HasPrefix(v, "%("), strings.HasPrefix(v, "<"),
		strings.HasPrefix(v, "{"), strings.HasPrefix(v, "process.env."):
		return true // a reference, template or placeholder, not a value
	}
	lv := lowerASCII(v)
	switch {
	case strings.HasPrefix(lv, "os.environ"), strings.HasPrefix(lv, "os.getenv("),
		strings.HasPrefix(lv, "env."), strings.HasPrefix(lv, "env:"):
		return true
	case codeCallRE.MatchString(v):
		return true // code, not a value: secret: bytes.Clone(m)
	}
	if strength == strongField {
		return false
	}
	return strings.HasPrefix(v, "[") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") ||
		strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "$")
}

// secretValue rejects values that are placeholders, references or, for weak field names,
// clearly not secrets.
func secretValue(v string, strength fieldStrength) bool {
	if v == "" || placeholderPrefix(v[:min(len(v), 128)], strength) {
		return false
	}
	lv := strings.ToLower(v)
	switch lv {
	case "null", "nil", "none", "true", "false", "undefined", "[", "[]", `""`, "''":
		return false
	}
	if len(v) >= 3 && strings.Trim(v, "*xX•.") == "" {
		return false // already masked
	}
	if strength == strongField {
		return true
	}
	if len(v) < 8 || fileNameRE.MatchString(lv) {
		return false // token: tokenizer_config.json names a file
	}
	return strings.Trim(v, "0123456789.,_+-eE") != "" // numbers are counts, not tokens
}
