package tuning

import (
	"io"

	"github.com/sectorflow/sdk/internal/atomicfile"
)

// writeFileAtomic and writeAtomic write tuning's outputs (trainer_state.json, training_info.json,
// files copied beside an adapter or a merged model) through internal/atomicfile.
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteBytes(path, data) }

func writeAtomic(path string, fill func(io.Writer) error) error { return atomicfile.Write(path, fill) }
