package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/sectorflow/sdk/sectorflow"
)

// ErrInvalidKeys is matched by every error of ParseKeys.
var ErrInvalidKeys = errors.New("invalid keys file")

// Principal is who an API key acts for.
type Principal struct {
	// Tenant owns every file, job and model the key creates, and is the only tenant it sees.
	Tenant string
	// Admin allows the admin calls (deleting a tenant's data).
	Admin bool
}

// Keys maps API keys to the principals they act for. Look keys up with Lookup, which compares
// digests so that the map itself never holds a key in the clear.
type Keys struct {
	byDigest map[[32]byte]Principal
}

// NewKeys returns Keys holding each key of m.
func NewKeys(m map[string]Principal) (*Keys, error) {
	k := &Keys{byDigest: map[[32]byte]Principal{}}
	for key, p := range m {
		if err := k.add(key, p, 0); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// minKeyLen is the shortest API key accepted: shorter ones are guessable.
const minKeyLen = 8

func (k *Keys) add(key string, p Principal, line int) error {
	where := ""
	if line > 0 {
		where = fmt.Sprintf("line %d: ", line)
	}
	if len(key) < minKeyLen {
		return fmt.Errorf("%w: %sexpected an API key of at least %d bytes, found %d", ErrInvalidKeys, where, minKeyLen, len(key))
	}
	for i, c := range key {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' ' {
			return fmt.Errorf("%w: %sexpected an API key of printable ASCII without spaces, found another character at byte %d", ErrInvalidKeys, where, i)
		}
	}
	if err := sectorflow.ValidateTenant(p.Tenant); err != nil {
		return fmt.Errorf("%w: %s%w", ErrInvalidKeys, where, err)
	}
	d := sha256.Sum256([]byte(key))
	if _, dup := k.byDigest[d]; dup {
		return fmt.Errorf("%w: %sthe same API key is listed twice", ErrInvalidKeys, where)
	}
	k.byDigest[d] = p
	return nil
}

// Lookup returns the principal of key.
func (k *Keys) Lookup(key string) (Principal, bool) {
	p, ok := k.byDigest[sha256.Sum256([]byte(key))]
	return p, ok
}

// Tenants lists the tenants the keys act for, each once.
func (k *Keys) Tenants() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range k.byDigest {
		if !seen[p.Tenant] {
			seen[p.Tenant] = true
			out = append(out, p.Tenant)
		}
	}
	return out
}

// maxKeysLine bounds a line of a keys file.
const maxKeysLine = 4096

// ParseKeys reads a keys file: one key a line, as "API-KEY TENANT" or "API-KEY TENANT admin",
// fields separated by spaces or tabs; blank lines and lines starting with '#' are skipped.
// Errors name the line and match ErrInvalidKeys; the key itself is never quoted in them.
func ParseKeys(r io.Reader) (*Keys, error) {
	k := &Keys{byDigest: map[[32]byte]Principal{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxKeysLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("%w: line %d: expected \"API-KEY TENANT [admin]\", found %d fields", ErrInvalidKeys, line, len(f))
		}
		p := Principal{Tenant: f[1]}
		if len(f) == 3 {
			if f[2] != "admin" {
				return nil, fmt.Errorf("%w: line %d: expected \"admin\" or nothing after the tenant, found %q", ErrInvalidKeys, line, f[2])
			}
			p.Admin = true
		}
		if err := k.add(f[0], p, line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d: expected at most %d bytes", ErrInvalidKeys, line+1, maxKeysLine)
		}
		return nil, fmt.Errorf("read keys: %w", err)
	}
	if len(k.byDigest) == 0 {
		return nil, fmt.Errorf("%w: expected at least one key, found none", ErrInvalidKeys)
	}
	return k, nil
}

type principalKey struct{}

// principalOf returns the principal that authenticated r.
func principalOf(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// authenticate resolves the bearer token of r; with no keys configured every request acts for
// DefaultTenant.
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	if s.keys == nil {
		return Principal{Tenant: DefaultTenant}, nil
	}
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return Principal{}, &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: strPtr("invalid_api_key"),
			Message: "Expected an API key in an \"Authorization: Bearer KEY\" header, found none."}
	}
	p, ok := s.keys.Lookup(strings.TrimSpace(token))
	if !ok {
		return Principal{}, &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: strPtr("invalid_api_key"),
			Message: "Incorrect API key provided."}
	}
	return p, nil
}
