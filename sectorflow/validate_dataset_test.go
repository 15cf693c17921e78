package sectorflow

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateDataset(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		stats DatasetStats
		lines []int // bad line numbers; nil: valid
		err   string
	}{
		{name: "three shapes", in: `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
{"prompt": "2+2=", "completion": "4"}

{"text": "plain"}
`, stats: DatasetStats{Examples: 3, Chat: 1, PromptCompletion: 1, Text: 1}},
		{name: "bad lines numbered", in: "{\"text\": \"ok\"}\nnot json\n{\"messages\": []}\n", stats: DatasetStats{Examples: 1, Text: 1}, lines: []int{2, 3}},
		{name: "empty", in: "\n", err: "expected at least one example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ValidateDataset(context.Background(), strings.NewReader(tc.in), "data.jsonl")
			require.Equal(t, tc.stats, st)
			switch {
			case tc.err != "":
				require.ErrorIs(t, err, ErrInvalidDataset)
				require.ErrorContains(t, err, tc.err)
			case tc.lines != nil:
				var de *DatasetError
				require.True(t, errors.As(err, &de), "%v", err)
				var got []int
				for _, l := range de.Lines {
					got = append(got, l.Line)
				}
				require.Equal(t, tc.lines, got)
			default:
				require.NoError(t, err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ValidateDataset(ctx, strings.NewReader(`{"text": "x"}`), "x")
	require.ErrorIs(t, err, context.Canceled)
}
