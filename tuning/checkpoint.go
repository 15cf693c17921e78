package tuning

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sectorflow/sdk/internal/peft"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// Checkpoint layout inside Options.OutputDir:
//
//	checkpoints/step-000010/adapter_config.json, adapter_model.safetensors   the adapter (PEFT)
//	checkpoints/step-000010/optimizer.safetensors                            AdamW moments
//	checkpoints/step-000010/trainer_state.json                               step, data position, RNG
//
// A checkpoint directory is built under a temporary name and renamed into place, so a directory
// named step-N is always complete; a crash leaves at worst a .tmp directory, removed next time.
const (
	checkpointsDir    = "checkpoints"
	optimizerFile     = "optimizer.safetensors"
	trainerStateFile  = "trainer_state.json"
	checkpointPrefix  = "step-"
	checkpointVersion = 1
)

// trainerState is everything besides tensors that a resumed run needs to continue exactly.
type trainerState struct {
	Version int `json:"version"`
	// Step is the number of optimizer steps done.
	Step int `json:"step"`
	// Epoch and MicroBatch locate the next micro-batch: index MicroBatch of epoch Epoch's plan.
	Epoch      int `json:"epoch"`
	MicroBatch int `json:"micro_batch"`
	// RNG is the dropout generator's state (math/rand/v2 PCG, binary-marshalled).
	RNG []byte `json:"rng"`
	// Fingerprint identifies the options and data that the run depends on; resuming with
	// different ones is refused because it could not reproduce the uninterrupted run.
	Fingerprint string `json:"fingerprint"`
	// TotalSteps is the planned number of optimizer steps.
	TotalSteps int `json:"total_steps"`
	// LastLoss is the training loss of the last step, for reports.
	LastLoss float64 `json:"last_loss"`
	// TrainedTokens and EvalTokens count the non-padding tokens of every completed step and
	// evaluation pass since the run first started, across resumptions (for billing).
	TrainedTokens int64 `json:"trained_tokens"`
	EvalTokens    int64 `json:"eval_tokens"`
}

// checkpointName is the directory name of the checkpoint after step optimizer steps.
func checkpointName(step int) string { return fmt.Sprintf("%s%06d", checkpointPrefix, step) }

// saveCheckpoint writes adapter, optimizer state and trainer state under outDir/checkpoints.
func saveCheckpoint(outDir string, s *loraSet, opt []adamState, st trainerState, baseModel string, dropout float64) (string, error) {
	root := filepath.Join(outDir, checkpointsDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	final := filepath.Join(root, checkpointName(st.Step))
	tmp, err := os.MkdirTemp(root, ".tmp-"+checkpointName(st.Step)+"-")
	if err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeAdapter(tmp, s, baseModel, dropout); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	var tensors []safetensors.Tensor
	for i, m := range s.Modules {
		for j, ab := range []string{"A", "B"} {
			shape := []int{s.Rank, m.In}
			if ab == "B" {
				shape = []int{m.Out, s.Rank}
			}
			o := opt[2*i+j]
			for _, mv := range []struct {
				suffix string
				v      []float32
			}{{".exp_avg", o.M}, {".exp_avg_sq", o.V}} {
				t, err := safetensors.FromFloat32(peft.Key(m.Name, ab)+mv.suffix, safetensors.F32, shape, mv.v)
				if err != nil {
					return "", fmt.Errorf("save checkpoint: %w", err)
				}
				tensors = append(tensors, t)
			}
		}
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, optimizerFile), tensors, nil); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	st.Version = checkpointVersion
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(tmp, trainerStateFile), data); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	ok = true
	if d, err := os.Open(root); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return final, nil
}

// ErrNoCheckpoint means a resume was asked for but no complete checkpoint exists.
var ErrNoCheckpoint = errors.New("no checkpoint to resume from")

// latestCheckpoint returns the newest complete checkpoint directory: path itself when it is one,
// else the highest step under path/checkpoints.
func latestCheckpoint(path string) (string, error) {
	if _, err := os.Stat(filepath.Join(path, trainerStateFile)); err == nil {
		return path, nil
	}
	root := filepath.Join(path, checkpointsDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("resume from %s: expected a checkpoint or an output directory with checkpoints: %w", path, ErrNoCheckpoint)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), checkpointPrefix) {
			if _, err := os.Stat(filepath.Join(root, e.Name(), trainerStateFile)); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("resume from %s: found no complete checkpoint in %s: %w", path, root, ErrNoCheckpoint)
	}
	sort.Strings(names)
	return filepath.Join(root, names[len(names)-1]), nil
}

// loadCheckpoint restores adapter weights, optimizer state and trainer state saved by
// saveCheckpoint into s and opt (which must already have the run's shapes).
func loadCheckpoint(dir string, s *loraSet, opt []adamState) (trainerState, error) {
	var st trainerState
	data, err := os.ReadFile(filepath.Join(dir, trainerStateFile))
	if err != nil {
		return st, fmt.Errorf("load checkpoint: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("load checkpoint %s: %s: %w", dir, trainerStateFile, err)
	}
	if st.Version != checkpointVersion {
		return st, fmt.Errorf("load checkpoint %s: expected format version %d, found %d", dir, checkpointVersion, st.Version)
	}
	if err := readAdapterWeights(filepath.Join(dir, AdapterWeightsFile), s); err != nil {
		return st, fmt.Errorf("load checkpoint: %w", err)
	}
	f, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return st, fmt.Errorf("load checkpoint: %w", err)
	}
	defer f.Close()
	for i, m := range s.Modules {
		for j, ab := range []string{"A", "B"} {
			o := opt[2*i+j]
			for _, mv := range []struct {
				suffix string
				v      []float32
			}{{".exp_avg", o.M}, {".exp_avg_sq", o.V}} {
				key := peft.Key(m.Name, ab) + mv.suffix
				info, ok := f.Info(key)
				if !ok || info.NumElements() != len(mv.v) {
					return st, fmt.Errorf("load checkpoint %s: optimizer state %s missing or of the wrong size", dir, key)
				}
				if err := f.Float32Into(key, mv.v); err != nil {
					return st, fmt.Errorf("load checkpoint %s: %w", dir, err)
				}
			}
		}
	}
	return st, nil
}

// pruneCheckpoints removes all but the newest keep complete checkpoints under outDir
// (keep <= 0 keeps all).
func pruneCheckpoints(outDir string, keep int) error {
	if keep <= 0 {
		return nil
	}
	root := filepath.Join(outDir, checkpointsDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("prune checkpoints: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), checkpointPrefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names[:max(0, len(names)-keep)] {
		if err := os.RemoveAll(filepath.Join(root, n)); err != nil {
			return fmt.Errorf("prune checkpoints: %w", err)
		}
	}
	return nil
}
