package sectorflow

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestRedactor(t testing.TB, secrets ...string) *PatternRedactor {
	t.Helper()
	var ss []Secret
	for _, s := range secrets {
		ss = append(ss, NewSecret(s))
	}
	r, err := NewPatternRedactor(&RedactorOptions{Secrets: ss})
	require.NoError(t, err)
	return r
}

// Fake credentials in the real formats. None is live; several are the vendors' documented
// examples.
const (
	fakeAWSKeyID   = "AKIAIOSFODNN7EXAMPLE"
	fakeAWSSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	fakeGCPKey     = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
	fakeGitHub     = "ghp_R2d2C3poL7uk3Sky9wAlk3rHanS0lo123456"
	fakeGitHubPAT  = "github_pat_11ABCDEFG0123456789abc_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456"
	fakeGitLab     = "glpat-xY7zQ2wR9tK4mN8pL3vB"
	fakeSlack      = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	fakeSlackHook  = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
	fakeStripe     = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	fakeOpenAI     = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_A7b0C3d6E9f2G5h8I1j4K7l"
	fakeAnthropic  = "sk-ant-api03-Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-ZyXwVuTsRqPoNmLkJiHgFeDcBa012345AA"
	fakeHF         = "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
	fakeJWT        = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	fakeAzureKey   = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	fakePEMRSA     = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH\nlWu2/a1gB9JW5TBQ+AVpum9Okx7KfqkfBKL9mcHgSL0yWMdjMfNOqNtrQqKlN4kE\n-----END RSA PRIVATE KEY-----"
	fakeBasicCreds = "QWxhZGRpbjpvcGVuIHNlc2FtZQ==" // Aladdin:open sesame
)

