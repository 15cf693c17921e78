package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"
)

// File is an open safetensors file. Tensor data is read on demand with ReadAt, so only the
// header stays in memory. A File is safe for concurrent reads.
type File struct {
	path   string
	f      io.ReaderAt
	header *Header
}

// Open opens a safetensors file and validates its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open safetensors %s: %w", path, err)
	}
	h, err := ReadHeader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open safetensors %s: %w", path, err)
	}
	return &File{path: path, f: f, header: h}, nil
}

// NewFile reads a safetensors file from r, which holds size bytes (an *os.File, a
// *bytes.Reader over an object fetched from storage, ...); name is used in error messages.
// Close closes r when it is an io.Closer.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	h, err := ReadHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("open safetensors %s: %w", name, err)
	}
	return &File{path: name, f: r, header: h}, nil
}

// Path returns the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Header returns the validated header.
func (f *File) Header() *Header { return f.header }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return f.header.Names() }

// Metadata returns the header's "__metadata__" map (nil when absent).
func (f *File) Metadata() map[string]string { return f.header.Metadata }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.header.Tensors[name]
	return t, ok
}

// Close closes the underlying file (or reader, when it is an io.Closer).
func (f *File) Close() error {
	if c, ok := f.f.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (f *File) lookup(name string) (TensorInfo, error) {
	t, ok := f.header.Tensors[name]
	if !ok {
		return TensorInfo{}, fmt.Errorf("%s: no tensor %q: %w", f.path, name, ErrNotFound)
	}
	return t, nil
}

// ReadInto reads the named tensor's raw little-endian bytes into dst, which must be exactly
// the tensor's byte size. It lets a caller fill a buffer it already owns (for instance a
// device tensor's memory) without an intermediate copy.
func (f *File) ReadInto(name string, dst []byte) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	if int64(len(dst)) != t.ByteSize() {
		return fmt.Errorf("read %s from %s: buffer of %d bytes, want %d", name, f.path, len(dst), t.ByteSize())
	}
	return f.readAt(t, dst, 0)
}

// readAt reads len(dst) bytes of tensor t starting off bytes into its data.
func (f *File) readAt(t TensorInfo, dst []byte, off int64) error {
	if len(dst) == 0 {
		return nil
	}
	_, err := f.f.ReadAt(dst, f.header.DataOffset+t.Begin+off)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("read %s from %s: %w", t.Name, f.path, err)
	}
	return nil
}

// Bytes returns the named tensor's raw little-endian bytes in a new buffer.
func (f *File) Bytes(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, t.ByteSize())
	if err := f.readAt(t, buf, 0); err != nil {
		return nil, err
	}
	return buf, nil
}

// chunkBytes bounds the scratch buffer used while converting dtypes, so converting a tensor
// needs its float32 result plus at most this much extra memory.
const chunkBytes = 1 << 20

// Float32 returns the named floating point tensor converted to float32 (F16 and BF16 exactly,
// F64 rounded). Integer tensors are an error.
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	if err := f.readFloat32(t, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Float32Into is Float32 writing into dst, which must have the tensor's element count.
func (f *File) Float32Into(name string, dst []float32) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	if len(dst) != t.NumElements() {
		return fmt.Errorf("read %s from %s: buffer of %d float32, want %d", name, f.path, len(dst), t.NumElements())
	}
	return f.readFloat32(t, dst)
}

var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func (f *File) readFloat32(t TensorInfo, out []float32) error {
	if !t.DType.IsFloat() {
		return fmt.Errorf("read %s from %s as float32: dtype is %s, want a float type (F32, F16, BF16, F64)", t.Name, f.path, t.DType)
	}
	if t.DType == F32 && littleEndianHost {
		// Read straight into the result: no scratch copy at all.
		return f.readAt(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(out)*4), 0)
	}
	size := t.DType.Size()
	per := chunkBytes / size
	scratch := make([]byte, min(len(out), per)*size)
	for start := 0; start < len(out); start += per {
		n := min(per, len(out)-start)
		buf := scratch[:n*size]
		if err := f.readAt(t, buf, int64(start*size)); err != nil {
			return err
		}
		dst := out[start : start+n]
		switch t.DType {
		case F32:
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
		case F64:
			for i := range dst {
				dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
			}
		case F16:
			for i := range dst {
				dst[i] = Float16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		case BF16:
			for i := range dst {
				dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		}
	}
	return nil
}
