package tuning

import (
	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/model"
)

// loadModel reads config.json and the safetensors checkpoint of a Hugging Face model directory,
// in the precision named (already checked by Options.withDefaults).
func loadModel(dir, precision string) (*model.Model, *hfconfig.Config, error) {
	bf16, err := model.ParsePrecision(precision)
	if err != nil {
		return nil, nil, err
	}
	return model.Load(dir, &model.Options{BF16: bf16})
}
