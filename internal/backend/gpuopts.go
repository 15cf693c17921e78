package backend

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// The GPU PJRT client's memory settings are read from JAX's environment variables, so that one
// setting serves a process that runs both (and users who know JAX know them already).
const (
	// EnvPreallocate: "false" (or "0") makes the GPU client grow its memory pool on demand
	// instead of reserving a large fraction of the card at start ("true"/"1": reserve; unset:
	// the plugin's default, which reserves).
	EnvPreallocate = "XLA_PYTHON_CLIENT_PREALLOCATE"
	// EnvMemFraction: the fraction of the card's memory the client may use, in (0, 1]
	// (unset: the plugin's default, 0.75).
	EnvMemFraction = "XLA_PYTHON_CLIENT_MEM_FRACTION"
	// EnvAllocator: "default" or "bfc" (a pooling allocator), "platform" (cudaMalloc and
	// cudaFree for each buffer: slow, but it holds only what is live), or "cuda_async".
	EnvAllocator = "XLA_PYTHON_CLIENT_ALLOCATOR"
)

// gpuAllocators are the allocator names the GPU PJRT plugin accepts.
var gpuAllocators = []string{"default", "bfc", "platform", "cuda_async"}

// isGPUPlugin tells whether an XLA plugin name or path (the part of "xla:<plugin>,<options>"
// before the first comma) is a GPU plugin, whose client takes the options gpuClientOptions
// makes. Other plugins (cpu) reject options they do not know, so they get none.
func isGPUPlugin(plugin string) bool {
	name := strings.ToLower(filepath.Base(plugin))
	return strings.Contains(name, "cuda") || strings.Contains(name, "rocm") || name == "gpu"
}

// gpuClientOptions returns the PJRT client-create options for a GPU plugin from the environment
// variables above (nil when none is set), or an error naming the variable, what it holds and
// what it should hold. The option names and types are those the XLA GPU plugin validates:
// preallocate (bool), memory_fraction (float32), allocator (string).
func gpuClientOptions(getenv func(string) string) (map[string]any, error) {
	opts := map[string]any{}
	if v := strings.TrimSpace(getenv(EnvPreallocate)); v != "" {
		switch strings.ToLower(v) {
		case "false", "0", "no", "off":
			opts["preallocate"] = false
		case "true", "1", "yes", "on":
			opts["preallocate"] = true
		default:
			return nil, fmt.Errorf("%s=%q: want true or false", EnvPreallocate, v)
		}
	}
	if v := strings.TrimSpace(getenv(EnvMemFraction)); v != "" {
		f, err := strconv.ParseFloat(v, 32)
		if err != nil || !(f > 0 && f <= 1) {
			return nil, fmt.Errorf("%s=%q: want a fraction of the GPU's memory in (0, 1], such as 0.9", EnvMemFraction, v)
		}
		opts["memory_fraction"] = float32(f)
	}
	if v := strings.TrimSpace(getenv(EnvAllocator)); v != "" {
		a := strings.ToLower(v)
		ok := false
		for _, name := range gpuAllocators {
			ok = ok || a == name
		}
		if !ok {
			return nil, fmt.Errorf("%s=%q: want one of %s", EnvAllocator, v, strings.Join(gpuAllocators, ", "))
		}
		opts["allocator"] = a
	}
	if len(opts) == 0 {
		return nil, nil
	}
	return opts, nil
}

// xlaPluginOf returns the plugin part of an XLA configuration ("xla:cuda,tf32" -> "cuda") and
// whether config names the XLA backend at all.
func xlaPluginOf(config string) (string, bool) {
	name, rest, _ := strings.Cut(config, ":")
	switch name {
	case "xla", "stablehlo", "hlo", "shlo":
		plugin, _, _ := strings.Cut(rest, ",")
		return plugin, true
	}
	return "", false
}

