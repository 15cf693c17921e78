package sectorflow

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// fuzzRedactor registers secret when it can be registered.
func fuzzRedactor(t *testing.T, secret string) (*PatternRedactor, bool) {
	r, err := NewPatternRedactor(&RedactorOptions{Secrets: []Secret{NewSecret(secret)}})
	if err == nil {
		return r, secret != ""
	}
	r, err = NewPatternRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, false
}

func addRedactSeeds(f *testing.F) {
	seeds := []string{
		"password=hunter2", `{"api_key": "abc\"def"}`, "Authorization: Bearer " + fakeJWT,
		fakePEMRSA, "postgres://u:p@ss@h/db", "x [REDACTED:secret]tail", "  token: 12345678abc # c",
		"AccountKey=" + fakeAzureKey + ";", fakeGitHub + fakeGitLab + fakeHF, "--secret\tvalue",
		"-----BEGIN PRIVATE KEY-----", "\\\"password\\\":\\\"x", "sk-" + strings.Repeat("a1", 12),
		"basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), "\xff\xfepassword:\xff",
	}
	for _, s := range seeds {
		f.Add(s, "hunter2")
		f.Add(s+" hunter22 "+base64.StdEncoding.EncodeToString([]byte("xhunter22y")), "hunter22")
		f.Add(s, "]tail")
	}
}

// FuzzRedact: Redact never panics, is idempotent, and never outputs a registered secret.
func FuzzRedact(f *testing.F) {
	addRedactSeeds(f)
	f.Fuzz(func(t *testing.T, text, secret string) {
		r, registered := fuzzRedactor(t, secret)
		got := r.Redact(text)
		if again := r.Redact(got); again != got {
			t.Fatalf("not idempotent:\n in: %q\nout: %q\nagain: %q", text, got, again)
		}
		if registered && strings.Contains(got, secret) {
			t.Fatalf("secret %q left in %q (input %q)", secret, got, text)
		}
		if registered {
			with := text + " " + base64.StdEncoding.EncodeToString([]byte(secret)) + " " + secret
			if out := r.Redact(with); strings.Contains(out, secret) {
				t.Fatalf("secret %q left in %q", secret, out)
			}
		}
	})
}

// FuzzJobLogWriter: the writer never panics, never outputs a registered single-line secret,
// and its output does not depend on where writes are split.
func FuzzJobLogWriter(f *testing.F) {
	addRedactSeeds(f)
	f.Fuzz(func(t *testing.T, text, secret string) {
		if strings.ContainsAny(secret, "\r\n") {
			secret = strings.NewReplacer("\r", "", "\n", "").Replace(secret)
		}
		r, registered := fuzzRedactor(t, secret)
		run := func(parts ...string) string {
			var out bytes.Buffer
			w := NewJobLogWriter(&out, r)
			for _, p := range parts {
				if _, err := w.Write([]byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			return out.String()
		}
		whole := run(text)
		if registered && strings.Contains(whole, secret) {
			t.Fatalf("secret %q left in %q (input %q)", secret, whole, text)
		}
		mid := len(text) / 2
		if split := run(text[:mid], text[mid:]); split != whole {
			t.Fatalf("split at %d changes the output:\nwhole: %q\nsplit: %q", mid, whole, split)
		}
	})
}
