// Package safetensors reads and writes tensors in the safetensors format used by Hugging Face
// checkpoints: an 8-byte little-endian header length, a JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {...}} and the raw
// little-endian tensor bytes.
//
// The header is validated strictly before any tensor is read (length cap, well-formed JSON,
// known dtypes, shapes whose byte size matches the declared offsets, offsets inside the file
// and not overlapping), so a truncated or malicious file yields an error naming the tensor and
// the problem. Tensor bytes are read on demand with ReadAt straight into the caller's buffer:
// loading a checkpoint never holds a second copy of the file in memory.
//
// Open reads one file; OpenDir reads a Hugging Face model directory, either model.safetensors
// or the shards listed in model.safetensors.index.json. WriteFile and WriteSharded write files
// that Python's safetensors, PEFT and transformers load.
package safetensors
