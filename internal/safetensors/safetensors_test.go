package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

const fixtures = "../../testdata/models"

// rawFile builds a safetensors file from a literal header and data section.
func rawFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func writeTemp(t *testing.T, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.safetensors")
	require.NoError(t, os.WriteFile(p, content, 0o644))
	return p
}

// TestFixtureValues checks values read from the fixture checkpoints against values decoded
// independently (Python struct) from the same files.
func TestFixtureValues(t *testing.T) {
	tests := []struct {
		model, tensor string
		dtype         DType
		shape         []int
		first3        []float32
	}{
		{"llama", "model.embed_tokens.weight", F32, []int{512, 64}, []float32{-0.2814599573612213, -0.2880900502204895, -0.06264464557170868}},
		{"llama", "model.layers.1.self_attn.k_proj.weight", F32, []int{32, 64}, []float32{-0.020427143201231956, 0.28293392062187195, 0.13231663405895233}},
		{"llama", "model.norm.weight", F32, []int{64}, []float32{1.0804717540740967, 1.009547233581543, 1.1825902462005615}},
		{"llama_bf16", "model.embed_tokens.weight", BF16, []int{512, 64}, []float32{-0.28125, -0.2890625, -0.0625}},
		{"llama_bf16", "model.layers.1.self_attn.k_proj.weight", BF16, []int{32, 64}, []float32{-0.0203857421875, 0.283203125, 0.1318359375}},
		{"llama_bf16", "model.norm.weight", BF16, []int{64}, []float32{1.078125, 1.0078125, 1.1796875}},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.tensor, func(t *testing.T) {
			f, err := Open(filepath.Join(fixtures, tc.model, SingleFileName))
			require.NoError(t, err)
			defer f.Close()
			require.Len(t, f.Names(), 21)
			require.Equal(t, map[string]string{"format": "pt"}, f.Metadata())
			info, ok := f.Info(tc.tensor)
			require.True(t, ok)
			require.Equal(t, tc.dtype, info.DType)
			require.Equal(t, tc.shape, info.Shape)
			vals, err := f.Float32(tc.tensor)
			require.NoError(t, err)
			require.Len(t, vals, info.NumElements())
			require.Equal(t, tc.first3, vals[:3])
		})
	}
}

// TestBF16RoundingMatchesTorch: the bf16 fixture was made by torch's .to(bfloat16) from the
// f32 fixture, so rounding every f32 weight must give exactly the stored bf16 bits.
func TestBF16RoundingMatchesTorch(t *testing.T) {
	f32, err := OpenDir(filepath.Join(fixtures, "llama"))
	require.NoError(t, err)
	defer f32.Close()
	bf, err := OpenDir(filepath.Join(fixtures, "llama_bf16"))
	require.NoError(t, err)
	defer bf.Close()
	require.Equal(t, f32.Names(), bf.Names())
	for _, name := range f32.Names() {
		vals, err := f32.Float32(name)
		require.NoError(t, err)
		raw, err := bf.Bytes(name)
		require.NoError(t, err)
		for i, v := range vals {
			require.Equal(t, binary.LittleEndian.Uint16(raw[2*i:]), Float32ToBFloat16(v), "%s[%d]", name, i)
		}
	}
}