func TestPatternRedactorFormats(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"aws key id", "export AWS_ACCESS_KEY_ID=" + fakeAWSKeyID, "export AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key-id]"},
		{"aws secret ini", "aws_secret_access_key = " + fakeAWSSecret, "aws_secret_access_key = [REDACTED:aws-secret-access-key]"},
		{"aws secret json", `{"AccessKeyId": "` + fakeAWSKeyID + `", "SecretAccessKey": "` + fakeAWSSecret + `"}`,
			`{"AccessKeyId": "[REDACTED:aws-access-key-id]", "SecretAccessKey": "[REDACTED:aws-secret-access-key]"}`},
		{"gcp api key", "url=https://maps.googleapis.com/maps/api?key=" + fakeGCPKey + "&q=x",
			"url=https://maps.googleapis.com/maps/api?key=[REDACTED:gcp-api-key]&q=x"},
		{"gcp service account", `{"type": "service_account", "private_key_id": "abc", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", "client_email": "x@p.iam.gserviceaccount.com"}`,
			`{"type": "service_account", "private_key_id": "abc", "private_key": "[REDACTED:private-key]", "client_email": "x@p.iam.gserviceaccount.com"}`},
		{"azure storage", "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + fakeAzureKey + ";EndpointSuffix=core.windows.net",
			"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[REDACTED:azure-key];EndpointSuffix=core.windows.net"},
		{"azure sas", "BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=AbCdEf0123456789%2BXyZ%3D",
			"BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=[REDACTED:azure-sas]"},
		{"azure sas url", "GET https://acme.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-12-01&sig=AbCdEf0123456789%2BXyZ%3D HTTP/1.1",
			"GET https://acme.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-12-01&sig=[REDACTED:azure-sas] HTTP/1.1"},
		{"github classic", "cloning with " + fakeGitHub + " now", "cloning with [REDACTED:github-token] now"},
		{"github fine grained", "GITHUB_TOKEN=" + fakeGitHubPAT, "GITHUB_TOKEN=[REDACTED:github-token]"},
		{"gitlab", "token " + fakeGitLab, "token [REDACTED:gitlab-token]"},
		{"slack token", "slack: " + fakeSlack, "slack: [REDACTED:slack-token]"},
		{"slack webhook", "posting to " + fakeSlackHook, "posting to https://hooks.slack.com/services/[REDACTED:slack-webhook]"},
		{"stripe", "stripe.api_key = '" + fakeStripe + "'", "stripe.api_key = '[REDACTED:stripe-key]'"},
		{"openai", "OPENAI_API_KEY=" + fakeOpenAI, "OPENAI_API_KEY=[REDACTED:openai-key]"},
		{"anthropic", "client = Anthropic(api_key=\"" + fakeAnthropic + "\")", "client = Anthropic(api_key=\"[REDACTED:anthropic-key]\")"},
		{"hugging face", "huggingface-cli login --token " + fakeHF, "huggingface-cli login --token [REDACTED:huggingface-token]"},
		{"jwt", "session " + fakeJWT + " expired", "session [REDACTED:jwt] expired"},
		{"bare aws secret", "aws creds " + fakeAWSKeyID + " " + fakeAWSSecret, "aws creds [REDACTED:aws-access-key-id] [REDACTED:aws-secret-access-key]"},
		{"npm", "//registry.npmjs.org/:_authToken=npm_" + strings.Repeat("aB3", 12), "//registry.npmjs.org/:_authToken=[REDACTED:npm-token]"},
		{"google oauth", "client GOCSPX-" + strings.Repeat("x1Y", 9) + "z token ya29.a0AfH6SMBx0123456789abcdef",
			"client [REDACTED:gcp-oauth] token [REDACTED:gcp-oauth]"},
		{"docker", "docker login -p dckr_pat_" + strings.Repeat("Ab1", 9), "docker login -p [REDACTED:docker-token]"},
		{"sendgrid", "SG." + strings.Repeat("a", 22) + "." + strings.Repeat("b", 43), "[REDACTED:sendgrid-key]"},
		{"bearer header", "Authorization: Bearer abc123.def456-ghi789_jkl", "Authorization: Bearer [REDACTED:authorization]"},
		{"basic header", "authorization: Basic " + fakeBasicCreds, "authorization: Basic [REDACTED:authorization]"},
		{"curl header", `curl -H "Authorization: token 0123456789abcdef" https://api`, `curl -H "Authorization: token [REDACTED:authorization]" https://api`},
		{"pem", "key:\n" + fakePEMRSA + "\nnext line", "key:\n[REDACTED:private-key]\nnext line"},
		{"pem truncated", "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "key:\n[REDACTED:private-key]"},
		{"pem truncated then text", "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMHcCAQEEIBkg\nnext line: ok", "[REDACTED:private-key]\nnext line: ok"},
		{"pem mentioned", "error: want -----BEGIN PRIVATE KEY----- header, found none\nstep 2", "error: want [REDACTED:private-key] header, found none\nstep 2"},
		{"pem indented yaml", "tls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    MIIEvQIBADAN\n    -----END PRIVATE KEY-----\n  cert: x", "tls:\n  key: |\n    [REDACTED:private-key]\n  cert: x"},
		{"url password", "connecting to postgres://admin:s3cr3t-P%40ss@db.internal:5432/app", "connecting to postgres://admin:[REDACTED:url-password]@db.internal:5432/app"},
		{"url password with at", "redis://:p@ss@cache:6379/0", "redis://:[REDACTED:url-password]@cache:6379/0"},
		{"key=value", "db_host=x db_password=hunter2 user=bob", "db_host=x db_password=[REDACTED:password] user=bob"},
		{"yaml", "database:\n  password: correct horse battery staple # prod\n  user: bob", "database:\n  password: [REDACTED:password] # prod\n  user: bob"},
		{"yaml list", "- client_secret: abc def", "- client_secret: [REDACTED:secret]"},
		{"json", `{"user":"bob","password":"hu\"nter2","apiKey":"k-123"}`, `{"user":"bob","password":"[REDACTED:password]","apiKey":"[REDACTED:api-key]"}`},
		{"escaped json", `msg="{\"client_secret\":\"abcdef\"}"`, `msg="{\"client_secret\":\"[REDACTED:secret]\"}"`},
		{"python dict", `{'access_token': 'ya29.a0AfH6SMBx0123'}`, `{'access_token': '[REDACTED:token]'}`},
		{"go struct", `{User:bob Password:hunter2}`, `{User:bob Password:[REDACTED:password]}`},
		{"query string", "GET /cb?code=1&access_token=abcdef123456&state=9", "GET /cb?code=1&access_token=[REDACTED:token]&state=9"},
		{"cli flag", "run --api-key sk12345678 --steps 10", "run --api-key [REDACTED:api-key] --steps 10"},
		{"header", "X-Api-Key: 0a1b2c3d4e5f", "X-Api-Key: [REDACTED:api-key]"},
		{"passwd", "PGPASSWORD=pw123456 psql", "PGPASSWORD=[REDACTED:password] psql"},
		{"cookie header", "Cookie: session=8f3a9c2d1e; theme=dark", "Cookie: [REDACTED:secret]"},
		{"numeric password", `"password": 123456,`, `"password": [REDACTED:password],`},
	}
	r := newTestRedactor(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Redact(tt.in)
			require.Equal(t, tt.want, got)
			require.Equal(t, got, r.Redact(got), "idempotent")
		})
	}
}

