package tuning_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sectorflow/sdk/tuning"
)

// ExampleParseJSONL shows how a dataset with bad lines is reported: every bad line with its
// number and reason, while the good lines are still returned.
func ExampleParseJSONL() {
	data := `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
{"messages": [{"role": "user", "content": "Hi"}]}
{"prompt": "2+2=", "completion": "4"}
not json
`
	examples, err := tuning.ParseJSONL(strings.NewReader(data), "train.jsonl", nil)
	fmt.Println(len(examples), "good examples")
	var de *tuning.DatasetError
	if errors.As(err, &de) {
		for _, l := range de.Lines {
			fmt.Printf("line %d: %.40s\n", l.Line, l.Reason)
		}
	}
	// Output:
	// 2 good examples
	// line 2: no assistant turn: nothing to train on
	// line 4: not JSON: invalid character 'o' in liter
}