func TestConversions(t *testing.T) {
	f16 := []struct {
		bits uint16
		val  float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 1.0 / (1 << 24)}, {0x0400, 1.0 / (1 << 14)},
		{0x3555, 0.333251953125}, {0x0000, 0}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	}
	for _, tc := range f16 {
		require.Equal(t, tc.val, Float16ToFloat32(tc.bits), "%#04x", tc.bits)
		require.Equal(t, tc.bits, Float32ToFloat16(tc.val), "%v", tc.val)
	}
	require.True(t, math.IsNaN(float64(Float16ToFloat32(0x7e00))))
	require.Equal(t, uint16(0x7e00), Float32ToFloat16(float32(math.NaN())))
	// Rounding to nearest, ties to even.
	require.Equal(t, uint16(0x3c00), Float32ToFloat16(1+1.0/2048))  // tie -> even (down)
	require.Equal(t, uint16(0x3c02), Float32ToFloat16(1+3.0/2048))  // tie -> even (up)
	require.Equal(t, uint16(0x7c00), Float32ToFloat16(65520))       // rounds past max -> Inf
	require.Equal(t, uint16(0x0000), Float32ToFloat16(1.0/(1<<26))) // below half the smallest subnormal
	require.Equal(t, uint16(0x0000), Float32ToFloat16(0.5/(1<<24))) // subnormal tie -> even (0)
	require.Equal(t, uint16(0x0002), Float32ToFloat16(1.5/(1<<24))) // subnormal tie -> even (2)
	require.Equal(t, uint16(0x0002), Float32ToFloat16(2.5/(1<<24))) // subnormal tie -> even (2)
	require.Equal(t, uint16(0x3f80), Float32ToBFloat16(1))
	require.Equal(t, uint16(0x3f80), Float32ToBFloat16(1+1.0/256)) // tie -> even (down)
	require.Equal(t, uint16(0x3f82), Float32ToBFloat16(1+3.0/256)) // tie -> even (up)
	require.Equal(t, float32(-2), BFloat16ToFloat32(0xc000))
	require.True(t, math.IsNaN(float64(BFloat16ToFloat32(Float32ToBFloat16(float32(math.NaN()))))))
}

func TestBadFiles(t *testing.T) {
	eight := make([]byte, 8)
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"empty", nil, "want at least 8"},
		{"huge header length", func() []byte {
			b := make([]byte, 16)
			binary.LittleEndian.PutUint64(b, MaxHeaderSize+1)
			return b
		}(), "exceeds the"},
		{"truncated header", func() []byte {
			b := rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight)
			return b[:20]
		}(), "truncated"},
		{"truncated data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight[:4]), `tensor "a": data_offsets [0, 8] beyond the 4 byte data section`},
		{"size lies", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), `tensor "a": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12`},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, eight), `tensor "b": data_offsets [2, 6] overlap tensor "a" at [0, 4]`},
		{"same range twice", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), `overlap tensor "a"`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}`, eight), `tensor "a": dtype "Q4" is not supported`},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, eight), `tensor "a": negative dimension`},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, eight), `tensor "a": shape [4294967296 4294967296 4] overflows`},
		{"end before begin", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, eight), `end before begin`},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, eight), `has 3 values, want 2`},
		{"missing field", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, eight), `must have dtype, shape and data_offsets`},
		{"not json", rawFile(`{"a":`, eight), `tensor "a": entry is not a valid`},
		{"unterminated", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`, eight), "not well-formed JSON"},
		{"not an object", rawFile(`[1,2]`, eight), "must be a JSON object"},
		{"trailing garbage", rawFile(`{}   x`, eight), "after the header"},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `tensor "a" is declared twice`},
		{"bad metadata", rawFile(`{"__metadata__":{"k":1}}`, eight), "__metadata__ must be an object of strings"},
		{"wrong field type", rawFile(`{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`, eight), `tensor "a": entry is not a valid`},
		{"empty name", rawFile(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), "empty name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(writeTemp(t, tc.content))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestNewFileFromMemory(t *testing.T) {
	ten, err := FromFloat32("w", BF16, []int{2}, []float32{1, -2})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, []Tensor{ten}, nil))
	f, err := NewFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "mem")
	require.NoError(t, err)
	v, err := f.Float32("w")
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2}, v)
	require.NoError(t, f.Close())
	_, err = NewFile(bytes.NewReader(buf.Bytes()[:buf.Len()-1]), int64(buf.Len()-1), "mem")
	require.ErrorContains(t, err, `open safetensors mem: invalid safetensors: tensor "w": data_offsets [0, 4] beyond the 3 byte data section`)
}