func TestPatternRedactorLeavesOrdinaryText(t *testing.T) {
	lines := []string{
		"step 120/1000 loss=2.3412 lr=1.2e-04 tokens/s=1843.2 max_tokens=512 trained_tokens=61440",
		`{"eos_token": "</s>", "bos_token": "<s>", "pad_token": "<|endoftext|>", "padToken": "<pad>", "tokenizer_class": "LlamaTokenizer"}`,
		"commit 3f786850e387550fdab836ed7e6dc881de23001b",
		"request 123e4567-e89b-12d3-a456-426614174000 done in 35ms",
		"image sha256:9b2a1c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef",
		"panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:12 +0x1d",
		"token_count: 17, token_id=128001, num_tokens=4096, tokenizer: llama",
		"GET https://huggingface.co/meta-llama/Llama-3.2-1B/resolve/main/config.json?download=true",
		"keyboard layout us, monkey=3, key=layer.0.weight, primary_key: id",
		"password: ${DB_PASSWORD}",
		`{"password": null, "secret": "", "token": "<your token here>"}`,
		"credentials: /etc/creds/service.json",
		"std::string password; // C++ code, not a field",
		"usage: sectorflow redact [--secret VALUE ...] [--password PASSWORD]",
	}
	r := newTestRedactor(t)
	for _, l := range lines {
		require.Equal(t, l, r.Redact(l))
	}
}

func TestRegisteredSecretForms(t *testing.T) {
	const secret = "Tr0ub4dor&3-horse"
	b64 := func(e *base64.Encoding, s string) string { return e.EncodeToString([]byte(s)) }
	tests := []struct {
		name, in string
	}{
		{"exact", "echo " + secret},
		{"query escaped", "GET /?p=" + url.QueryEscape(secret)},
		{"path escaped", "GET /" + url.PathEscape(secret) + "/x"},
		{"std base64 padded", "data " + b64(base64.StdEncoding, secret)},
		{"std base64 raw", "data " + b64(base64.RawStdEncoding, secret)},
		{"url base64 padded", "data " + b64(base64.URLEncoding, secret)},
		{"url base64 raw", "data " + b64(base64.RawURLEncoding, secret)},
		{"inside base64 offset 0", "blob " + b64(base64.StdEncoding, secret+" and more bytes after")},
		{"inside base64 offset 1", "blob " + b64(base64.StdEncoding, "x"+secret+" trailing")},
		{"inside base64 offset 2", "blob " + b64(base64.StdEncoding, "xy"+secret+" trailing")},
		{"inside url base64 offset 1", "blob " + b64(base64.RawURLEncoding, "{\"pw\":\""+secret+"\"}")},
		{"basic auth", "header " + b64(base64.StdEncoding, "user:"+secret)},
	}
	r, err := NewPatternRedactor(&RedactorOptions{Secrets: []Secret{NewSecret(secret)}, PatternsOff: true})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Redact(tt.in)
			require.NotContains(t, got, secret)
			require.Contains(t, got, "[REDACTED:secret]")
			require.NotEqual(t, tt.in, got)
			prefix, _, _ := strings.Cut(tt.in, " ")
			require.Equal(t, prefix+" ", got[:len(prefix)+1], "text before the secret is kept")
		})
	}
}

