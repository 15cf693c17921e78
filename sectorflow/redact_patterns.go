package sectorflow

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
)

// The kinds of "[REDACTED:<kind>]" markers. Earlier kinds win when matches overlap, so the more
// specific name is reported (a GitHub token in a TOKEN= variable is a github-token).
const (
	kindPrivateKey   = "private-key"
	kindAWSKeyID     = "aws-access-key-id"
	kindAWSSecret    = "aws-secret-access-key"
	kindGCPAPIKey    = "gcp-api-key"
	kindAzureKey     = "azure-key"
	kindAzureSAS     = "azure-sas"
	kindGitHub       = "github-token"
	kindGitLab       = "gitlab-token"
	kindSlackToken   = "slack-token"
	kindSlackWebhook = "slack-webhook"
	kindStripe       = "stripe-key"
	kindAnthropic    = "anthropic-key"
	kindOpenAI       = "openai-key"
	kindHuggingFace  = "huggingface-token"
	kindGCPOAuth     = "gcp-oauth"
	kindNPM          = "npm-token"
	kindPyPI         = "pypi-token"
	kindDocker       = "docker-token"
	kindSendGrid     = "sendgrid-key"
	kindJWT          = "jwt"
	kindAuth         = "authorization"
	kindURLPassword  = "url-password"
	kindPassword     = "password"
	kindAPIKey       = "api-key"
	kindToken        = "token"
	kindSecret       = "secret"
	kindUnstable     = "unredactable"
)

// allKinds lists the kinds in priority order.
var allKinds = []string{
	kindPrivateKey, kindAWSKeyID, kindAWSSecret, kindGCPAPIKey, kindAzureKey, kindAzureSAS,
	kindGitHub, kindGitLab, kindSlackToken, kindSlackWebhook, kindStripe, kindAnthropic, kindOpenAI,
	kindHuggingFace, kindGCPOAuth, kindNPM, kindPyPI, kindDocker, kindSendGrid, kindJWT, kindAuth, kindURLPassword, kindPassword, kindAPIKey, kindToken,
	kindSecret, kindUnstable,
}

var kindPrio = func() map[string]int {
	m := map[string]int{}
	for i, k := range allKinds {
		m[k] = i
	}
	return m
}()

// rule is one built-in pattern.
type rule struct {
	kind string
	// keywords are lower-case literals of which the text must contain one before the regexp
	// runs; they keep clean log lines cheap.
	keywords []string
	re       *regexp.Regexp
	// group is the submatch to replace; 0 replaces the whole match.
	group int
	// valid, when set, rejects a candidate (the replaced part) that only looks like a secret.
	valid func(string) bool
}

