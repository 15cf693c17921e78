package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// ErrNotFound is wrapped by errors about a tensor or checkpoint file that does not exist.
var ErrNotFound = errors.New("not found")

// Reader is what File and Checkpoint have in common: named tensors read on demand.
type Reader interface {
	// Names returns the tensor names in sorted order.
	Names() []string
	// Info describes the named tensor.
	Info(name string) (TensorInfo, bool)
	// ReadInto reads the tensor's raw little-endian bytes into dst (exactly its byte size).
	ReadInto(name string, dst []byte) error
	// Bytes returns the tensor's raw little-endian bytes.
	Bytes(name string) ([]byte, error)
	// Float32 returns a floating point tensor converted to float32.
	Float32(name string) ([]float32, error)
	// Float32Into is Float32 into a caller's buffer of the tensor's element count.
	Float32Into(name string, dst []float32) error
	// Close releases the open files.
	Close() error
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Checkpoint)(nil)
)

// Names of the files of a Hugging Face checkpoint directory.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// maxIndexSize caps model.safetensors.index.json (real ones are well under 1 MB).
const maxIndexSize = 64 << 20

// Checkpoint is a model's tensors spread over one or more safetensors files.
type Checkpoint struct {
	dir    string
	files  []*File
	byName map[string]*File
	names  []string
}

// OpenDir opens the checkpoint in a Hugging Face model directory: model.safetensors if present,
// else the shards named by model.safetensors.index.json. Every shard's header is validated;
// a tensor that the index names but its shard lacks, or that two shards both hold, is an error.
func OpenDir(dir string) (*Checkpoint, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		f, err := Open(single)
		if err != nil {
			return nil, err
		}
		return newCheckpoint(dir, []*File{f})
	}
	index := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(index); err != nil {
		return nil, fmt.Errorf("open checkpoint %s: neither %s nor %s found: %w", dir, SingleFileName, IndexFileName, ErrNotFound)
	}
	shards, err := readIndex(index)
	if err != nil {
		return nil, err
	}
	files := make([]*File, 0, len(shards))
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, shard := range sortedKeys(shards) {
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("open checkpoint %s: shard %s: %w", dir, shard, err)
		}
		files = append(files, f)
		for _, name := range shards[shard] {
			if _, ok := f.Info(name); !ok {
				closeAll()
				return nil, fmt.Errorf("open checkpoint %s: %s maps tensor %q to %s, which does not hold it: %w", dir, IndexFileName, name, shard, ErrInvalid)
			}
		}
	}
	c, err := newCheckpoint(dir, files)
	if err != nil {
		closeAll()
		return nil, err
	}
	return c, nil
}

// readIndex parses model.safetensors.index.json into shard file -> tensor names.
func readIndex(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", path, err)
	}
	if len(data) > maxIndexSize {
		return nil, fmt.Errorf("read index %s: larger than %d bytes: %w", path, maxIndexSize, ErrInvalid)
	}
	return parseIndex(data, path)
}

func parseIndex(data []byte, path string) (map[string][]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("read index %s: want {\"weight_map\": {tensor: shard file}}: %v: %w", path, err, ErrInvalid)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("read index %s: weight_map is empty or missing: %w", path, ErrInvalid)
	}
	shards := map[string][]string{}
	for name, shard := range idx.WeightMap {
		// A shard must be a plain file name in the same directory: no path escapes.
		if shard == "" || shard != filepath.Base(shard) || !filepath.IsLocal(shard) {
			return nil, fmt.Errorf("read index %s: tensor %q maps to %q, want a file name in the model directory: %w", path, name, shard, ErrInvalid)
		}
		shards[shard] = append(shards[shard], name)
	}
	return shards, nil
}

func newCheckpoint(dir string, files []*File) (*Checkpoint, error) {
	c := &Checkpoint{dir: dir, files: files, byName: map[string]*File{}}
	for _, f := range files {
		for name := range f.header.Tensors {
			if other, dup := c.byName[name]; dup {
				return nil, fmt.Errorf("open checkpoint %s: tensor %q is in both %s and %s: %w", dir, name, filepath.Base(other.path), filepath.Base(f.path), ErrInvalid)
			}
			c.byName[name] = f
			c.names = append(c.names, name)
		}
	}
	sort.Strings(c.names)
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Dir returns the checkpoint directory.
func (c *Checkpoint) Dir() string { return c.dir }

// Files returns the open files, one per shard, in shard-name order.
func (c *Checkpoint) Files() []*File { return c.files }

// Names returns all tensor names in sorted order.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Info describes the named tensor.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

func (c *Checkpoint) file(name string) (*File, error) {
	f, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint %s: no tensor %q: %w", c.dir, name, ErrNotFound)
	}
	return f, nil
}

// ReadInto reads the named tensor's raw bytes into dst (exactly its byte size).
func (c *Checkpoint) ReadInto(name string, dst []byte) error {
	f, err := c.file(name)
	if err != nil {
		return err
	}
	return f.ReadInto(name, dst)
}

// Bytes returns the named tensor's raw little-endian bytes.
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

// Float32 returns the named floating point tensor converted to float32.
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// Float32Into is Float32 into dst, which must have the tensor's element count.
func (c *Checkpoint) Float32Into(name string, dst []float32) error {
	f, err := c.file(name)
	if err != nil {
		return err
	}
	return f.Float32Into(name, dst)
}

// Close closes every shard; it returns the first error.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