func TestRegisterSecretRejects(t *testing.T) {
	tests := []struct {
		name, secret, want string
	}{
		{"short", "abc", "want at least 4 bytes, found 3"},
		{"blank", "     ", "only whitespace"},
		{"inside marker", "REDACTED", "occurs inside the replacement text"},
		{"inside marker kind", "password]", "occurs inside the replacement text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPatternRedactor(&RedactorOptions{Secrets: []Secret{NewSecret("fine-secret"), NewSecret(tt.secret)}})
			require.ErrorIs(t, err, ErrUnredactableSecret)
			require.ErrorContains(t, err, "secret #2")
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "fine-secret")
		})
	}
	r, err := NewPatternRedactor(&RedactorOptions{Secrets: []Secret{{}}})
	require.NoError(t, err, "an empty secret is ignored")
	require.Equal(t, "abc", r.Redact("abc"))
}

func TestWithSecretsKeepsOriginal(t *testing.T) {
	base := newTestRedactor(t)
	r, err := base.WithSecrets(NewSecret("job-secret-1"))
	require.NoError(t, err)
	require.Equal(t, "x [REDACTED:secret] y", r.Redact("x job-secret-1 y"))
	require.Equal(t, "x job-secret-1 y", base.Redact("x job-secret-1 y"))
	_, err = base.WithSecrets(NewSecret("ab"))
	require.ErrorIs(t, err, ErrUnredactableSecret)
}

func TestRedactMultiLineSecret(t *testing.T) {
	secret := "line-one-of-it\nline-two-of-it"
	r := newTestRedactor(t, secret)
	require.Equal(t, "a [REDACTED:secret] b", r.Redact("a "+secret+" b"))
	require.Equal(t, "only [REDACTED:secret]", r.Redact("only line-two-of-it"))
}

func TestRedactFixedPoint(t *testing.T) {
	// "]tail" only appears once "hunter22" before it has become a marker.
	r := newTestRedactor(t, "hunter22", "]tail")
	got := r.Redact("x hunter22tail y")
	require.NotContains(t, got, "]tail")
	require.NotContains(t, got, "hunter22")
	require.Equal(t, got, r.Redact(got))
	// Markers in the input are kept as they are.
	require.Equal(t, "password=[REDACTED:password]", r.Redact("password=[REDACTED:password]"))
	// A look-alike with an unknown kind is ordinary text.
	r2 := newTestRedactor(t, "[REDACTED:zzz]")
	require.Equal(t, "a [REDACTED:secret]", r2.Redact("a [REDACTED:zzz]"))
}

func TestPatternRedactorZeroValue(t *testing.T) {
	var zero PatternRedactor
	require.Equal(t, "k=[REDACTED:aws-access-key-id]", zero.Redact("k="+fakeAWSKeyID))
	var nilR *PatternRedactor
	require.Equal(t, "k=[REDACTED:aws-access-key-id]", nilR.Redact("k="+fakeAWSKeyID))
	r, err := nilR.WithSecrets(NewSecret("abcd-secret"))
	require.NoError(t, err)
	require.Equal(t, "[REDACTED:secret]", r.Redact("abcd-secret"))
}

func TestRedactorFunc(t *testing.T) {
	var r Redactor = RedactorFunc(strings.ToUpper)
	require.Equal(t, "ABC", r.Redact("abc"))
	require.Contains(t, RedactionKinds(), "jwt")
}
