package sectorflow

import (
	"context"
	"fmt"
	"io"

	"github.com/sectorflow/sdk/tuning"
)

// DatasetError lists every rejected line of a dataset with its 1-based number and reason;
// errors.Is(err, ErrInvalidDataset) holds for it.
type DatasetError = tuning.DatasetError

// DatasetLineError is the reason one dataset line was rejected.
type DatasetLineError = tuning.LineError

// ErrInvalidDataset is matched by every dataset validation error.
var ErrInvalidDataset = tuning.ErrInvalidDataset

// DatasetStats describes a dataset that passed ValidateDataset.
type DatasetStats struct {
	// Examples counts the valid lines; Chat, PromptCompletion and Text count them by shape.
	Examples                     int
	Chat, PromptCompletion, Text int
}

// ValidateDataset reads a JSONL fine-tuning dataset (chat {"messages"}, {"prompt",
// "completion"} or {"text"} lines) from r and checks every line the way Tuner.Tune will. It
// returns a *DatasetError naming each bad line (not JSON, unknown role, empty conversation, no
// assistant turn, non-UTF-8, too long) and the stats of the valid ones; source names the data in
// messages. Lengths in tokens depend on the model and are checked when a job starts. Cancelling
// ctx stops the read.
func ValidateDataset(ctx context.Context, r io.Reader, source string) (DatasetStats, error) {
	exs, err := tuning.ParseJSONL(&ctxReader{ctx: ctx, r: r}, source, nil)
	var st DatasetStats
	for _, e := range exs {
		st.Examples++
		switch e.Shape {
		case tuning.ShapeChat:
			st.Chat++
		case tuning.ShapePromptCompletion:
			st.PromptCompletion++
		case tuning.ShapeText:
			st.Text++
		}
	}
	if err != nil {
		return st, fmt.Errorf("validate dataset: %w", err)
	}
	return st, nil
}