var rules = []rule{
	{kind: kindAWSKeyID, keywords: []string{"akia", "asia", "abia", "acca", "a3t"},
		re: regexp.MustCompile(`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`)},
	{kind: kindAWSSecret, keywords: []string{"secret_access_key", "secretaccesskey", "secret-access-key", "aws_secret", "awssecret"},
		re:    regexp.MustCompile(`(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key|(?:aws-)?secret-access-key)\\?["']?(?:\s*(?:=>|:=|[:=])\s*|\s+)\\?["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|\z)`),
		group: 1},
	{kind: kindAWSSecret, keywords: []string{"aws", "akia", "asia"}, // a bare secret key on a line about AWS
		re:    regexp.MustCompile(`(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
		group: 1,
		valid: func(s string) bool { return hasUpper(s) && hasLower(s) && hasDigit(s) }},
	{kind: kindGCPAPIKey, keywords: []string{"aiza"},
		re: regexp.MustCompile(`AIza[0-9A-Za-z_\-]{35}`)},
	{kind: kindAzureKey, keywords: []string{"accountkey=", "sharedaccesskey="},
		re: regexp.MustCompile(`(?i)(?:AccountKey|SharedAccessKey)=([^;\s"']+)`), group: 1},
	{kind: kindAzureSAS, keywords: []string{"sharedaccesssignature="},
		re: regexp.MustCompile(`(?i)SharedAccessSignature=([^;\s"']+)`), group: 1},
	{kind: kindAzureSAS, keywords: []string{"sig="},
		re: regexp.MustCompile(`[?&]sig=([A-Za-z0-9%+/=_\-]{16,})`), group: 1},
	{kind: kindGitHub, keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`)},
	{kind: kindGitLab, keywords: []string{"glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-", "gloas-", "glimt-", "glagent-"},
		re: regexp.MustCompile(`\bgl(?:pat|dt|rt|ptt|ft|soat|cbt|oas|imt|agent)-[0-9A-Za-z_\-]{20,}`)},
	{kind: kindSlackToken, keywords: []string{"xox"},
		re: regexp.MustCompile(`\bxox[abeoprs]-[0-9A-Za-z\-]{10,}`)},
	{kind: kindSlackWebhook, keywords: []string{"hooks.slack.com"},
		re: regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/+\-]+)`), group: 1},
	{kind: kindStripe, keywords: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"},
		re: regexp.MustCompile(`\b(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z+/=]{20,})`)},
	{kind: kindAnthropic, keywords: []string{"sk-ant-"},
		re: regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_\-]{20,}`)},
	{kind: kindOpenAI, keywords: []string{"sk-"},
		re:    regexp.MustCompile(`\bsk-[A-Za-z0-9_\-]{20,}`),
		valid: func(s string) bool { return hasDigit(s[3:]) && (hasUpper(s[3:]) || hasLower(s[3:])) }},
	{kind: kindHuggingFace, keywords: []string{"hf_", "api_org_"},
		re:    regexp.MustCompile(`\b(?:hf_|api_org_)[A-Za-z0-9]{30,}\b`),
		valid: func(s string) bool { return hasUpper(s[3:]) && hasLower(s[3:]) }},
	{kind: kindGCPOAuth, keywords: []string{"gocspx-", "ya29."},
		re: regexp.MustCompile(`\b(?:GOCSPX-[A-Za-z0-9_\-]{28}|ya29\.[A-Za-z0-9_\-]{20,})`)},
	{kind: kindNPM, keywords: []string{"npm_"},
		re: regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`)},
	{kind: kindPyPI, keywords: []string{"pypi-ageichlwas5vcmc"},
		re: regexp.MustCompile(`\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}`)},
	{kind: kindDocker, keywords: []string{"dckr_pat_"},
		re: regexp.MustCompile(`\bdckr_pat_[A-Za-z0-9_\-]{27,}`)},
	{kind: kindSendGrid, keywords: []string{"sg."},
		re: regexp.MustCompile(`\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b`)},
	{kind: kindJWT, keywords: []string{"eyj"},
		re: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*`)},
	{kind: kindAuth, keywords: []string{"authorization"},
		re:    regexp.MustCompile(`(?i)\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|key)\s+)?([^\s"'\\,;]+)`),
		group: 1, valid: notPlaceholder},
	{kind: kindAuth, keywords: []string{"bearer"},
		re: regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)`), group: 1, valid: notPlaceholder},
	{kind: kindAuth, keywords: []string{"basic"},
		re: regexp.MustCompile(`(?i)\bbasic\s+([A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|\z)`), group: 1,
		valid: func(s string) bool {
			b, err := base64.StdEncoding.DecodeString(s)
			return err == nil && basicCredentials(b)
		}},
	{kind: kindURLPassword, keywords: []string{"://"},
		re: regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/?#@"'<>\[\]]*:([^\s/?#"'<>]+)@`), group: 1},
}

// findPatterns appends the spans of the built-in patterns found in s. Each rule runs only on
// the lines that hold one of its keywords, so long logs cost little more than the keyword search;
// private keys, which span lines, are found by findPEM.
func findPatterns(s string, spans []span) []span {
	lower := lowerASCII(s)
	var lines [][2]int
	for _, r := range rules {
		lines = keywordLines(s, lower, r.keywords, lines[:0])
		for _, ln := range lines {
			for _, m := range r.re.FindAllStringSubmatchIndex(s[ln[0]:ln[1]], -1) {
				start, end := m[2*r.group], m[2*r.group+1]
				if start < 0 || start == end {
					continue
				}
				start, end = start+ln[0], end+ln[0]
				if r.valid != nil && !r.valid(s[start:end]) {
					continue
				}
				spans = append(spans, span{start: start, end: end, kind: r.kind, prio: kindPrio[r.kind]})
			}
		}
	}
	if strings.Contains(lower, "private key") {
		spans = findPEM(s, spans)
	}
	if containsAny(lower, fieldKeywords) {
		spans = findFields(s, lower, spans)
	}
	return spans
}

// keywordLines appends to out the [start, end) ranges of the lines of s that contain one of
// keywords (searched in lower), in order and without repeats.
func keywordLines(s, lower string, keywords []string, out [][2]int) [][2]int {
	for _, k := range keywords {
		for off := 0; off < len(s); {
			i := strings.Index(lower[off:], k)
			if i < 0 {
				break
			}
			i += off
			start := strings.LastIndexByte(s[:i], '\n') + 1
			end := len(s)
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				end = i + j
			}
			out = append(out, [2]int{start, end})
			off = end
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b [2]int) int { return a[0] - b[0] })
		out = slices.Compact(out)
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, k := range subs {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }
func hasUpper(s string) bool { return strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") }
func hasLower(s string) bool { return strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz") }

// basicCredentials reports whether b looks like decoded HTTP Basic credentials: printable
// "user:password".
func basicCredentials(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return bytes.IndexByte(b, ':') >= 0
}

// notPlaceholder rejects credentials that stand for one in documentation and error messages:
// KEY, YOUR_API_TOKEN, <token>, ${TOKEN}.
func notPlaceholder(s string) bool {
	if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-.") == "" {
		return false
	}
	return !strings.HasPrefix(s, "<") && !strings.HasPrefix(s, "$") && !strings.HasPrefix(s, "{")
}
