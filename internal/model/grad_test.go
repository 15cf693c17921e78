package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/internal/safetensors"
)

// TestLoRAGradientMatchesReference differentiates the next-token loss through the whole forward
// pass with respect to every LoRA A and B on the pure-Go backend (so nothing on the path may
// lack a gradient there) and compares with the float64 reference gradients.
func TestLoRAGradientMatchesReference(t *testing.T) {
	for _, name := range []string{"llama", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(modelsDir, name)
			m := loadModel(t, name)
			s := m.Spec
			adapter, err := m.LoadAdapter(filepath.Join(dir, "lora"))
			require.NoError(t, err)
			ids := readExpected(t, dir, "logits.json").IDs
			T := len(ids)
			targets := make([]int32, T)
			weights := make([]float32, T)
			for i := 0; i+1 < T; i++ {
				targets[i], weights[i] = ids[i+1], 1
			}
			mask := make([]bool, T*T)
			for q := range T {
				for k := 0; k <= q; k++ {
					mask[q*T+k] = true
				}
			}
			args := []any{
				tensors.FromFlatDataAndDimensions(ids, 1, T),
				tensors.FromFlatDataAndDimensions(seq(0, T), 1, T),
				tensors.FromFlatDataAndDimensions(mask, 1, T, T),
				tensors.FromFlatDataAndDimensions(targets, 1, T),
				tensors.FromFlatDataAndDimensions(weights, 1, T),
			}
			nw := len(m.weights)
			for _, w := range m.weights {
				args = append(args, w)
			}
			for _, x := range adapter.tensors(s) {
				args = append(args, x)
			}
			exec, err := graph.NewExec(m.backend, func(in []*graph.Node) []*graph.Node {
				w := s.WeightsFromNodes(in[5 : 5+nw])
				ab := in[5+nw:]
				out := s.Forward(w, Inputs{IDs: in[0], Positions: in[1], Mask: in[2], LoRA: StaticLoRA(adapter, ab)})
				logits := s.LMHead(w, out.Hidden) // [1, T, V]
				mx := graph.StopGradient(graph.ReduceAndKeep(logits, graph.ReduceMax, -1))
				lse := graph.Add(graph.Log(graph.ReduceSum(graph.Exp(graph.Sub(logits, mx)), -1)), graph.Squeeze(mx, -1))
				picked := graph.ReduceSum(graph.Mul(logits, graph.OneHot(in[3], s.VocabSize, dtypes.Float32)), -1)
				loss := graph.Div(graph.ReduceAllSum(graph.Mul(graph.Sub(lse, picked), in[4])), graph.ReduceAllSum(in[4]))
				return append([]*graph.Node{loss}, graph.Gradient(loss, ab...)...)
			})
			require.NoError(t, err)
			defer exec.Finalize()
			outs, err := exec.Exec(args...)
			require.NoError(t, err)

			var ref struct {
				Loss float64 `json:"loss"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "expected", "lora_grad.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &ref))
			loss := tensors.MustCopyFlatData[float32](outs[0])[0]
			require.InDelta(t, ref.Loss, loss, 1e-4*math.Abs(ref.Loss))

			grads, err := safetensors.Open(filepath.Join(dir, "expected", "lora_grad.safetensors"))
			require.NoError(t, err)
			defer grads.Close()
			worst := 0.0
			defer func() { t.Logf("loss %g (reference %g), worst relative gradient error %g", loss, ref.Loss, worst) }()
			for i, mod := range adapter.Modules {
				for j, ab := range []string{"A", "B"} {
					key := fmt.Sprintf("base_model.model.%s%s.lora_%s.weight", LayerPrefix(mod.Layer), ModulePath(mod.Module), ab)
					want, err := grads.Float32(key)
					require.NoError(t, err, key)
					got := tensors.MustCopyFlatData[float32](outs[1+2*i+j])
					var diff, norm float64
					for k := range want {
						diff += math.Pow(float64(got[k]-want[k]), 2)
						norm += math.Pow(float64(want[k]), 2)
					}
					rel := math.Sqrt(diff / norm)
					worst = math.Max(worst, rel)
					require.Less(t, rel, 1e-4, "%s: relative error %g", key, rel)
				}
			}
		})
	}
}
