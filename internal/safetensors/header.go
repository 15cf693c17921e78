package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
)

// MaxHeaderSize caps the JSON header length that a file may declare (100 MB, the limit of
// Python's safetensors). A larger value is an error, not an allocation.
const MaxHeaderSize = 100 << 20

// maxRank caps the number of dimensions of one tensor.
const maxRank = 16

// ErrInvalid is wrapped by every error about a malformed file or header, so callers can tell a
// corrupt checkpoint from an I/O failure with errors.Is.
var ErrInvalid = errors.New("invalid safetensors")

// TensorInfo describes one tensor of a file: its element type, shape and the byte range of its
// data, relative to the start of the data section (just after the header).
type TensorInfo struct {
	// Name is the tensor's key in the header, e.g. "model.layers.0.self_attn.q_proj.weight".
	Name string
	// DType is the stored element type.
	DType DType
	// Shape holds the dimensions; an empty shape is a scalar.
	Shape []int
	// Begin and End are the data offsets [Begin, End) relative to the data section.
	Begin, End int64
}

// NumElements returns the product of the dimensions (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// ByteSize returns End-Begin, the number of bytes of the tensor's data.
func (t TensorInfo) ByteSize() int64 { return t.End - t.Begin }

// Header is a parsed and validated safetensors header.
type Header struct {
	// Tensors maps each tensor name to its description.
	Tensors map[string]TensorInfo
	// Metadata is the optional "__metadata__" string map (nil when absent).
	Metadata map[string]string
	// DataOffset is the absolute file offset of the data section (8 + header length).
	DataOffset int64
}

// Names returns the tensor names in sorted order.
func (h *Header) Names() []string {
	names := make([]string, 0, len(h.Tensors))
	for n := range h.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// invalidf builds an ErrInvalid error.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ReadHeader reads and validates the header of a safetensors file of fileSize bytes.
// It allocates at most the declared header length, which must not exceed MaxHeaderSize nor the
// file itself.
func ReadHeader(r io.ReaderAt, fileSize int64) (*Header, error) {
	if fileSize < 8 {
		return nil, invalidf("file is %d bytes, want at least 8 (header length prefix)", fileSize)
	}
	var prefix [8]byte
	if _, err := r.ReadAt(prefix[:], 0); err != nil {
		return nil, fmt.Errorf("read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderSize {
		return nil, invalidf("header length %d exceeds the %d byte limit", n, MaxHeaderSize)
	}
	if int64(n) > fileSize-8 {
		return nil, invalidf("header length %d but only %d bytes follow the prefix (truncated file?)", n, fileSize-8)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 8); err != nil {
		return nil, fmt.Errorf("read %d byte header: %w", n, err)
	}
	return ParseHeader(buf, fileSize-8-int64(n))
}

// rawTensor is the JSON form of one header entry.
type rawTensor struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// ParseHeader parses and validates the JSON header of a safetensors file whose data section is
// dataSize bytes long. Every problem found is reported with the tensor it concerns.
func ParseHeader(header []byte, dataSize int64) (*Header, error) {
	if dataSize < 0 {
		return nil, invalidf("negative data size %d", dataSize)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidf("header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("header must be a JSON object, found %v", tok)
	}
	h := &Header{Tensors: map[string]TensorInfo{}, DataOffset: 8 + int64(len(header))}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("header is not well-formed JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, invalidf("header key must be a string, found %v", tok)
		}
		if name == "__metadata__" {
			if seenMeta {
				return nil, invalidf("duplicate __metadata__ entry")
			}
			seenMeta = true
			var meta map[string]string
			if err := dec.Decode(&meta); err != nil {
				return nil, invalidf("__metadata__ must be an object of strings: %v", err)
			}
			h.Metadata = meta
			continue
		}
		if _, dup := h.Tensors[name]; dup {
			return nil, invalidf("tensor %q is declared twice", name)
		}
		var raw rawTensor
		if err := dec.Decode(&raw); err != nil {
			return nil, invalidf("tensor %q: entry is not a valid {dtype, shape, data_offsets} object: %v", name, err)
		}
		info, err := checkTensor(name, raw, dataSize)
		if err != nil {
			return nil, err
		}
		h.Tensors[name] = info
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, invalidf("header is not well-formed JSON: %v", err)
	}
	// Only whitespace (the writer's padding) may follow the object.
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("unexpected data after the header's JSON object")
	}
	if err := checkOverlaps(h.Tensors); err != nil {
		return nil, err
	}
	return h, nil
}

// checkTensor validates one header entry against the data section size.
func checkTensor(name string, raw rawTensor, dataSize int64) (TensorInfo, error) {
	if name == "" {
		return TensorInfo{}, invalidf("tensor with an empty name")
	}
	if raw.DType == nil || raw.Shape == nil || raw.DataOffsets == nil {
		return TensorInfo{}, invalidf("tensor %q: entry must have dtype, shape and data_offsets", name)
	}
	dt := DType(*raw.DType)
	if err := checkDType(dt); err != nil {
		return TensorInfo{}, invalidf("tensor %q: %v", name, err)
	}
	shape := *raw.Shape
	if len(shape) > maxRank {
		return TensorInfo{}, invalidf("tensor %q: rank %d exceeds the limit of %d", name, len(shape), maxRank)
	}
	info := TensorInfo{Name: name, DType: dt, Shape: make([]int, len(shape))}
	elems := uint64(1)
	for i, d := range shape {
		if d < 0 {
			return TensorInfo{}, invalidf("tensor %q: negative dimension %d in shape %v", name, d, shape)
		}
		hi, lo := bits.Mul64(elems, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return TensorInfo{}, invalidf("tensor %q: shape %v overflows", name, shape)
		}
		elems = lo
		info.Shape[i] = int(d)
	}
	hi, want := bits.Mul64(elems, uint64(dt.Size()))
	if hi != 0 || want > math.MaxInt64 || elems > math.MaxInt {
		return TensorInfo{}, invalidf("tensor %q: shape %v overflows", name, shape)
	}
	offs := *raw.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, invalidf("tensor %q: data_offsets has %d values, want 2 [begin, end]", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin > end {
		return TensorInfo{}, invalidf("tensor %q: data_offsets [%d, %d] end before begin", name, begin, end)
	}
	if end > uint64(dataSize) {
		return TensorInfo{}, invalidf("tensor %q: data_offsets [%d, %d] beyond the %d byte data section (truncated file?)", name, begin, end, dataSize)
	}
	if end-begin != want {
		return TensorInfo{}, invalidf("tensor %q: data_offsets [%d, %d] hold %d bytes, but shape %v of %s needs %d", name, begin, end, end-begin, shape, dt, want)
	}
	info.Begin, info.End = int64(begin), int64(end)
	return info, nil
}

// checkOverlaps rejects tensors whose byte ranges overlap.
func checkOverlaps(tensors map[string]TensorInfo) error {
	list := make([]TensorInfo, 0, len(tensors))
	for _, t := range tensors {
		if t.End > t.Begin { // empty tensors occupy no bytes
			list = append(list, t)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Begin != list[j].Begin {
			return list[i].Begin < list[j].Begin
		}
		return list[i].Name < list[j].Name
	})
	for i := 1; i < len(list); i++ {
		if list[i].Begin < list[i-1].End {
			return invalidf("tensor %q: data_offsets [%d, %d] overlap tensor %q at [%d, %d]",
				list[i].Name, list[i].Begin, list[i].End, list[i-1].Name, list[i-1].Begin, list[i-1].End)
		}
	}
	return nil
}