// The environment that makes XLA's float32 matrix products on NVIDIA GPUs exact float32.
// XLA runs a float32 dot of default precision as TF32 (10-bit mantissa) on Ampere and newer
// GPUs, in cuBLAS and in its own Triton GEMMs; the logits then differ from a float32 reference
// by about 1e-2 instead of 1e-5 (measured on an H200 with the fixtures). PyTorch's default is
// exact float32 too. "xla:cuda,tf32" asks for TF32 instead (faster, less exact).
const (
	// EnvTF32Override is read by cuBLAS: "0" forbids TF32 in every cuBLAS call of the process.
	EnvTF32Override = "NVIDIA_TF32_OVERRIDE"
	// EnvXLAFlags holds XLA's debug options; tritonGEMMOff keeps float32 GEMMs in cuBLAS.
	EnvXLAFlags   = "XLA_FLAGS"
	tritonGEMMOff = "--xla_gpu_enable_triton_gemm=false"
)

// hasPluginOption tells whether an XLA configuration ("xla:cuda,tf32") carries option opt.
func hasPluginOption(config, opt string) bool {
	_, rest, _ := strings.Cut(config, ":")
	parts := strings.Split(rest, ",")
	for _, p := range parts[1:] {
		if p == opt {
			return true
		}
	}
	return false
}

// exactFloat32Env returns the environment changes (name -> new value) that make a CUDA
// plugin's float32 products exact, given the current environment; nil when config asks for
// TF32 ("xla:cuda,tf32") or the user has already chosen (NVIDIA_TF32_OVERRIDE set, XLA_FLAGS
// naming xla_gpu_enable_triton_gemm). It must be applied before the plugin is loaded.
func exactFloat32Env(config string, lookup func(string) (string, bool)) map[string]string {
	if hasPluginOption(config, "tf32") {
		return nil
	}
	set := map[string]string{}
	if _, ok := lookup(EnvTF32Override); !ok {
		set[EnvTF32Override] = "0"
	}
	flags, _ := lookup(EnvXLAFlags)
	if !strings.Contains(flags, "xla_gpu_enable_triton_gemm") {
		set[EnvXLAFlags] = strings.TrimSpace(flags + " " + tritonGEMMOff)
	}
	if len(set) == 0 {
		return nil
	}
	return set
}

// libdevice is the file XLA needs from CUDA's data directory to compile GPU kernels.
const libdevice = "nvvm/libdevice/libdevice.10.bc"

// EnvCUDAChecks is go-xla's switch for its CUDA checks. After loading a CUDA plugin that has an
// nvidia/ directory two levels up (JAX's layout), go-xla v0.1.4 sets
// --xla_gpu_cuda_data_dir to a path of its author's machine unless XLA_FLAGS already names
// one; "0" turns that off.
const EnvCUDAChecks = "GOPJRT_CUDA_CHECKS"

// cudaDataDirEnv returns the environment changes that give XLA a CUDA data directory (the one
// holding nvvm/libdevice) before a CUDA plugin at pluginPath loads: unless XLA_FLAGS already
// names --xla_gpu_cuda_data_dir, the first of $CUDA_HOME, $CUDA_PATH, the pip packages beside
// the plugin (site-packages/nvidia/cu13, cu12, cuda_nvcc) and /usr/local/cuda that holds
// libdevice is appended to XLA_FLAGS. When none does, go-xla's own guess is turned off
// (GOPJRT_CUDA_CHECKS=0, unless set) so that XLA searches its defaults. exists reports whether a
// file exists; flags is XLA_FLAGS as it will be (after exactFloat32Env).
func cudaDataDirEnv(pluginPath, flags string, lookup func(string) (string, bool), exists func(string) bool) map[string]string {
	if strings.Contains(flags, "xla_gpu_cuda_data_dir") {
		return nil
	}
	var dirs []string
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if d, ok := lookup(v); ok && d != "" {
			dirs = append(dirs, d)
		}
	}
	if pluginPath != "" {
		site := filepath.Dir(filepath.Dir(filepath.Dir(pluginPath))) // site-packages/jax_plugins/xla_cudaNN/x.so
		for _, sub := range []string{"cu13", "cu12", "cuda_nvcc"} {
			dirs = append(dirs, filepath.Join(site, "nvidia", sub))
		}
	}
	dirs = append(dirs, "/usr/local/cuda")
	for _, d := range dirs {
		if exists(filepath.Join(d, libdevice)) {
			return map[string]string{EnvXLAFlags: strings.TrimSpace(flags + " --xla_gpu_cuda_data_dir=" + d)}
		}
	}
	if _, ok := lookup(EnvCUDAChecks); ok {
		return nil
	}
	return map[string]string{EnvCUDAChecks: "0"}
}
