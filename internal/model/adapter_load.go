package model

import (
	"fmt"

	"github.com/sectorflow/sdk/internal/peft"
)

// AdapterFromPEFT converts a PEFT adapter read by internal/peft to the forward pass's Adapter.
func AdapterFromPEFT(a *peft.Adapter) *Adapter {
	out := &Adapter{Modules: make([]LoRAModule, 0, len(a.Modules))}
	for _, m := range a.Modules {
		out.Modules = append(out.Modules, LoRAModule{
			Layer: m.Layer, Module: m.Kind, Rank: m.Rank, A: m.A, B: m.B, Scale: float32(m.Scale),
		})
	}
	return out.sorted()
}

// LoadAdapter reads a PEFT LoRA adapter directory (adapter_config.json +
// adapter_model.safetensors), validates it against the model (every module a projection of this
// model with its widths, ranks as the config assigns them, targets present) and returns it ready
// for [Model.Logits] or [StaticLoRA].
func (m *Model) LoadAdapter(dir string) (*Adapter, error) {
	pa, err := peft.Load(dir)
	if err != nil {
		return nil, err
	}
	if m.Config != nil {
		if err := pa.Validate(m.Config); err != nil {
			return nil, fmt.Errorf("load adapter %s: %w", dir, err)
		}
	}
	a := AdapterFromPEFT(pa)
	if err := a.Check(m.Spec); err != nil {
		return nil, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	return a, nil
}