func TestEdgeCasesAccepted(t *testing.T) {
	// Scalars, empty tensors, padding spaces and metadata are all valid.
	hdr := `{"__metadata__":{"format":"pt"},"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"e":{"dtype":"F16","shape":[0,3],"data_offsets":[8,8]}}   `
	data := make([]byte, 8)
	binary.LittleEndian.PutUint64(data, 42)
	f, err := Open(writeTemp(t, rawFile(hdr, data)))
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{"e", "s"}, f.Names())
	raw, err := f.Bytes("s")
	require.NoError(t, err)
	require.Equal(t, uint64(42), binary.LittleEndian.Uint64(raw))
	_, err = f.Float32("s")
	require.ErrorContains(t, err, "dtype is I64, want a float type")
	e, err := f.Float32("e")
	require.NoError(t, err)
	require.Empty(t, e)
	_, err = f.Float32("missing")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, f.ReadInto("s", make([]byte, 4)), "buffer of 4 bytes, want 8")
}

// TestWriteExactBytes pins the writer's output byte for byte against a hand-built file.
func TestWriteExactBytes(t *testing.T) {
	ten, err := FromFloat32("w", F32, []int{2}, []float32{1, -2})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, []Tensor{ten}, map[string]string{"format": "pt"}))
	hdr := `{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	want := rawFile(hdr, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0})
	require.Equal(t, want, buf.Bytes())
}

func TestWriteRoundTrip(t *testing.T) {
	vals := []float32{0, 1, -1.5, 3.25, 65504, 1e-3}
	var tensors []Tensor
	for _, dt := range []DType{F32, F16, BF16} {
		ten, err := FromFloat32("t_"+string(dt), dt, []int{2, 3}, vals)
		require.NoError(t, err)
		tensors = append(tensors, ten)
	}
	tensors = append(tensors, Tensor{Name: "ids", DType: I32, Shape: []int{2}, Data: []byte{1, 0, 0, 0, 2, 0, 0, 0}})
	p := filepath.Join(t.TempDir(), "rt.safetensors")
	require.NoError(t, WriteFile(p, tensors, nil))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	f, err := Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{"ids", "t_BF16", "t_F16", "t_F32"}, f.Names())
	want := map[DType][]float32{
		F32:  vals,
		F16:  {0, 1, -1.5, 3.25, 65504, 0.0010004043579101562},
		BF16: {0, 1, -1.5, 3.25, 65536, 0.00099945068359375},
	}
	for dt, w := range want {
		got, err := f.Float32("t_" + string(dt))
		require.NoError(t, err)
		require.Equal(t, w, got, string(dt))
		info, _ := f.Info("t_" + string(dt))
		require.Equal(t, []int{2, 3}, info.Shape)
	}
	raw, err := f.Bytes("ids")
	require.NoError(t, err)
	require.Equal(t, []byte{1, 0, 0, 0, 2, 0, 0, 0}, raw)
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		wantErr string
	}{
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, `tensor "a": 4 data bytes, but shape [2] of F32 needs 8`},
		{"duplicate", []Tensor{{Name: "a", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}, {Name: "a", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}}, `tensor "a" given twice`},
		{"bad dtype", []Tensor{{Name: "a", DType: "X", Shape: []int{1}, Data: make([]byte, 4)}}, `dtype "X" is not supported`},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: F32, Data: make([]byte, 4)}}, "reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, Write(&bytes.Buffer{}, tc.tensors, nil), tc.wantErr)
		})
	}
	_, err := FromFloat32("a", F32, []int{2, 2}, []float32{1})
	require.ErrorContains(t, err, "shape [2 2] needs 4 values, got 1")
	_, err = FromFloat32("a", I32, []int{1}, []float32{1})
	require.ErrorContains(t, err, `cannot encode float32 as "I32"`)
}

// writeShards writes a sharded checkpoint with the given tensor -> shard assignment and index.
func writeShards(t *testing.T, dir string, shards map[string][]Tensor, index map[string]string) {
	t.Helper()
	for name, tensors := range shards {
		require.NoError(t, WriteFile(filepath.Join(dir, name), tensors, nil))
	}
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": index})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFileName), b, 0o644))
}

func TestSharded(t *testing.T) {
	mk := func(name string, v float32) Tensor {
		ten, err := FromFloat32(name, F32, []int{1}, []float32{v})
		require.NoError(t, err)
		return ten
	}
	t.Run("ok", func(t *testing.T) {
		dir := t.TempDir()
		writeShards(t, dir, map[string][]Tensor{
			"model-00001-of-00002.safetensors": {mk("a", 1), mk("b", 2)},
			"model-00002-of-00002.safetensors": {mk("c", 3)},
		}, map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"})
		c, err := OpenDir(dir)
		require.NoError(t, err)
		defer c.Close()
		require.Equal(t, []string{"a", "b", "c"}, c.Names())
		require.Len(t, c.Files(), 2)
		v, err := c.Float32("c")
		require.NoError(t, err)
		require.Equal(t, []float32{3}, v)
		_, err = c.Bytes("zzz")
		require.ErrorIs(t, err, ErrNotFound)
	})
	bad := []struct {
		name    string
		shards  map[string][]Tensor
		index   map[string]string
		wantErr string
	}{
		{"index names wrong shard", map[string][]Tensor{"s1.safetensors": {mk("a", 1)}, "s2.safetensors": {mk("b", 1)}},
			map[string]string{"a": "s2.safetensors", "b": "s2.safetensors"}, `maps tensor "a" to s2.safetensors, which does not hold it`},
		{"tensor in two shards", map[string][]Tensor{"s1.safetensors": {mk("a", 1)}, "s2.safetensors": {mk("a", 1), mk("b", 1)}},
			map[string]string{"a": "s1.safetensors", "b": "s2.safetensors"}, `tensor "a" is in both`},
		{"path escape", map[string][]Tensor{"s1.safetensors": {mk("a", 1)}},
			map[string]string{"a": "../s1.safetensors"}, `want a file name in the model directory`},
		{"missing shard", map[string][]Tensor{"s1.safetensors": {mk("a", 1)}},
			map[string]string{"a": "s1.safetensors", "b": "s9.safetensors"}, `shard s9.safetensors`},
		{"empty index", map[string][]Tensor{}, map[string]string{}, "weight_map is empty"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShards(t, dir, tc.shards, tc.index)
			_, err := OpenDir(dir)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("no checkpoint", func(t *testing.T) {
		_, err := OpenDir(t.TempDir())
		require.True(t, errors.Is(err, ErrNotFound))
	})
}

// FuzzParseHeader: arbitrary headers must yield a validated header or an error, never a panic,
// and anything accepted must satisfy the invariants the reader relies on.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`), int64(16))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`), int64(8))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`), int64(8))
	f.Add([]byte(`{}`), int64(0))
	f.Fuzz(func(t *testing.T, header []byte, dataSize int64) {
		h, err := ParseHeader(header, dataSize)
		if err != nil {
			return
		}
		for name, ti := range h.Tensors {
			if ti.Begin < 0 || ti.End < ti.Begin || ti.End > dataSize {
				t.Fatalf("%s: accepted out of range offsets [%d, %d] for data size %d", name, ti.Begin, ti.End, dataSize)
			}
			if int64(ti.NumElements())*int64(ti.DType.Size()) != ti.ByteSize() {
				t.Fatalf("%s: accepted size mismatch", name)
			}
		}
	})
}

