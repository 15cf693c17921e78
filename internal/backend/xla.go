//go:build cgo && !noxla && linux && amd64

package backend

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// The XLA backend is compiled in; never let it download a plugin on its own. A GPU plugin's
// client gets the memory options of gpuClientOptions; a CUDA plugin's float32 products are
// made exact (exactFloat32Env) unless the configuration asks for TF32, and it is told where
// CUDA's libdevice is (cudaDataDirEnv).
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
			if strings.Contains(strings.ToLower(plugin), "cuda") {
				if err := setEnv(exactFloat32Env(config, os.LookupEnv)); err != nil {
					return nil, err
				}
				if err := setEnv(cudaDataDirEnv(pluginPath(plugin), os.Getenv(EnvXLAFlags), os.LookupEnv, fileExists)); err != nil {
					return nil, err
				}
			}
		}
		return xla.NewWithOptions(rest, opts)
	}
}

func setEnv(vars map[string]string) error {
	for k, v := range vars {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pluginPath returns the real path of an XLA plugin given by name ("cuda": searched as go-xla
// does) or by path, with symbolic links resolved ("" when not found).
func pluginPath(plugin string) string {
	p := plugin
	if !filepath.IsAbs(p) {
		p = ""
		for _, found := range FindPlugins(SearchPaths()) {
			if found.Name == plugin {
				p = found.Path
				break
			}
		}
	}
	if p == "" {
		return ""
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	return p
}
