package tuning

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/peft"
)

// peftKey is peft.Key under the name the gradient test uses.
func peftKey(module, ab string) string { return peft.Key(module, ab) }

// TestAdapterRoundTrip checks that what tuning writes through peft.Write carries the training
// settings into adapter_config.json and reads back bit for bit, through readAdapterWeights (resume)
// and through peft.Load (serving, merge).
func TestAdapterRoundTrip(t *testing.T) {
	d := dims{Layers: 2, Hidden: 8, Intermediate: 12, Heads: 2, KVHeads: 1, HeadDim: 4}
	for _, tc := range []struct {
		name      string
		targets   []string
		rslora    bool
		dropout   float64
		base      string
		wantScale float64
	}{
		{"plain", []string{"v_proj", "q_proj"}, false, 0, "", 1},
		{"rslora with dropout", []string{"all-linear"}, true, 0.05, "org/base-model", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newLoRASet(d, tc.targets, 4, 4, tc.rslora, 7)
			require.NoError(t, err)
			for i, m := range s.Modules {
				for j := range m.B {
					m.B[j] = float32(i+1) / float32(j+3)
				}
			}
			dir := filepath.Join(t.TempDir(), "adapter")
			require.NoError(t, writeAdapter(dir, s, tc.base, tc.dropout))

			raw, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
			require.NoError(t, err)
			var cfg map[string]any
			require.NoError(t, json.Unmarshal(raw, &cfg))
			require.Equal(t, tc.dropout, cfg["lora_dropout"])
			require.Equal(t, tc.rslora, cfg["use_rslora"])
			require.Equal(t, tc.base, cfg["base_model_name_or_path"])
			targets := make([]any, len(s.Targets))
			for i, tg := range s.Targets {
				targets[i] = tg
			}
			require.Equal(t, targets, cfg["target_modules"])
			for _, f := range []string{AdapterConfigFile, AdapterWeightsFile} {
				fi, err := os.Stat(filepath.Join(dir, f))
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), f)
			}

			back, err := newLoRASet(d, tc.targets, 4, 4, tc.rslora, 8)
			require.NoError(t, err)
			require.NoError(t, readAdapterWeights(filepath.Join(dir, AdapterWeightsFile), back))
			for i, m := range s.Modules {
				require.Equal(t, m.A, back.Modules[i].A, m.Name)
				require.Equal(t, m.B, back.Modules[i].B, m.Name)
			}

			a, err := peft.Load(dir)
			require.NoError(t, err)
			require.Len(t, a.Modules, len(s.Modules))
			for i, m := range s.Modules {
				got := a.Modules[i]
				require.Equal(t, [4]int{4, m.In, m.Out, m.Layer}, [4]int{got.Rank, got.In, got.Out, got.Layer}, m.Name)
				require.Equal(t, m.A, got.A, m.Name)
				require.Equal(t, m.B, got.B, m.Name)
				require.InDelta(t, tc.wantScale, got.Scale, 1e-12, m.Name)
			}
		})
	}
}

func TestWriteFileAtomicMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	require.NoError(t, writeFileAtomic(path, []byte("old")))
	require.NoError(t, writeFileAtomic(path, []byte("new")))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "new", string(got))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")
}
