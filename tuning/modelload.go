package tuning

import (
	"github.com/sectorflow/sdk/internal/hfconfig"
	"github.com/sectorflow/sdk/internal/model"
)

// loadModel reads config.json and the safetensors checkpoint of a Hugging Face model directory.
func loadModel(dir string) (*model.Model, *hfconfig.Config, error) {
	return model.Load(dir, nil)
}