func TestWriteDir(t *testing.T) {
	mk := func(name string, n int) Tensor {
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(i)
		}
		ten, err := FromFloat32(name, F32, []int{n}, vals)
		require.NoError(t, err)
		return ten
	}
	tensors := []Tensor{mk("c", 4), mk("a", 2), mk("b", 2), mk("d", 1)} // 16, 8, 8, 4 bytes
	dir := t.TempDir()

	// 20-byte shards, name order: [a b] (16 bytes), [c d] (20 bytes).
	require.NoError(t, WriteDir(dir, tensors, map[string]string{"format": "pt"}, 20))
	require.NoFileExists(t, filepath.Join(dir, SingleFileName))
	data, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	require.NoError(t, err)
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	require.NoError(t, json.Unmarshal(data, &idx))
	require.Equal(t, int64(36), idx.Metadata["total_size"])
	require.Equal(t, map[string]string{
		"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
		"c": "model-00002-of-00002.safetensors", "d": "model-00002-of-00002.safetensors",
	}, idx.WeightMap)
	c, err := OpenDir(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, c.Names())
	v, err := c.Float32("c")
	require.NoError(t, err)
	require.Equal(t, []float32{0, 1, 2, 3}, v)
	require.NoError(t, c.Close())

	// Saving again in one file replaces the sharded layout.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644))
	require.NoError(t, WriteDir(dir, tensors, nil, 0))
	require.NoFileExists(t, filepath.Join(dir, IndexFileName))
	require.NoFileExists(t, filepath.Join(dir, "model-00001-of-00002.safetensors"))
	require.FileExists(t, filepath.Join(dir, "notes.txt"))
	c, err = OpenDir(dir)
	require.NoError(t, err)
	require.Len(t, c.Files(), 1)
	require.NoError(t, c.Close())

	// And back to shards, [a] [b] [c] [d]: the single file is removed.
	require.NoError(t, WriteDir(dir, tensors, nil, 8))
	require.NoFileExists(t, filepath.Join(dir, SingleFileName))
	c, err = OpenDir(dir)
	require.NoError(t, err)
	require.Len(t, c.Files(), 4)
	require.NoError(t, c.Close())
	require.NoError(t, WriteDir(dir, tensors, nil, 20))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", IndexFileName, "notes.txt"}, names)
}

