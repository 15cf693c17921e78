package tokenize

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The benchmark corpora are built from the Go installation, so they need no download and no
// committed data: "prose" is English text (the Go specification, memory model and GODEBUG
// documents with their markup removed, then the comments of the standard library), "code" is
// Go source from the standard library. Each is cut to benchCorpusSize bytes at a line end.
const benchCorpusSize = 1 << 20

var (
	corpusOnce         sync.Once
	proseText, codeTxt string
)

var htmlTag = regexp.MustCompile(`<[^>]*>`)

func goSources(root string) []string {
	var files []string
	_ = filepath.WalkDir(filepath.Join(root, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

func cutAtLine(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if k := strings.LastIndexByte(s[:n], '\n'); k > 0 {
		return s[:k+1]
	}
	return s[:n]
}

func loadCorpora(tb testing.TB) (prose, code string) {
	corpusOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return
		}
		root := strings.TrimSpace(string(out))
		var p strings.Builder
		for _, f := range []string{"doc/go_spec.html", "doc/go_mem.html", "doc/godebug.md"} {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err == nil {
				t := htmlTag.ReplaceAllString(string(b), "")
				t = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&nbsp;", " ").Replace(t)
				p.WriteString(t)
			}
		}
		var c strings.Builder
		for _, f := range goSources(root) {
			if p.Len() >= benchCorpusSize && c.Len() >= benchCorpusSize {
				break
			}
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if c.Len() < benchCorpusSize {
				c.Write(b)
			}
			if p.Len() < benchCorpusSize {
				for _, line := range strings.Split(string(b), "\n") {
					line = strings.TrimSpace(line)
					if strings.HasPrefix(line, "// ") {
						p.WriteString(line[3:])
						p.WriteByte('\n')
					}
				}
			}
		}
		proseText = cutAtLine(p.String(), benchCorpusSize)
		codeTxt = cutAtLine(c.String(), benchCorpusSize)
		if dir := os.Getenv("TOKENIZE_BENCH_DUMP"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "prose.txt"), []byte(proseText), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "code.txt"), []byte(codeTxt), 0o644)
		}
	})
	if len(proseText) < benchCorpusSize/2 || len(codeTxt) < benchCorpusSize/2 {
		tb.Skip("the Go installation's sources are not available to build the corpora")
	}
	return proseText, codeTxt
}

// chunks splits s into pieces of about n bytes at line ends, as a batch of documents.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		c := cutAtLine(s, n)
		if c == "" || len(c) > len(s) {
			c = s
		}
		out = append(out, c)
		s = s[len(c):]
	}
	return out
}

func benchmarkEncode(b *testing.B, name string, batched bool) {
	tok := loadFixtureTokenizer(b, name)
	prose, code := loadCorpora(b)
	for _, c := range []struct{ name, text string }{{"prose", prose}, {"code", code}} {
		b.Run(c.name, func(b *testing.B) {
			docs := chunks(c.text, 4096)
			tok.Encode(c.text, false) // warm the word cache, as a long-running server has
			b.SetBytes(int64(len(c.text)))
			b.ReportAllocs()
			for b.Loop() {
				if batched {
					tok.EncodeBatch(docs, false)
				} else {
					tok.Encode(c.text, false)
				}
			}
		})
	}
}

// BenchmarkEncode encodes each 1 MB corpus in one call; BenchmarkEncodeBatch encodes it as
// 4 KB documents with EncodeBatch (run with -cpu 1 for one core).
func BenchmarkEncode(b *testing.B) {
	for _, name := range fixtureTokenizers {
		b.Run(name, func(b *testing.B) { benchmarkEncode(b, name, false) })
	}
}

func BenchmarkEncodeBatch(b *testing.B) {
	for _, name := range fixtureTokenizers {
		b.Run(name, func(b *testing.B) { benchmarkEncode(b, name, true) })
	}
}

func BenchmarkLoadQwen3(b *testing.B) {
	path := filepath.Join("testdata", "tokenizers", "qwen3", "tokenizer.json.gz")
	data, err := readMaybeGzip(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeQwen3(b *testing.B) {
	tok := loadFixtureTokenizer(b, "qwen3")
	prose, _ := loadCorpora(b)
	ids := tok.Encode(prose, false)
	b.SetBytes(int64(len(prose)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Decode(ids, false)
	}
}

// BenchmarkEncodeCold is BenchmarkEncode with the word cache emptied before every call: the
// cost for a text whose words were never seen.
func BenchmarkEncodeCold(b *testing.B) {
	for _, name := range fixtureTokenizers {
		b.Run(name, func(b *testing.B) {
			tok := loadFixtureTokenizer(b, name)
			prose, code := loadCorpora(b)
			m, ok := tok.model.(*bpe)
			if !ok {
				b.Skip("not a BPE model")
			}
			for _, c := range []struct{ name, text string }{{"prose", prose}, {"code", code}} {
				b.Run(c.name, func(b *testing.B) {
					b.SetBytes(int64(len(c.text)))
					b.ReportAllocs()
					for b.Loop() {
						b.StopTimer()
						m.cache = wordCache{}
						b.StartTimer()
						tok.Encode(c.text, false)
					}
					m.cache = wordCache{}
				})
			}
		})
	}
}
