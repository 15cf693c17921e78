//go:build cgo && !noxla && linux && amd64

package backend

import (
	"os"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// The XLA backend is compiled in; never let it download a plugin on its own. A GPU plugin's
// client gets the memory options of gpuClientOptions, and its float32 products are made exact
// (exactFloat32Env) unless the configuration asks for TF32.
func init() {
	xla.EnableAutoInstall(false)
	xlaCompiledIn = true
	startXLA = func(config string) (backends.Backend, error) {
		_, rest, _ := strings.Cut(config, ":")
		var opts pjrt.NamedValuesMap
		if plugin, _ := xlaPluginOf(config); isGPUPlugin(plugin) {
			o, err := gpuClientOptions(os.Getenv)
			if err != nil {
				return nil, err
			}
			opts = o
			for k, v := range exactFloat32Env(config, os.LookupEnv) {
				if err := os.Setenv(k, v); err != nil {
					return nil, err
				}
			}
		}
		return xla.NewWithOptions(rest, opts)
	}
}
