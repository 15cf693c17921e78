package tuning

import "fmt"

// loadCodec loads the tokenizer and chat template of a model directory.
func loadCodec(modelDir string) (*codec, error) {
	return nil, fmt.Errorf("load tokenizer from %s: %w: not available yet", modelDir, errNoTokenizer)
}
