package tokenize_test

import (
	"fmt"
	"path/filepath"

	"github.com/sectorflow/sdk/tokenize"
)

// The tiny qwen3 checkpoint of the repository's testdata has a real 512-token byte-level BPE.
func Example() {
	tok, err := tokenize.Load(filepath.Join("..", "testdata", "models", "qwen3"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n", false)
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids, true))
	fmt.Println(tok.EOSTokenIDs())
	// Output:
	// [506 450 10 382 306 258 342 287 341 63 507 10]
	// "user\nWhat is the capital of France?\n"
	// [507]
}

func ExampleTokenizer_NewStreamDecoder() {
	tok, err := tokenize.Load(filepath.Join("..", "testdata", "models", "qwen3"))
	if err != nil {
		fmt.Println(err)
		return
	}
	d := tok.NewStreamDecoder(true)
	for _, id := range tok.Encode("Paris!<|im_end|>", false) {
		fmt.Printf("%q ", d.Add(id))
	}
	fmt.Printf("%q\n", d.Flush())
}
