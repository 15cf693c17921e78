package tuning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/peft"
	"github.com/sectorflow/sdk/internal/safetensors"
)

// Merge folds a PEFT LoRA adapter into its base model and writes a plain Hugging Face checkpoint
// to outDir: every adapted projection becomes W + scale * B A, computed in float32 (float64
// sums) and stored in the base tensor's own dtype; every other tensor is copied byte for byte,
// with the same names and the same shard layout. The other files of the model directory
// (config.json, tokenizer files, the shard index) are copied unchanged. The result loads in this
// SDK and in transformers without PEFT.
func Merge(ctx context.Context, modelDir, adapterDir, outDir string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("merge: internal failure: %v", r)
		}
	}()
	cfg, err := hfconfig.Load(modelDir)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	a, err := peft.Load(adapterDir)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := a.Validate(cfg); err != nil {
		return fmt.Errorf("merge: adapter %s does not fit model %s: %w", adapterDir, modelDir, err)
	}
	byWeight := map[string]*peft.Module{}
	for i := range a.Modules {
		byWeight[a.Modules[i].Name+".weight"] = &a.Modules[i]
	}
	ck, err := safetensors.OpenDir(modelDir)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	defer ck.Close()
	if same, _ := sameDir(modelDir, outDir); same {
		return fmt.Errorf("merge: the output directory %s is the model directory; expected a new directory", outDir)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	merged := 0
	for _, f := range ck.Files() {
		if err := ctx.Err(); err != nil {
			return err
		}
		var out []safetensors.Tensor
		for _, name := range f.Names() {
			info, _ := f.Info(name)
			m := byWeight[name]
			if m == nil {
				data, err := f.Bytes(name)
				if err != nil {
					return fmt.Errorf("merge: %w", err)
				}
				out = append(out, safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: data})
				continue
			}
			if len(info.Shape) != 2 || info.Shape[0] != m.Out || info.Shape[1] != m.In {
				return fmt.Errorf("merge: %s has shape %v, want [%d %d] for the adapter", name, info.Shape, m.Out, m.In)
			}
			w, err := f.Float32(name)
			if err != nil {
				return fmt.Errorf("merge: %w", err)
			}
			addLoRADelta(w, m.A, m.B, m.Rank, m.In, m.Out, m.Scale)
			t, err := safetensors.FromFloat32(name, info.DType, info.Shape, w)
			if err != nil {
				return fmt.Errorf("merge: %s: %w", name, err)
			}
			out = append(out, t)
			merged++
		}
		if err := safetensors.WriteFile(filepath.Join(outDir, filepath.Base(f.Path())), out, f.Metadata()); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	if merged != len(a.Modules) {
		return fmt.Errorf("merge: merged %d of the adapter's %d modules; the checkpoint lacks the others' weights", merged, len(a.Modules))
	}
	return copyModelFiles(modelDir, outDir)
}

// addLoRADelta adds scale * B[out, r] A[r, in] to w[out, in].
func addLoRADelta(w, a, b []float32, r, in, out int, scale float64) {
	row := make([]float64, in)
	for o := range out {
		clear(row)
		for k := range r {
			bk := float64(b[o*r+k])
			for i, av := range a[k*in : (k+1)*in] {
				row[i] += bk * float64(av)
			}
		}
		wr := w[o*in : (o+1)*in]
		for i := range wr {
			wr[i] = float32(float64(wr[i]) + scale*row[i])
		}
	}
}

// copyModelFiles copies every regular file of the model directory except the safetensors shards
// (already written) into outDir.
func copyModelFiles(modelDir, outDir string) error {
	entries, err := os.ReadDir(modelDir)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".safetensors") {
			continue
		}
		if err := copyFile(filepath.Join(modelDir, e.Name()), filepath.Join(outDir, e.Name())); err != nil {
			return fmt.Errorf("merge: copy %s: %w", e.Name(), err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeAtomic(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// sameDir reports whether two paths name the same existing directory.
func sameDir(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
