package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/sectorflow/sdk/internal/atomicfile"
)

// DefaultMaxShardBytes is the shard size transformers' save_pretrained uses by default (5 GB).
const DefaultMaxShardBytes = 5_000_000_000

// WriteDir writes tensors as a Hugging Face checkpoint in dir: one model.safetensors when they
// fit in maxShardBytes (<= 0 means DefaultMaxShardBytes), else model-0000K-of-0000N.safetensors
// shards plus model.safetensors.index.json, filled in name order (a tensor larger than the
// limit gets a shard of its own). Each file is written atomically, the index last, and a file of
// the other layout left from an earlier save is removed so OpenDir cannot read stale weights.
func WriteDir(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	if maxShardBytes <= 0 {
		maxShardBytes = DefaultMaxShardBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var shards [][]Tensor
	var total, cur int64
	for _, t := range sorted {
		size := int64(len(t.Data))
		total += size
		if len(shards) == 0 || (cur+size > maxShardBytes && cur > 0) {
			shards = append(shards, nil)
			cur = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], t)
		cur += size
	}
	single := filepath.Join(dir, SingleFileName)
	index := filepath.Join(dir, IndexFileName)
	if len(shards) <= 1 {
		if err := WriteFile(single, sorted, metadata); err != nil {
			return fmt.Errorf("write checkpoint %s: %w", dir, err)
		}
		if err := os.Remove(index); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write checkpoint %s: remove stale index: %w", dir, err)
		}
		return removeStaleShards(dir, nil)
	}
	weightMap := map[string]string{}
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := WriteFile(filepath.Join(dir, name), shard, metadata); err != nil {
			return fmt.Errorf("write checkpoint %s: %w", dir, err)
		}
		for _, t := range shard {
			weightMap[t.Name] = name
		}
	}
	data, err := json.MarshalIndent(map[string]any{
		"metadata":   map[string]any{"total_size": total},
		"weight_map": weightMap,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", dir, err)
	}
	if err := atomicfile.WriteBytes(index, append(data, '\n')); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", dir, err)
	}
	if err := os.Remove(single); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write checkpoint %s: remove stale %s: %w", dir, SingleFileName, err)
	}
	keep := map[string]bool{}
	for _, name := range weightMap {
		keep[name] = true
	}
	return removeStaleShards(dir, keep)
}

var shardName = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// removeStaleShards deletes shard files of an earlier save (transformers' naming) that the
// new checkpoint does not use.
func removeStaleShards(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && shardName.MatchString(e.Name()) && !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("write checkpoint %s: remove stale shard: %w", dir, err)
			}
		}
	}
	return nil
}
