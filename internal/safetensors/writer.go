package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/sectorflow/sdk/internal/atomicfile"
)

// Tensor is one tensor to write: raw little-endian bytes of the given dtype and shape.
type Tensor struct {
	// Name is the header key.
	Name string
	// DType is the element type of Data.
	DType DType
	// Shape holds the dimensions (empty for a scalar).
	Shape []int
	// Data holds exactly product(Shape) * DType.Size() bytes.
	Data []byte
}

// FromFloat32 encodes float32 values as a tensor of dtype F32, F16 or BF16 (rounding to nearest
// even as PyTorch does).
func FromFloat32(name string, dt DType, shape []int, values []float32) (Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, shape)
		}
		n *= d
	}
	if n != len(values) {
		return Tensor{}, fmt.Errorf("tensor %q: shape %v needs %d values, got %d", name, shape, n, len(values))
	}
	var data []byte
	switch dt {
	case F32:
		data = make([]byte, 4*n)
		for i, v := range values {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	case BF16:
		data = make([]byte, 2*n)
		for i, v := range values {
			binary.LittleEndian.PutUint16(data[2*i:], Float32ToBFloat16(v))
		}
	case F16:
		data = make([]byte, 2*n)
		for i, v := range values {
			binary.LittleEndian.PutUint16(data[2*i:], Float32ToFloat16(v))
		}
	default:
		return Tensor{}, fmt.Errorf("tensor %q: cannot encode float32 as %q, want F32, F16 or BF16", name, dt)
	}
	return Tensor{Name: name, DType: dt, Shape: append([]int(nil), shape...), Data: data}, nil
}

type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// encodeHeader validates the tensors and returns the padded header and the write order.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{}
	var off int64
	for i, t := range sorted {
		if t.Name == "" || t.Name == "__metadata__" {
			return nil, nil, fmt.Errorf("tensor name %q is reserved or empty", t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return nil, nil, fmt.Errorf("tensor %q given twice", t.Name)
		}
		if err := checkDType(t.DType); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			n *= int64(d)
		}
		if want := n * int64(t.DType.Size()); int64(len(t.Data)) != want {
			return nil, nil, fmt.Errorf("tensor %q: %d data bytes, but shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, want)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: []int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return nil, nil, fmt.Errorf("encode header: %w", err)
	}
	// Pad with spaces to a multiple of 8 so the data section is aligned, as Python's writer does.
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	if len(hb) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the %d byte limit", len(hb), MaxHeaderSize)
	}
	return hb, sorted, nil
}

// Write writes tensors (in name order) and optional metadata in safetensors format to w.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	hb, sorted, err := encodeHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(hb)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	if _, err := w.Write(hb); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	for _, t := range sorted {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("write safetensors: tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// WriteFile writes a safetensors file atomically: to a temporary file in the same directory,
// synced and then renamed over path, so readers never see a partial file.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := Write(bw, tensors, metadata); err != nil {
			return err
		}
		return bw.Flush()
	})
}