// TestReadAllocatesOnce checks that reading a tensor allocates about its own size, not a
// second copy of the data (the checkpoint-loading memory budget).
func TestReadAllocatesOnce(t *testing.T) {
	const n = 1 << 20 // 4 MiB as f32, 2 MiB as bf16
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = float32(i % 1000)
	}
	var tensors []Tensor
	for _, dt := range []DType{F32, BF16} {
		ten, err := FromFloat32("t_"+string(dt), dt, []int{n}, vals)
		require.NoError(t, err)
		tensors = append(tensors, ten)
	}
	p := filepath.Join(t.TempDir(), "big.safetensors")
	require.NoError(t, WriteFile(p, tensors, nil))
	f, err := Open(p)
	require.NoError(t, err)
	defer f.Close()
	for _, dt := range []DType{F32, BF16} {
		allocated := allocatedBytes(func() {
			out, err := f.Float32("t_" + string(dt))
			require.NoError(t, err)
			require.Len(t, out, n)
		})
		// The float32 result is 4 MiB; allow the 1 MiB conversion chunk and small change.
		require.Less(t, allocated, uint64(4*n+chunkBytes+64<<10), string(dt))
	}
	buf := make([]byte, 4*n)
	require.Less(t, allocatedBytes(func() { require.NoError(t, f.ReadInto("t_F32", buf)) }), uint64(64<<10))
}

func allocatedBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func BenchmarkFloat32(b *testing.B) {
	const n = 1 << 20
	vals := make([]float32, n)
	var tensors []Tensor
	for _, dt := range []DType{F32, BF16, F16} {
		ten, err := FromFloat32("t_"+string(dt), dt, []int{n}, vals)
		require.NoError(b, err)
		tensors = append(tensors, ten)
	}
	p := filepath.Join(b.TempDir(), "bench.safetensors")
	require.NoError(b, WriteFile(p, tensors, nil))
	f, err := Open(p)
	require.NoError(b, err)
	defer f.Close()
	dst := make([]float32, n)
	for _, dt := range []DType{F32, BF16, F16} {
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(int64(n * dt.Size()))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Float32Into("t_"+string(dt), dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseIndex: a hostile model.safetensors.index.json yields an error or shard names that
// stay inside the model directory.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"/etc/passwd"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		shards, err := parseIndex(data, "index.json")
		if err != nil {
			return
		}
		for shard := range shards {
			if shard != filepath.Base(shard) || !filepath.IsLocal(shard) {
				t.Fatalf("accepted shard path %q", shard)
			}
		}
	})
}
